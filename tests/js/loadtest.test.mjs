// `hf-inference-wasm/loadtest` and the `hf-inference-wasm loadtest` command, against loopback
// servers whose timing is known (tests/fixture-server/load-server.mjs): the measured TTFT,
// inter-token latency, tokens/s and the breaking point must match what the server was told
// to do. The tolerances are for a shared 2-core machine: each bound is stated where it is
// checked, and none is a speed requirement (the lower bounds are the server's own delays,
// the upper bounds leave room for scheduling noise).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { InferenceError } from "hf-inference-wasm";
import { createProxy } from "hf-inference-wasm/proxy";
import { serveNode } from "hf-inference-wasm/node";
import { loadTest, planLoadTest, estimateCost, findBreakingPoint, percentile, priceFromModelList, renderHtml } from "hf-inference-wasm/loadtest";
import { startLoadServer } from "../fixture-server/load-server.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PKG = path.join(ROOT, "pkg");
const tmp = mkdtempSync(path.join(tmpdir(), "loadtest-test-"));
const closers = [];
after(async () => {
  for (const c of closers) await c();
});

async function server(o) {
  const s = await startLoadServer(o);
  closers.push(() => s.close());
  return s;
}

const median = (xs) => percentile([...xs].sort((a, b) => a - b), 50);

