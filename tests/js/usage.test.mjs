// Usage and cost, budgets and spike alerts, the response cache, batching, client-side rate
// limiting and routing by difficulty, end to end: the package as users import it against the
// fixture server. Each test asserts what the caller saw (records, totals, errors) and what the
// server received.

import { describe, test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";

import { InferenceClient, InferenceError } from "hf-inference-wasm";
import { startFixtureServer, settle, waitFor, simulate } from "./helpers.mjs";

const T = { timeout: 20_000 };
const MODEL = "fixture/chat-simulator";
const ask = (content, extra = {}) => ({ model: MODEL, messages: [{ role: "user", content }], ...extra });

let fx;
before(async () => {
  fx = await startFixtureServer({ port: 0 });
});
after(async () => {
  await fx?.close();
});
beforeEach(() => fx.reset());

const chats = () => fx.requests.filter((r) => r.path.endsWith("/chat/completions"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("usage", () => {
  test("a non-stream completion reports the server's usage, latencies, route and attempts", T, async () => {
    const records = [];
    const client = new InferenceClient({ endpointUrl: fx.url, onUsage: (r) => records.push(r) });
    const c = await client.chatCompletion(ask("hello there"));
    assert.equal(records.length, 1);
    const [r] = records;
    const want = simulate(ask("hello there")).usage;
    assert.deepEqual(r.usage, { promptTokens: want.prompt_tokens, completionTokens: want.completion_tokens, totalTokens: want.total_tokens });
    assert.equal(c.usage.total_tokens, want.total_tokens);
    assert.equal(r.outcome, "completed");
    assert.equal(r.attempts, 1);
    assert.equal(r.seq, 1);
    assert.equal(r.cacheHit, false);
    assert.equal(r.model, MODEL);
    assert.equal(r.costUsd, undefined, "no price, no cost (never NaN)");
    assert.ok(r.latency.headersMs >= 0 && r.latency.totalMs >= r.latency.headersMs);
  });

  test("a stream reports the usage of its final chunk; per-call onUsage fires after the client's", T, async () => {
    const order = [];
    const client = new InferenceClient({ endpointUrl: fx.url, onUsage: () => order.push("client") });
    let rec;
    const s = client.chatCompletionStream(ask("stream me"), { onUsage: (r) => (order.push("call"), (rec = r)) });
    await s.text();
    assert.deepEqual(order, ["client", "call"]);
    const want = simulate(ask("stream me")).usage;
    assert.equal(rec.usage.totalTokens, want.total_tokens);
    assert.ok(rec.latency.firstTokenMs >= rec.latency.headersMs);
  });

  test("missing usage stays undefined; with estimateUsage it is estimated and marked", T, async () => {
    const plain = [];
    await new InferenceClient({ endpointUrl: `${fx.url}/script/no-usage`, onUsage: (r) => plain.push(r) }).chatCompletionStream(ask("x")).text();
    assert.equal(plain[0].usage, undefined);
    const est = [];
    await new InferenceClient({ endpointUrl: `${fx.url}/script/no-usage`, estimateUsage: true, onUsage: (r) => est.push(r) }).chatCompletionStream(ask("x")).text();
    assert.equal(est[0].usage.estimated, true);
    assert.ok(est[0].usage.promptTokens > 0 && est[0].usage.completionTokens > 0);
    assert.equal(est[0].usage.totalTokens, est[0].usage.promptTokens + est[0].usage.completionTokens);
  });

  test("an aborted stream and a failed call are recorded too", T, async () => {
    const records = [];
    const client = new InferenceClient({ endpointUrl: `${fx.url}/pace/50`, onUsage: (r) => records.push(r), retry: { maxRetries: 0 } });
    const s = client.chatCompletionStream(ask("abort me please"));
    for await (const _ of s) {
      s.abort();
    }
    const bad = new InferenceClient({ endpointUrl: `${fx.url}/status/400`, onUsage: (r) => records.push(r) });
    await settle(() => bad.chatCompletion(ask("x")));
    assert.deepEqual(records.map((r) => r.outcome), ["aborted", "failed:http"]);
  });

  test("cost from loadPricing (the router's /v1/models), by the provider that served it", T, async () => {
    const client = new InferenceClient({ endpointUrl: fx.url, prices: { [`${MODEL}:groq`]: { input: 1, output: 2 } } });
    const n = await client.loadPricing();
    assert.ok(n >= 3, `prices known: ${n}`);
    const records = [];
    await client.chatCompletion(ask("price me", { model: `${MODEL}:together` }), { onUsage: (r) => records.push(r) });
    await client.chatCompletion(ask("price me", { model: `${MODEL}:groq` }), { onUsage: (r) => records.push(r) });
    const [t, g] = records;
    assert.equal(t.provider, "together");
    assert.equal(t.priceKey, `${MODEL}:together`);
    assert.ok(Math.abs(t.costUsd - (t.usage.totalTokens * 0.88) / 1e6) < 1e-12, `${t.costUsd}`);
    // The caller's price wins over the loaded one.
    assert.ok(Math.abs(g.costUsd - (g.usage.promptTokens * 1 + g.usage.completionTokens * 2) / 1e6) < 1e-12);
    const u = client.usage();
    assert.equal(u.total.requests, 2);
    assert.ok(Math.abs(u.total.costUsd - (t.costUsd + g.costUsd)) < 1e-12);
    assert.equal(u.byProvider.together.requests, 1);
    assert.equal(u.byModel[MODEL].requests, 2);
    assert.equal(u.recent.length, 2);
  });
});

describe("budgets and spikes", () => {
  test("over the token budget, calls fail fast with kind budget and nothing is sent", T, async () => {
    const alerts = [];
    const client = new InferenceClient({ endpointUrl: fx.url, budget: { tokens: 10, windowMs: 60_000 }, onBudget: (a) => alerts.push(a) });
    await client.chatCompletion(ask("first"));
    const sent = chats().length;
    const r = await settle(() => client.chatCompletion(ask("second")));
    assert.ok(r.error instanceof InferenceError);
    assert.equal(r.error.kind, "budget");
    assert.match(r.error.message, /budget/i);
    assert.equal(chats().length, sent, "the second call was not sent");
    const s = await settle(() => client.chatCompletionStream(ask("third")).text());
    assert.equal(s.error.kind, "budget");
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].metric, "tokens");
    assert.equal(client.usage().budget.exceeded, true);
  });

  test("a USD budget stops calls once the priced spend reaches it", T, async () => {
    const client = new InferenceClient({ endpointUrl: fx.url, prices: { [MODEL]: { input: 1000, output: 1000 } }, budget: { usd: 0.01 } });
    await client.chatCompletion(ask("expensive"));
    const r = await settle(() => client.chatCompletion(ask("again")));
    assert.equal(r.error.kind, "budget");
    assert.equal(r.error.code, "budget_usd");
  });

  test("onSpike fires once when tokens in the recent window jump over the baseline", T, async () => {
    const spikes = [];
    const client = new InferenceClient({
      endpointUrl: fx.url,
      spike: { recentMs: 400, baselineMs: 4_000, factor: 3, minBaselineRequests: 4, minRecentRequests: 2 },
      onSpike: (a) => spikes.push(a),
    });
    for (let i = 0; i < 6; i++) {
      await client.chatCompletion(ask(`steady ${i}`));
      await sleep(200);
    }
    await sleep(450);
    assert.equal(spikes.length, 0, "steady traffic does not spike");
    await Promise.all(Array.from({ length: 8 }, (_, i) => client.chatCompletion(ask(`burst ${i}`))));
    assert.equal(spikes.length, 1, `one alert per episode: ${JSON.stringify(spikes)}`);
    assert.ok(spikes[0].ratio > 3);
    assert.equal(typeof spikes[0].message, "string");
    assert.equal(client.usage().spiking, true);
  });
});

describe("cache", () => {
  test("temperature 0 is cached: the second call is a hit at zero cost, nothing sent; key order does not matter", T, async () => {
    const records = [];
    const client = new InferenceClient({ endpointUrl: fx.url, cache: true, prices: { [MODEL]: { input: 1, output: 1 } }, onUsage: (r) => records.push(r) });
    const a = await client.chatCompletion({ model: MODEL, temperature: 0, messages: [{ role: "user", content: "cache me" }] });
    const b = await client.chatCompletion({ messages: [{ content: "cache me", role: "user" }], temperature: 0, model: MODEL });
    assert.equal(chats().length, 1);
    assert.equal(b.cached, true);
    assert.equal(b.choices[0].message.content, a.choices[0].message.content);
    assert.deepEqual(records.map((r) => [r.cacheHit, r.costUsd === 0, r.attempts]), [[false, false, 1], [true, true, 0]]);
    assert.equal(client.usage().total.cacheHits, 1);
  });

  test("sampling (temperature > 0 or unset) is not cached unless forced; cache: false skips it", T, async () => {
    const client = new InferenceClient({ endpointUrl: fx.url, cache: "auto" });
    await client.chatCompletion(ask("warm", { temperature: 0.7 }));
    await client.chatCompletion(ask("warm", { temperature: 0.7 }));
    assert.equal(chats().length, 2);
    await client.chatCompletion(ask("forced", { temperature: 0.7 }), { cache: "force" });
    await client.chatCompletion(ask("forced", { temperature: 0.7 }), { cache: "force" });
    assert.equal(chats().length, 3);
    await client.chatCompletion(ask("cold", { temperature: 0 }));
    await client.chatCompletion(ask("cold", { temperature: 0 }), { cache: false });
    assert.equal(chats().length, 5);
  });

  test("entries expire after ttlMs; errors are never stored", T, async () => {
    const client = new InferenceClient({ endpointUrl: fx.url, cache: { ttlMs: 150 } });
    await client.chatCompletion(ask("short lived", { temperature: 0 }));
    await client.chatCompletion(ask("short lived", { temperature: 0 }));
    assert.equal(chats().length, 1);
    await sleep(200);
    await client.chatCompletion(ask("short lived", { temperature: 0 }));
    assert.equal(chats().length, 2, "expired");
    const bad = new InferenceClient({ endpointUrl: `${fx.url}/status/500`, cache: true, retry: { maxRetries: 0 } });
    await settle(() => bad.chatCompletion(ask("x", { temperature: 0 })));
    await settle(() => bad.chatCompletion(ask("x", { temperature: 0 })));
    assert.equal(fx.requests.filter((r) => r.path.startsWith("/status/500")).length, 2);
  });

  test("opt-in stream caching replays the stream, chunk events and all", T, async () => {
    const client = new InferenceClient({ endpointUrl: fx.url, cache: { streams: true } });
    const first = await client.chatCompletionStream(ask("replay", { temperature: 0 })).text();
    let chunks = 0;
    let text = "";
    for await (const c of client.chatCompletionStream(ask("replay", { temperature: 0 }))) {
      chunks++;
      text += c.choices[0]?.delta?.content ?? "";
    }
    assert.equal(text, first);
    assert.ok(chunks >= 2);
    assert.equal(chats().length, 1);
  });

  test("a pluggable store gets and puts by id", T, async () => {
    const map = new Map();
    const store = { get: async (id) => map.get(id), put: async (id, v) => void map.set(id, v) };
    const client = new InferenceClient({ endpointUrl: fx.url, cache: { store } });
    await client.chatCompletion(ask("stored", { temperature: 0 }));
    await waitFor(() => map.size === 1, { message: "store.put" });
    const [id] = map.keys();
    assert.match(id, /^[0-9a-f]{16}$/);
    const b = await client.chatCompletion(ask("stored", { temperature: 0 }));
    assert.equal(b.cached, true);
    assert.equal(chats().length, 1);
  });

  test("a pluggable store that never answers is a miss after the headers timeout: the call goes out", T, async () => {
    const store = { get: () => new Promise(() => {}), put: async () => {} };
    const client = new InferenceClient({ endpointUrl: fx.url, cache: { store }, timeouts: { headers: 300 } });
    const t0 = Date.now();
    const a = await client.chatCompletion(ask("hung store", { temperature: 0 }));
    assert.match(a.choices[0].message.content, /hung store/);
    assert.ok(Date.now() - t0 >= 250, "the store was given its time");
    assert.equal(chats().length, 1);
  });

  test("a pluggable store that throws is a miss, not an error: the call goes out", T, async () => {
    const store = {
      get: () => {
        throw new Error("store down");
      },
      put: async () => Promise.reject(new Error("store down")),
    };
    const client = new InferenceClient({ endpointUrl: fx.url, cache: { store } });
    const a = await client.chatCompletion(ask("no store", { temperature: 0 }));
    const b = await client.chatCompletion(ask("no store", { temperature: 0 }));
    assert.equal(a.cached, undefined);
    assert.equal(b.cached, undefined);
    assert.equal(chats().length, 2);
  });
});

describe("batch", () => {
  test("20 requests, 4 at a time, results in order, a failure does not fail the others", T, async () => {
    const client = new InferenceClient({ endpointUrl: fx.url, retry: { maxRetries: 0 } });
    const requests = Array.from({ length: 20 }, (_, i) => (i === 7 ? { messages: [] } : ask(`q${i}`)));
    const seen = [];
    const results = await client.batch(requests, { concurrency: 4, onResult: (_r, i) => seen.push(i) });
    assert.equal(results.length, 20);
    results.forEach((r, i) => {
      if (i === 7) {
        assert.equal(r.ok, false);
        assert.ok(r.error instanceof InferenceError);
      } else {
        assert.equal(r.ok, true, `#${i}: ${r.error}`);
        assert.match(r.value.choices[0].message.content, new RegExp(`q${i}\\b`));
      }
    });
    assert.equal(seen.length, 20);
    // #7 was refused before sending (an input error): nothing to meter.
    assert.equal(client.usage().total.requests, 19);
  });

  test("the concurrency bound holds, and aborting the batch cancels running and pending requests", T, async () => {
    const client = new InferenceClient({ endpointUrl: `${fx.url}/fault/slow-headers/400` });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const results = await client.batch(Array.from({ length: 10 }, (_, i) => ask(`slow ${i}`)), { concurrency: 2, signal: ac.signal });
    assert.ok(results.every((r) => !r.ok && r.error.kind === "aborted"), JSON.stringify(results.map((r) => r.ok)));
    assert.ok(chats().length <= 2, `at most 2 sent: ${chats().length}`);
  });
});

describe("client-side rate limiting", () => {
  test("a full queue rejects at once with kind rate_limited; the admitted calls go in order", T, async () => {
    const client = new InferenceClient({ endpointUrl: `${fx.url}/pace/30`, rateLimit: { maxConcurrent: 1, maxQueue: 1 } });
    const a = client.chatCompletion(ask("one"));
    const b = client.chatCompletion(ask("two"));
    const c = await settle(() => client.chatCompletion(ask("three")));
    assert.equal(c.error.kind, "rate_limited");
    assert.equal(c.error.code, "queue_full");
    const [ra, rb] = await Promise.all([a, b]);
    assert.match(ra.choices[0].message.content, /one/);
    assert.match(rb.choices[0].message.content, /two/);
    const [first, second] = chats();
    assert.ok(second.receivedAt >= first.closedAt - 5, "the second waited for the first to finish");
  });

  test("a queued call ends as aborted when its signal fires, and gives its place back", T, async () => {
    // Each answer takes 300 ms: the second call is still queued when it is aborted.
    const client = new InferenceClient({ endpointUrl: `${fx.url}/fault/slow-headers/300`, rateLimit: { maxConcurrent: 1, maxQueue: 2 } });
    const a = client.chatCompletion(ask("first"));
    const ac = new AbortController();
    const b = settle(() => client.chatCompletion(ask("second"), { signal: ac.signal }));
    const c = client.chatCompletion(ask("third"));
    await sleep(20);
    const t0 = Date.now();
    ac.abort();
    const rb = await b;
    assert.equal(rb.error?.kind, "aborted", String(rb.error));
    assert.ok(Date.now() - t0 < 1_000, "the abort ends the wait at once");
    const [ra, rc] = await Promise.all([a, c]);
    assert.match(ra.choices[0].message.content, /first/);
    assert.match(rc.choices[0].message.content, /third/);
    // The aborted call never reached the server.
    assert.deepEqual(
      chats().map((r) => JSON.parse(r.body).messages[0].content),
      ["first", "third"],
    );
  });

  test("a stream waits in the queue like a completion", T, async () => {
    const client = new InferenceClient({ endpointUrl: `${fx.url}/fault/slow-headers/200`, rateLimit: { maxConcurrent: 1 } });
    const a = client.chatCompletion(ask("before"));
    const stream = client.chatCompletionStream(ask("streamed"));
    const text = await stream.text();
    await a;
    assert.match(text, /streamed/);
    const [first, second] = chats();
    assert.ok(second.receivedAt >= first.closedAt - 5, "the stream waited for the completion to finish");
  });

  test("requestsPerMinute spaces calls out", T, async () => {
    const client = new InferenceClient({ endpointUrl: fx.url, rateLimit: { requestsPerMinute: 600 } });
    // A bucket holds a minute's quota: 600 at once, then one per 100 ms.
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 3 }, (_, i) => client.chatCompletion(ask(`r${i}`))));
    assert.ok(Date.now() - t0 < 2_000);
  });

  test("a 429's Retry-After pauses that upstream: the next queued call waits instead of stampeding", T, async () => {
    const sent = [];
    let n = 0;
    const fetch429 = (url, init) => {
      sent.push(Date.now());
      if (n++ === 0) return Promise.resolve(new Response(JSON.stringify({ error: { message: "slow down" } }), { status: 429, headers: { "retry-after": "1", "content-type": "application/json" } }));
      return fetch(url, init);
    };
    const client = new InferenceClient({ endpointUrl: fx.url, fetch: fetch429, retry: { maxRetries: 0 }, rateLimit: { maxConcurrent: 4 } });
    const r1 = await settle(() => client.chatCompletion(ask("a", { model: `${MODEL}:together` })));
    assert.equal(r1.error.status, 429);
    await client.chatCompletion(ask("b", { model: `${MODEL}:together` }));
    assert.equal(sent.length, 2);
    assert.ok(sent[1] - sent[0] >= 900, `waited ${sent[1] - sent[0]} ms`);
  });

  test("bad rateLimit options are input errors naming the option", () => {
    assert.throws(() => new InferenceClient({ rateLimit: { maxConcurrent: 0 } }), (e) => e.kind === "input" && /rateLimit.maxConcurrent/.test(e.message));
    assert.throws(() => new InferenceClient({ rateLimit: { requestsPerMinute: "ten" } }), /rateLimit.requestsPerMinute/);
  });
});

