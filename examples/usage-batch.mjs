// Usage and cost for a batch of 20 requests against the local fixture server (the router's
// stand-in): prices loaded from its /v1/models, easy prompts routed to a small model and long
// ones to a big one, a response cache, and a per-request table plus running totals.
//
//   node examples/usage-batch.mjs        (after `make pkg`; needs nothing else, no token)

import { InferenceClient } from "hf-inference-wasm";
import { startFixtureServer } from "../tests/fixture-server/server.mjs";

const fx = await startFixtureServer({ port: 0 });
try {
  const client = new InferenceClient({
    endpointUrl: fx.url,
    // Easy prompts to a cheap provider, the rest to a pricier one; the model is the same
    // simulator here, so the providers' prices are what differs.
    route: [
      { when: { maxPromptTokens: 30 }, model: "fixture/chat-simulator", provider: "groq" },
      { model: "fixture/chat-simulator", provider: "together" },
    ],
    cache: true,
    budget: { usd: 1, windowMs: 60_000 },
    onSpike: (a) => console.log(`spike: ${a.message}`),
  });
  const prices = await client.loadPricing();

  const prompts = Array.from({ length: 20 }, (_, i) =>
    i % 5 === 4
      ? `Request ${i}: explain, step by step and with examples, how a token bucket rate limiter works and why it needs a bounded queue ${"in detail ".repeat(10)}`
      : `Request ${i % 10}: a short question`,
  );
  const rows = [];
  const results = await client.batch(
    prompts.map((content) => ({ messages: [{ role: "user", content }], temperature: 0, max_tokens: 64 })),
    { concurrency: 4, onUsage: (r) => rows.push(r) },
  );

  const pad = (s, n) => String(s ?? "").padEnd(n);
  const num = (v, n) => String(v ?? "–").padStart(n);
  const usd = (v) => (v === undefined ? "–" : `$${v.toFixed(6)}`).padStart(11);
  console.log(`prices loaded: ${prices}\n`);
  console.log(`${pad("#", 3)} ${pad("route (model:provider)", 36)} ${pad("rule", 4)} ${num("prompt", 6)} ${num("compl", 6)} ${usd(undefined).replace("–", "cost")} ${num("hdr ms", 7)} ${num("1st ms", 7)} ${num("tot ms", 7)} cache`);
  for (const r of rows.sort((a, b) => a.seq - b.seq)) {
    console.log(
      `${pad(r.seq, 3)} ${pad(r.model, 36)} ${pad(r.rule?.index, 4)} ${num(r.usage?.promptTokens, 6)} ${num(r.usage?.completionTokens, 6)} ${usd(r.costUsd)} ${num(r.latency.headersMs, 7)} ${num(r.latency.firstTokenMs, 7)} ${num(r.latency.totalMs, 7)} ${r.cacheHit ? "hit" : ""}`,
    );
  }
  const u = client.usage();
  console.log(`\n${results.filter((r) => r.ok).length}/${results.length} succeeded`);
  console.log(`totals: ${u.total.requests} requests, ${u.total.cacheHits} cache hits, ${u.total.promptTokens} prompt + ${u.total.completionTokens} completion tokens, $${u.total.costUsd.toFixed(6)}`);
  for (const [p, t] of Object.entries(u.byProvider)) console.log(`  ${pad(p, 10)} ${num(t.requests, 3)} requests  $${t.costUsd.toFixed(6)}`);
  console.log(`budget: $${u.budget.usdSpent.toFixed(6)} of $${u.budget.usdLimit} in the last ${u.budget.windowMs / 1000} s`);
} finally {
  await fx.close();
}