/** Run the CLI as a user does (the package's bin), with a bounded wait. */
function cli(args, { env = {}, timeoutMs = 60_000 } = {}) {
  const bin = JSON.parse(readFileSync(path.join(PKG, "package.json"), "utf8")).bin["hf-inference-wasm"];
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(PKG, bin), ["loadtest", ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the CLI did not end within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("measured TTFT, inter-token latency, tokens/s and the 429 breaking point match the server's timing", async () => {
  const TTFT = 80;
  const ITL = 15;
  const TOKENS = 20;
  const LIMIT = 4;
  const srv = await server({ ttftMs: TTFT, itlMs: ITL, tokens: TOKENS, maxConcurrent: LIMIT });
  const report = await loadTest({ endpointUrl: srv.url, model: "m", concurrency: [1, 2, 4, 8], requests: 8, maxTokens: 64 });
  const E2E = TTFT + (TOKENS - 1) * ITL; // 365 ms: the server's last token

  assert.equal(report.steps.length, 4);
  for (const s of report.steps.slice(0, 3)) {
    assert.equal(s.ok, 8, `concurrency ${s.concurrency}: ${JSON.stringify(s.errors)}`);
    assert.deepEqual(s.errors, {});
    // Lower bounds are the server's delays (less is impossible); upper bounds allow 60 ms
    // (TTFT) / 80 ms (E2E) / 8 ms (ITL) of scheduling noise.
    assert.ok(s.ttftMs.p50 >= TTFT - 1 && s.ttftMs.p50 <= TTFT + 60, `TTFT p50 ${s.ttftMs.p50} vs ${TTFT}`);
    assert.ok(s.ttftMs.p95 >= s.ttftMs.p50 && s.ttftMs.p99 >= s.ttftMs.p95);
    assert.ok(s.itlMs.p50 >= ITL - 3 && s.itlMs.p50 <= ITL + 8, `ITL p50 ${s.itlMs.p50} vs ${ITL}`);
    assert.ok(s.tpotMs.p50 >= ITL - 2 && s.tpotMs.p50 <= ITL + 8, `TPOT p50 ${s.tpotMs.p50} vs ${ITL}`);
    assert.ok(s.e2eMs.p50 >= E2E - 2 && s.e2eMs.p50 <= E2E + 80, `E2E p50 ${s.e2eMs.p50} vs ${E2E}`);
    // Tokens: the server's usage, exactly.
    assert.equal(s.outputTokens, 8 * TOKENS);
    assert.equal(s.tokensEstimated, false);
    // Per request: TOKENS / E2E (54.8 tok/s), within -25 %/+5 %.
    const perRequest = TOKENS / (E2E / 1000);
    assert.ok(s.requestOutputTokensPerSec.mean <= perRequest * 1.05 && s.requestOutputTokensPerSec.mean >= perRequest * 0.75, `per request ${s.requestOutputTokensPerSec.mean} vs ${perRequest}`);
    // In total: a closed loop of c workers does c × that, minus the gaps between requests.
    const total = s.concurrency * perRequest;
    assert.ok(s.outputTokensPerSec <= total * 1.05 && s.outputTokensPerSec >= total * 0.6, `total ${s.outputTokensPerSec} vs ${total}`);
    assert.ok(Math.abs(s.requestsPerSec - s.outputTokensPerSec / TOKENS) < 0.01 + s.requestsPerSec * 0.01);
    assert.equal(s.peakInFlight, s.concurrency);
  }
  // Concurrency 8 against a limit of 4: the 429s are seen (no retries by default).
  const over = report.steps[3];
  assert.ok(over.errors["http 429"] > 0, JSON.stringify(over.errors));
  assert.equal(over.ok + over.errors["http 429"], over.requests);
  assert.ok(over.ok >= LIMIT - 1, `ok ${over.ok}`);
  assert.match(over.errorMessages["http 429"], /concurrency limit/);
  assert.deepEqual({ concurrency: report.breakingPoint.concurrency, step: report.breakingPoint.step }, { concurrency: 8, step: 3 });
  assert.match(report.breakingPoint.reason, /errors: \d+ of 8 requests .*http 429: \d+.* exceed 1%/);
  // The server saw each request once (1 warm-up + 4 × 8): nothing was retried, and never
  // more than its limit in flight.
  const st = srv.stats();
  assert.equal(st.requests, 1 + 32);
  assert.ok(st.maxInFlight <= LIMIT);
  assert.equal(report.stopped, null);
});

test("a server that queues past its limit: the breaking point is p95 TTFT above 3× the first step's", async () => {
  // One slot, queued: at concurrency 4 a request waits for up to 3 others (3 × 140 ms).
  const srv = await server({ ttftMs: 50, itlMs: 10, tokens: 10, maxConcurrent: 1, overLimit: "queue" });
  const report = await loadTest({ endpointUrl: srv.url, model: "m", concurrency: [1, 4], requests: 8, maxTokens: 16 });
  const [one, four] = report.steps;
  assert.equal(one.ok, 8);
  assert.equal(four.ok, 8);
  assert.ok(one.ttftMs.p95 >= 49 && one.ttftMs.p95 < 120, `step 1 p95 ${one.ttftMs.p95}`);
  // Waiting behind 3 answers of 140 ms each: at least 3 × 140 + 50 = 470 ms at p95.
  assert.ok(four.ttftMs.p95 >= 460, `step 2 p95 ${four.ttftMs.p95}`);
  // Tokens still arrive at the server's pace once a request has its slot.
  assert.ok(four.itlMs.p50 >= 8 && four.itlMs.p50 <= 18, `ITL ${four.itlMs.p50}`);
  assert.equal(report.breakingPoint.concurrency, 4);
  assert.match(report.breakingPoint.reason, /^p95 TTFT \d+ ms is [\d.]+× the first step's \d+ ms \(limit 3×\)$/);
});

test("fixed arrival rate: the server sees requests 1/rate apart, whatever the answers take", async () => {
  const srv = await server({ ttftMs: 40, itlMs: 10, tokens: 30 }); // 330 ms per answer
  const report = await loadTest({ endpointUrl: srv.url, model: "m", rate: [10], requests: 10, warmup: 0, maxTokens: 64 });
  const [s] = report.steps;
  assert.equal(s.concurrency, null);
  assert.equal(s.rate, 10);
  assert.equal(s.ok, 10);
  const arrivals = srv.stats().arrivals;
  const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]);
  assert.ok(median(gaps) >= 95 && median(gaps) <= 130, `arrival gaps ${gaps.map(Math.round)}`);
  // Open loop: answers overlap. Each takes at least 330 ms, so when the 4th leaves (300 ms)
  // the first is still in flight; more overlap only means slower answers, not a wrong rate.
  assert.ok(s.peakInFlight >= 4 && s.peakInFlight <= 10, `peak ${s.peakInFlight}`);
  assert.ok(s.durationMs >= 900 + 330 - 5, `duration ${s.durationMs}`);
  assert.equal(report.breakingPoint, null);
});

test("through our proxy (createProxy): the same figures, the proxy's hop added", async () => {
  const srv = await server({ ttftMs: 60, itlMs: 15, tokens: 12 });
  const proxy = createProxy({ upstream: srv.url, token: "hf_loadtest_not_a_token", allowedModels: "*", rateLimit: false, log: false });
  const web = await serveNode(proxy, { port: 0 });
  closers.push(() => new Promise((r) => web.close(() => r())));
  const report = await loadTest({ endpointUrl: `http://127.0.0.1:${web.address().port}/v1`, model: "org/model", concurrency: [2], requests: 6, maxTokens: 32 });
  const [s] = report.steps;
  assert.equal(s.ok, 6, JSON.stringify(s.errorMessages));
  assert.equal(s.outputTokens, 6 * 12);
  assert.ok(s.ttftMs.p50 >= 59 && s.ttftMs.p50 <= 60 + 80, `TTFT ${s.ttftMs.p50}`);
  assert.ok(s.itlMs.p50 >= 12 && s.itlMs.p50 <= 15 + 8, `ITL ${s.itlMs.p50}`);
  // The proxy put its token on the upstream call; the load test sent none.
  assert.ok(srv.stats().authorizations.every((a) => a === "Bearer hf_loadtest_not_a_token"));
});

test("the hard time cap stops a run against a server that never answers in time", async () => {
  const srv = await server({ ttftMs: 30_000, itlMs: 10, tokens: 5 });
  const start = performance.now();
  const report = await loadTest({ endpointUrl: srv.url, model: "m", concurrency: [2, 4], requests: 4, warmup: 0, maxDurationMs: 400 });
  const took = performance.now() - start;
  assert.ok(took < 5_000, `took ${took} ms`);
  assert.equal(report.stopped, "max-duration");
  assert.equal(report.steps.length, 1);
  assert.equal(report.steps[0].ok, 0);
  assert.equal(report.steps[0].errors.aborted, 2);
});

test("planLoadTest: bounds, defaults and typed errors for bad options", () => {
  const p = planLoadTest({ endpointUrl: "http://127.0.0.1:1", model: "m" });
  assert.deepEqual(
    p.steps.map((s) => s.concurrency),
    [1, 2, 4, 8, 16],
  );
  assert.equal(p.maxRequests, 1 + 5 * 16);
  assert.equal(p.maxAttempts, p.maxRequests);
  assert.ok(p.maxDurationMs <= 600_000 && p.maxDurationMs > 0);
  const r = planLoadTest({ endpointUrl: "http://127.0.0.1:1", model: "m", retries: 2, concurrency: [4], requests: 8, warmup: 0 });
  assert.equal(r.maxAttempts, 24);
  const d = planLoadTest({ endpointUrl: "http://127.0.0.1:1", model: "m", rate: [2, 5], durationMs: 3000 });
  assert.deepEqual(
    d.steps.map((s) => s.requests),
    [6, 15],
  );
  const bad = [{}, { endpointUrl: "http://x", model: "" }, { endpointUrl: "nope", model: "m" }, { endpointUrl: "http://x", baseUrl: "http://y", model: "m" }, { endpointUrl: "http://x", model: "m", rate: [1], concurrency: [1] }, { endpointUrl: "http://x", model: "m", concurrency: [0] }, { endpointUrl: "http://x", model: "m", concurrency: [1.5] }, { endpointUrl: "http://x", model: "m", requests: -1 }, { endpointUrl: "http://x", model: "m", maxDurationMs: Infinity }, { endpointUrl: "http://x", model: "m", prompts: [] }, { endpointUrl: "http://x", model: "m", requests: 100_000 }];
  for (const o of bad) {
    assert.throws(
      () => planLoadTest(o),
      (e) => e instanceof InferenceError && e.kind === "input" && /^loadTest: /.test(e.message),
      JSON.stringify(o),
    );
  }
});

test("percentiles, cost bound, prices from /v1/models, breaking-point thresholds", () => {
  assert.equal(percentile([], 50), null);
  assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(percentile([1, 2, 3, 4], 0), 1);
  assert.equal(percentile([1, 2, 3, 4], 100), 4);
  assert.equal(percentile([10, 20], 95), 19.5);
  const plan = planLoadTest({ endpointUrl: "http://127.0.0.1:1", model: "m", concurrency: [1], requests: 10, warmup: 0, maxTokens: 100, prompt: "x".repeat(40) });
  assert.equal(plan.promptTokens, 3 + 10 + 4);
  const c = estimateCost(plan, { input: 1, output: 2 });
  assert.deepEqual(c, { usd: (10 * 17 * 1 + 10 * 100 * 2) / 1e6, promptTokens: 170, outputTokens: 1000 });
  const list = { data: [{ id: "org/m", providers: [{ provider: "a", pricing: { input: 0.1, output: 0.2 } }, { provider: "b", pricing: { input: "0.5", output: 1 } }, { provider: "c" }] }] };
  assert.deepEqual({ ...priceFromModelList(list, "org/m"), source: undefined }, { input: 0.5, output: 1, source: undefined });
  assert.equal(priceFromModelList(list, "org/m:a").input, 0.1);
  assert.equal(priceFromModelList(list, "org/m:c"), undefined);
  assert.equal(priceFromModelList(list, "other"), undefined);

  const step = (concurrency, requests, ok, p95, errors = {}) => ({ concurrency, requests, ok, errors, ttftMs: { p50: p95, p95, p99: p95 } });
  // Exactly 1% of errors and exactly 3× are not beyond the thresholds.
  assert.equal(findBreakingPoint([step(1, 100, 100, 100), step(2, 100, 99, 300, { timeout: 1 })]), null);
  assert.equal(findBreakingPoint([step(1, 100, 100, 100), step(2, 100, 98, 150, { "http 429": 2 })]).concurrency, 2);
  assert.match(findBreakingPoint([step(1, 100, 100, 100), step(2, 100, 100, 301)]).reason, /p95 TTFT 301 ms is 3\.0× the first step's 100 ms/);
  assert.equal(findBreakingPoint([step(1, 10, 5, 100, { network: 5 })]).step, 0);
  assert.equal(findBreakingPoint([step(1, 100, 100, 100), step(2, 100, 100, 200)], { ttftFactor: 1.5 }).concurrency, 2);
});

test("renderHtml: one self-contained page; text from the server or the model id is escaped", async () => {
  const srv = await server({ ttftMs: 10, itlMs: 5, tokens: 5, maxConcurrent: 1 });
  const report = await loadTest({ endpointUrl: srv.url, model: 'evil/<script>alert("x")</script>', concurrency: [1, 3], requests: 3, maxTokens: 8 });
  const html = renderHtml(report);
  assert.match(html, /^<!doctype html>/);
  assert.equal((html.match(/<svg /g) ?? []).length, 5);
  assert.ok(!/<script/i.test(html), "no script, and the model id is escaped");
  assert.ok(html.includes("evil/&lt;script&gt;"));
  assert.ok(!/\b(src|href)\s*=|url\(|@import|<link|<iframe|<img/i.test(html), "no external resources");
  // The only URL in the page is the target's, as text.
  assert.deepEqual([...new Set(html.match(/https?:\/\/[^\s"'<]+/g))], [srv.url]);
  assert.match(html, /breaking point/);
});

test("CLI: plan and bounds printed first, the table, --json in the issue's shape, --html", async () => {
  const srv = await server({ ttftMs: 30, itlMs: 10, tokens: 8, maxConcurrent: 2 });
  const json = path.join(tmp, "r.json");
  const html = path.join(tmp, "r.html");
  const r = await cli(["--base-url", srv.url, "--model", "m", "--concurrency", "1,2,4", "--requests", "4", "--max-tokens", "16", "--json", json, "--html", html], { env: { HF_TOKEN: "hf_must_not_leave_for_other_hosts" } });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split("\n");
  assert.match(lines[0], /^hf-inference-wasm loadtest: http:\/\/127\.0\.0\.1:\d+ · model m · auth none$/);
  assert.match(lines[1], /^plan: 3 steps of fixed concurrency 1, 2, 4; 4 requests each \(\+1 warm-up\); streamed, max_tokens 16, no retries/);
  assert.match(lines[2], /^bounds: at most 13 requests, at most /);
  assert.match(lines[3], /^cost: unknown/);
  assert.match(r.stderr, /\[3\/3\] concurrency 4: \d\/4 ok \(http 429: \d\)/);
  assert.match(r.stdout, /^\s+conc\s+reqs\s+ok\s+ttft50/);
  assert.match(r.stdout, /breaking point: concurrency 4: errors: /);
  // HF_TOKEN goes to Hugging Face hosts only.
  assert.deepEqual(srv.stats().authorizations, []);

  const report = JSON.parse(readFileSync(json, "utf8"));
  const keys = (o) => Object.keys(o).sort();
  for (const s of report.steps) {
    for (const k of ["concurrency", "requests", "ok", "errors", "ttftMs", "itlMs", "e2eMs", "outputTokensPerSec", "requestsPerSec"]) assert.ok(k in s, k);
    assert.deepEqual(keys(s.ttftMs), ["p50", "p95", "p99"]);
    assert.deepEqual(keys(s.itlMs), ["p50", "p95"]);
    assert.deepEqual(keys(s.e2eMs), ["p50", "p95", "p99"]);
    assert.equal(typeof s.outputTokensPerSec, "number");
    for (const [k, n] of Object.entries(s.errors)) assert.ok(/^http \d{3}$|^[a-z_]+$/.test(k) && Number.isInteger(n), k);
  }
  assert.deepEqual(
    report.steps.map((s) => s.concurrency),
    [1, 2, 4],
  );
  assert.deepEqual(keys(report.breakingPoint), ["concurrency", "reason", "step"]);
  assert.equal(report.breakingPoint.concurrency, 4);
  const page = readFileSync(html, "utf8");
  assert.match(page, /^<!doctype html>/);
  assert.ok(!/<script|\b(src|href)\s*=|url\(/i.test(page));
});

test("CLI: --token-env sends that variable; --prices gives the cost, and spending is reported", async () => {
  const srv = await server({ ttftMs: 5, itlMs: 2, tokens: 10 });
  const json = path.join(tmp, "cost.json");
  const r = await cli(["--base-url", srv.url, "--model", "m", "--concurrency", "1", "--requests", "3", "--max-tokens", "10", "--token-env", "MY_KEY", "--prices", "2,4", "--json", json], { env: { MY_KEY: "sk-local-secret" } });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual([...new Set(srv.stats().authorizations)], ["Bearer sk-local-secret"]);
  assert.match(r.stderr, /auth \$MY_KEY/);
  const plan = planLoadTest({ endpointUrl: srv.url, model: "m", concurrency: [1], requests: 3, maxTokens: 10 });
  const bound = estimateCost(plan, { input: 2, output: 4 });
  assert.ok(r.stderr.includes(`cost: at most $${bound.usd.toFixed(4)} (${bound.promptTokens} prompt + ${bound.outputTokens} output tokens at $2/$4 per million, --prices)`), r.stderr);
  const report = JSON.parse(readFileSync(json, "utf8"));
  assert.equal(report.tokens.output, 30);
  assert.equal(report.costUsd, Math.round(report.tokens.prompt * 2 + 30 * 4) / 1e6);
  assert.match(r.stdout, /cost: \$0\.000\d+ \(\d+ prompt \+ 30 output tokens\)/);
});

test("CLI: the price comes from the target's /v1/models when not given", async () => {
  const srv = await server({ ttftMs: 5, itlMs: 2, tokens: 4, pricing: { input: 0.5, output: 1.5 } });
  const r = await cli(["--base-url", srv.url, "--model", srv.model, "--concurrency", "1", "--requests", "2", "--max-tokens", "4", "--warmup", "0"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /cost: at most \$0\.000\d \(\d+ prompt \+ 8 output tokens at \$0\.5\/\$1\.5 per million, \/v1\/models \(loadtest\)\)/);
});

test("CLI safety: refusals send no request; --yes overrides", async () => {
  const srv = await server({ ttftMs: 5, itlMs: 2, tokens: 4 });
  const base = ["--base-url", srv.url, "--model", "m", "--max-tokens", "4"];
  // Above --max-cost.
  let r = await cli([...base, "--concurrency", "1", "--requests", "50", "--prices", "100,100", "--max-cost", "0.01"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /refused: the upper-bound cost \$0\.\d+ is above --max-cost \$0\.01\. Pass --yes/);
  // More than 1000 requests.
  r = await cli([...base, "--concurrency", "1,2", "--requests", "600", "--prices", "none"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bounds: at most 1201 requests/);
  assert.match(r.stderr, /refused: 1201 requests is above 1000/);
  // An unknown cost on a server that is not local (nothing is contacted: --prices none).
  r = await cli(["--base-url", "https://llm.example.invalid/v1", "--model", "m", "--prices", "none"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /refused: the cost is unknown .* llm\.example\.invalid is not a local server/);
  // The router needs a token.
  r = await cli(["--model", "org/m"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /the Hugging Face router needs a token: set HF_TOKEN/);
  // Bad usage.
  for (const args of [["--concurrency", "1,x"], ["--rate", "fast"], ["--duration", "10 parsecs"], ["--rate", "1/s", "--concurrency", "2"], ["--requests", "0"], ["--bogus"], ["--prompt", path.join(tmp, "missing.txt")]]) {
    r = await cli([...base, ...args]);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    assert.match(r.stderr, /^hf-inference-wasm: .+\n\(hf-inference-wasm loadtest --help for the options\)\n$/);
  }
  assert.equal(srv.stats().requests, 0, "no refused run sent a request");
  // --yes runs what --max-cost refused.
  r = await cli([...base, "--concurrency", "1", "--requests", "2", "--warmup", "0", "--prices", "100,100", "--max-cost", "0.0001", "--yes"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(srv.stats().requests, 2);
});

test("CLI: --prompt .jsonl cycles the prompts; --rate; the bin is executable", async () => {
  const srv = await server({ ttftMs: 5, itlMs: 2, tokens: 4 });
  const file = path.join(tmp, "p.jsonl");
  writeFileSync(file, '"first"\n{"messages":[{"role":"user","content":"second"}]}\n{"prompt":"third"}\n');
  const r = await cli(["--base-url", srv.url, "--model", "m", "--rate", "20/s", "--requests", "6", "--warmup", "0", "--prompt", file, "--json", "-"]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.settings.mode, "rate");
  assert.equal(report.steps[0].rate, 20);
  assert.equal(report.steps[0].ok, 6);
  // Each prompt twice (requests on separate connections may reach the server out of order).
  assert.deepEqual(srv.stats().prompts.sort(), ["first", "first", "second", "second", "third", "third"]);
  assert.match(r.stderr, /plan: 1 step of fixed arrival rate 20\/s; 6 requests each/);
  const bin = path.join(PKG, JSON.parse(readFileSync(path.join(PKG, "package.json"), "utf8")).bin["hf-inference-wasm"]);
  assert.ok(statSync(bin).mode & 0o111, "the bin is executable");
  assert.match(readFileSync(bin, "utf8"), /^#!\/usr\/bin\/env node\n/);
});

test("loadtest.d.ts type-checks a typical use and rejects wrong ones (tsc --strict, bundler and node16)", async () => {
  const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc");
  for (const [module, resolution] of [
    ["preserve", "bundler"],
    ["node16", "node16"],
  ]) {
    const config = path.join(tmp, `tsconfig.${resolution}.json`);
    writeFileSync(config, JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: "es2022", module, moduleResolution: resolution, lib: ["es2022", "dom"], types: [], isolatedModules: true }, files: [path.join(ROOT, "tests/packaging/loadtest-usage.ts")] }));
    const r = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [tsc, "-p", config, "--pretty", "false"], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error("tsc did not end within 120 s"));
      }, 120_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
    assert.equal(r.code, 0, `tsc (${resolution}) failed:\n${r.out}`);
  }
});