describe("routing by difficulty", () => {
  const route = [
    { when: { tools: true }, model: "fixture/tools-model" },
    { when: { tier: "premium" }, model: "fixture/big-model", provider: "together" },
    { when: { maxPromptTokens: 50 }, model: "fixture/small-model" },
    { model: "fixture/big-model" },
  ];

  test("the first matching rule picks the model, and is reported with the usage", T, async () => {
    const records = [];
    const client = new InferenceClient({ endpointUrl: fx.url, route, onUsage: (r) => records.push(r) });
    await client.chatCompletion({ messages: [{ role: "user", content: "short" }] });
    await client.chatCompletion({ messages: [{ role: "user", content: "long ".repeat(200) }] });
    await client.chatCompletion({ messages: [{ role: "user", content: "short" }] }, { tier: "premium" });
    await client.chatCompletion({ messages: [{ role: "user", content: "x" }], tools: [{ type: "function", function: { name: "f", parameters: {} } }] });
    await client.chatCompletion({ model: "explicit/model", messages: [{ role: "user", content: "x" }] });
    assert.deepEqual(
      chats().map((r) => JSON.parse(r.body).model),
      ["fixture/small-model", "fixture/big-model", "fixture/big-model:together", "fixture/tools-model", "explicit/model"],
    );
    assert.deepEqual(records.map((r) => r.rule?.index), [2, 3, 1, 0, undefined]);
  });

  test("a bad rule is an input error naming its index and field", () => {
    assert.throws(() => new InferenceClient({ route: [{ when: { maxPromptToken: 5 }, model: "a/b" }] }), (e) => e.kind === "input" && /route\[0\]/.test(e.message));
    assert.throws(() => new InferenceClient({ route: [{ model: "a/b" }, { when: { tools: true }, model: "c/d" }] }), (e) => e.kind === "input" && /route/.test(e.message));
  });
});
