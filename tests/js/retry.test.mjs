// Retries, backoff and Retry-After, end to end: the package as users import it against
// the fixture server's scripted faults. Every test asserts what the caller saw (text,
// error kind, attempts) and how many requests the server received. Fault keys are
// unique per test so the server's per-key counters never mix.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";

import { InferenceClient, InferenceError } from "hf-inference-wasm";
import { startFixtureServer, within } from "./helpers.mjs";

const T = { timeout: 15_000 };
let fx;
let seq = 0;
const key = () => `k${++seq}`;
// Small delays so the suite stays fast; the server's own hints are honoured as sent.
const FAST = { baseDelayMs: 20, maxDelayMs: 100 };

before(async () => {
  fx = await startFixtureServer({ port: 0 });
});
after(async () => {
  await fx?.close();
});

const req = () => ({ model: "test-model", messages: [{ role: "user", content: "hello there" }] });

/** Requests the server received whose path starts with `prefix`. */
const received = (prefix) => fx.requests.filter((r) => r.path.startsWith(prefix)).length;

/** Stream `path` with `for await`; returns what the caller saw. */
async function stream(path, { retry = FAST, timeouts, signal, abortAfterMs } = {}) {
  const c = new InferenceClient({ endpointUrl: fx.url + path, retry, timeouts });
  const retries = [];
  const s = c.chatCompletionStream(req(), { signal, onRetry: (r) => retries.push(r) });
  if (abortAfterMs !== undefined) setTimeout(() => s.abort(), abortAfterMs);
  let text = "";
  let error;
  try {
    for await (const chunk of s) text += chunk.choices[0]?.delta?.content ?? "";
  } catch (e) {
    error = e;
  }
  return { text, error, retries, requests: received(path) };
}

/** A non-streamed call to `path`. */
async function complete(path, { retry = FAST, signal } = {}) {
  const c = new InferenceClient({ endpointUrl: fx.url + path, retry });
  const retries = [];
  try {
    const completion = await c.chatCompletion(req(), { signal, onRetry: (r) => retries.push(r) });
    return { text: completion.choices[0].message.content, retries, requests: received(path) };
  } catch (error) {
    return { error, retries, requests: received(path) };
  }
}

function assertError(error, kind) {
  assert.ok(error instanceof InferenceError, `an InferenceError, got ${error}`);
  assert.equal(error.kind, kind, error.message);
  assert.ok(Array.isArray(error.attempts) && error.attempts.length > 0, "attempts are listed");
}

describe("retried until it works", () => {
  test("reset before headers, then OK: one retry, the whole text once", T, async () => {
    const p = `/fault/reset-then-ok/${key()}/1`;
    const r = await within(stream(p), 10_000);
    assert.equal(r.error, undefined);
    assert.match(r.text, /^You asked: "hello there"/);
    assert.equal(r.requests, 2);
    assert.equal(r.retries.length, 1);
    assert.equal(r.retries[0].attempt, 1);
    assert.equal(r.retries[0].error.kind, "network");
  });

  test("503 twice then OK, streamed and not streamed", T, async () => {
    const s = await stream(`/fault/503-then-ok/${key()}/2`);
    assert.equal(s.error, undefined);
    assert.equal(s.requests, 3);
    assert.deepEqual(s.retries.map((x) => x.error.status), [503, 503]);
    const c = await complete(`/fault/503-then-ok/${key()}/2`);
    assert.equal(c.error, undefined);
    assert.equal(c.requests, 3);
    assert.equal(c.text, s.text, "the same answer either way");
  });

  test("retry: false sends once, as openai users write it (client and per call)", T, async () => {
    const s = await stream(`/fault/503-then-ok/${key()}/2`, { retry: false });
    assert.equal(s.error?.status, 503, String(s.error));
    assert.equal(s.requests, 1);
    assert.equal(s.retries.length, 0);
    const p = `/fault/503-then-ok/${key()}/2`;
    const c = new InferenceClient({ endpointUrl: fx.url + p, retry: FAST });
    const e = await c.chatCompletion(req(), { retry: false }).then(() => undefined, (err) => err);
    assert.equal(e?.status, 503);
    assert.equal(received(p), 1);
    const ok = await complete(`/fault/503-then-ok/${key()}/1`, { retry: true });
    assert.equal(ok.error, undefined, "retry: true keeps the default retries");
    assert.equal(ok.requests, 2);
  });

  test("429 with Retry-After in seconds waits exactly that long", T, async () => {
    const r = await stream(`/fault/429-retry-after-seconds/${key()}/1/0.3`);
    assert.equal(r.error, undefined);
    assert.equal(r.requests, 2);
    assert.equal(r.retries[0].delayMs, 300);
  });

  test("429 with retry-after-ms waits exactly that long", T, async () => {
    const r = await stream(`/fault/429-retry-after-ms/${key()}/1/150`);
    assert.equal(r.error, undefined);
    assert.equal(r.requests, 2);
    assert.equal(r.retries[0].delayMs, 150);
  });

  test("429 with Retry-After as an HTTP date waits until that date", T, async () => {
    const r = await stream(`/fault/429-retry-after-date/${key()}/1/1000`);
    assert.equal(r.error, undefined);
    assert.equal(r.requests, 2);
    // An HTTP date has one-second resolution: the wait is at most two seconds.
    assert.ok(r.retries[0].delayMs > 0 && r.retries[0].delayMs <= 2000, `${r.retries[0].delayMs}`);
  });

  test("429 with the IETF RateLimit header waits for its reset", T, async () => {
    const r = await stream(`/fault/ratelimit-header/${key()}/1/0.2`);
    assert.equal(r.error, undefined);
    assert.equal(r.requests, 2);
    assert.equal(r.retries[0].delayMs, 200);
  });

  test("429 with no hint backs off exponentially within maxDelayMs", T, async () => {
    const r = await stream(`/fault/429-none/${key()}/2`);
    assert.equal(r.error, undefined);
    assert.equal(r.requests, 3);
    for (const x of r.retries) assert.ok(x.delayMs >= 0 && x.delayMs <= FAST.maxDelayMs, `${x.delayMs}`);
  });

  test("x-should-retry: true makes a 400 retryable", T, async () => {
    const r = await stream(`/fault/x-should-retry-true/${key()}/1`);
    assert.equal(r.error, undefined);
    assert.equal(r.requests, 2);
  });

  test("a first-chunk timeout before anything was delivered is retried", T, async () => {
    const p = `/fault/stall-first-chunk/${key()}`;
    const r = await stream(p, { retry: { ...FAST, maxRetries: 1 }, timeouts: { firstChunk: 150 } });
    assertError(r.error, "timeout");
    assert.equal(r.error.timeout, "firstChunk");
    assert.equal(r.requests, 2, "retried once");
    assert.deepEqual(r.error.attempts.map((a) => a.timeout), ["firstChunk", "firstChunk"]);
  });

  test("a headers timeout is retried", T, async () => {
    const p = `/fault/stall-headers/${key()}`;
    const r = await stream(p, { retry: { ...FAST, maxRetries: 1 }, timeouts: { headers: 150 } });
    assertError(r.error, "timeout");
    assert.equal(r.error.timeout, "headers");
    assert.equal(r.requests, 2);
  });
});

describe("never retried", () => {
  test("400", T, async () => {
    const r = await stream(`/fault/400/${key()}`);
    assertError(r.error, "http");
    assert.equal(r.error.status, 400);
    assert.equal(r.requests, 1);
    assert.equal(r.retries.length, 0);
  });

  test("429 whose body says the quota is exhausted", T, async () => {
    const r = await stream(`/fault/429-quota/${key()}`);
    assertError(r.error, "http");
    assert.equal(r.error.code, "insufficient_quota");
    assert.equal(r.requests, 1);
  });

  test("402 out of monthly credits", T, async () => {
    const r = await complete(`/fault/402-credits/${key()}`);
    assertError(r.error, "http");
    assert.equal(r.error.status, 402);
    assert.equal(r.requests, 1);
  });

  test("x-should-retry: false on a 503", T, async () => {
    const r = await stream(`/fault/x-should-retry-false/${key()}`);
    assertError(r.error, "http");
    assert.equal(r.requests, 1);
  });

  test("maxRetries: 0 turns retrying off", T, async () => {
    const r = await stream(`/fault/500-always/${key()}`, { retry: { maxRetries: 0 } });
    assertError(r.error, "http");
    assert.equal(r.requests, 1);
  });

  test("a drop after the first delta surfaces the error: no retry, no duplicate text", T, async () => {
    const p = `/fault/drop-after-first-delta/${key()}`;
    const r = await stream(p);
    assertError(r.error, "network");
    assert.equal(r.text, "Hello", "the delivered text, once");
    assert.equal(r.requests, 1);
    assert.equal(r.error.partial.choices[0].message.content, "Hello");
  });

  test("an idle timeout mid-stream is surfaced with the partial text", T, async () => {
    const p = `/fault/stall-mid/${key()}`;
    const r = await stream(p, { timeouts: { idle: 150 } });
    assertError(r.error, "timeout");
    assert.equal(r.error.timeout, "idle");
    assert.ok(r.text.length > 0);
    assert.equal(r.requests, 1);
  });

  for (const [name, kind] of [["error-event", "stream"], ["malformed-json", "parse"], ["huge-line", "stream"]]) {
    test(`${name} mid-stream`, T, async () => {
      const r = await stream(`/script/${name}`);
      assertError(r.error, kind);
      assert.equal(received(`/script/${name}`) - r.requests, 0);
      assert.equal(r.retries.length, 0);
    });
  }
});

describe("giving up", () => {
  test("500 on every attempt: three attempts, each listed, the last error surfaced", T, async () => {
    const p = `/fault/500-always/${key()}`;
    const r = await stream(p);
    assertError(r.error, "http");
    assert.equal(r.requests, 3);
    assert.deepEqual(r.error.attempts.map((a) => a.status), [500, 500, 500]);
    assert.ok(r.error.attempts[0].delayMs >= 0 && r.error.attempts[2].delayMs === undefined);
    assert.match(r.error.message, /after 3 attempts/);
  });

  test("reset before headers on every attempt: a network error after three attempts", T, async () => {
    const p = `/fault/reset-before-headers/${key()}`;
    const r = await stream(p);
    assertError(r.error, "network");
    assert.equal(r.error.attempts.length, 3);
  });

  test("an absurd Retry-After fails fast with the server's hint in the message", T, async () => {
    const p = `/fault/429-huge/${key()}`;
    const r = await within(stream(p), 5_000);
    assertError(r.error, "http");
    assert.equal(r.requests, 1);
    assert.match(r.error.message, /86400 s/);
  });

  test("the retry budget bounds the whole call", T, async () => {
    const p = `/fault/429-retry-after-seconds/${key()}/5/1`;
    const r = await within(stream(p, { retry: { maxRetries: 5, budgetMs: 500 } }), 5_000);
    assertError(r.error, "http");
    assert.equal(r.requests, 1, "a 1 s wait does not fit a 500 ms budget");
    assert.match(r.error.message, /budget/);
  });
});

describe("aborting during the backoff sleep", () => {
  // The server asks for 5 s; each test's own bound (2 s) fails it if the sleep is not cut.
  test("the caller's signal ends a non-streamed call at once", { timeout: 2_000 }, async () => {
    const p = `/fault/429-retry-after-seconds/${key()}/5/5`;
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const r = await complete(p, { retry: { maxRetries: 2 }, signal: ac.signal });
    assertError(r.error, "aborted");
    assert.equal(r.requests, 1);
  });

  test("abort() ends a stream at once, as a normal outcome", { timeout: 2_000 }, async () => {
    const p = `/fault/429-retry-after-seconds/${key()}/5/5`;
    const r = await stream(p, { retry: { maxRetries: 2 }, abortAfterMs: 100 });
    assert.equal(r.error, undefined, "an abort is not an error for the iterator");
    assert.equal(r.text, "");
    assert.equal(r.requests, 1);
  });

  test("the caller's signal ends a stream at once", { timeout: 2_000 }, async () => {
    const p = `/fault/429-retry-after-seconds/${key()}/5/5`;
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const r = await stream(p, { retry: { maxRetries: 2 }, signal: ac.signal });
    assert.equal(r.error, undefined);
    assert.equal(r.requests, 1);
  });
});

describe("retry options", () => {
  test("a wrong type names the option", T, () => {
    assert.throws(
      () => new InferenceClient({ retry: { maxRetries: "two" } }),
      (e) => e instanceof InferenceError && e.kind === "input" && e.message.includes("retry.maxRetries"),
    );
    assert.throws(
      () => new InferenceClient({ retry: { jitter: 2 } }),
      (e) => e instanceof InferenceError && e.message.includes("retry.jitter"),
    );
  });

  test("per-call retry options override the client's", T, async () => {
    const p = `/fault/500-always/${key()}`;
    const c = new InferenceClient({ endpointUrl: fx.url + p, retry: { maxRetries: 0 } });
    const r = await c.chatCompletionStream(req(), { retry: { maxRetries: 1, baseDelayMs: 10 } }).text().catch((e) => e);
    assertError(r, "http");
    assert.equal(received(p), 2);
  });

  test("a throwing onRetry stops the call and comes back out as the cause", T, async () => {
    const p = `/fault/503-then-ok/${key()}/1`;
    const c = new InferenceClient({ endpointUrl: fx.url + p, retry: FAST });
    const boom = new Error("boom");
    const r = await c.chatCompletion(req(), { onRetry: () => { throw boom; } }).catch((e) => e);
    assert.equal(r.cause, boom);
    assert.equal(received(p), 1);
  });
});

describe("circuit breaker", () => {
  test("consecutive failures open it: later calls fail fast without a request", T, async () => {
    const p = `/fault/500-always/${key()}`;
    const c = new InferenceClient({
      endpointUrl: fx.url + p,
      retry: { maxRetries: 0 },
      circuitBreaker: { failureThreshold: 3, openMs: 60_000 },
    });
    for (let i = 0; i < 3; i++) assertError(await c.chatCompletion(req()).catch((e) => e), "http");
    assert.equal(received(p), 3);
    const e = await c.chatCompletion(req()).catch((x) => x);
    assertError(e, "circuit_open");
    assert.equal(e.code, "circuit_open");
    assert.equal(received(p), 3, "no request while open");
    const s = await c.chatCompletionStream(req()).text().catch((x) => x);
    assertError(s, "circuit_open");
    const [h] = c.health();
    assert.equal(h.state, "open");
    assert.ok(h.retryInMs > 0 && h.retryInMs <= 60_000);
    assert.equal(h.consecutiveFailures, 3);
  });

  test("after openMs one probe goes through and a success closes it", T, async () => {
    const k = key();
    const p = `/fault/503-then-ok/${k}/2`;
    const c = new InferenceClient({
      endpointUrl: fx.url + p,
      retry: { maxRetries: 0 },
      circuitBreaker: { failureThreshold: 2, openMs: 100 },
    });
    await c.chatCompletion(req()).catch(() => {});
    await c.chatCompletion(req()).catch(() => {});
    assert.equal(c.health()[0].state, "open");
    await new Promise((r) => setTimeout(r, 150));
    const ok = await c.chatCompletion(req());
    assert.match(ok.choices[0].message.content, /hello there/);
    assert.equal(c.health()[0].state, "closed");
    assert.equal(received(p), 3);
  });

  test("client errors (4xx) do not open it", T, async () => {
    const p = `/fault/400/${key()}`;
    const c = new InferenceClient({ endpointUrl: fx.url + p, circuitBreaker: { failureThreshold: 2 } });
    for (let i = 0; i < 4; i++) assertError(await c.chatCompletion(req()).catch((e) => e), "http");
    assert.equal(received(p), 4);
    assert.equal(c.health()[0].state, "closed");
  });

  test("a wrong option type names the option", T, () => {
    assert.throws(
      () => new InferenceClient({ circuitBreaker: { failureRate: 3 } }),
      (e) => e instanceof InferenceError && e.message.includes("circuitBreaker.failureRate"),
    );
  });
});

describe("fallback", () => {
  test("retries exhausted on the primary: the fallback endpoint answers, and the route says so", T, async () => {
    const primary = `/fault/500-always/${key()}`;
    const c = new InferenceClient({
      endpointUrl: fx.url + primary,
      retry: FAST,
      fallback: [{ endpointUrl: fx.url + "/v1", model: "small-model" }],
    });
    const fallbacks = [];
    const s = c.chatCompletionStream(req(), { onFallback: (f) => fallbacks.push(f) });
    let text = "";
    for await (const chunk of s) text += chunk.choices[0]?.delta?.content ?? "";
    assert.match(text, /hello there/);
    assert.equal(received(primary), 3, "the primary got its retries first");
    assert.equal(fallbacks.length, 1);
    assert.equal(fallbacks[0].from.index, 0);
    assert.equal(fallbacks[0].to.index, 1);
    assert.equal(fallbacks[0].error.status, 500);
    assert.deepEqual(s.route, { index: 1, model: "small-model", upstream: fx.url + "/v1/chat/completions" });
    const last = fx.requests.filter((r) => r.path === "/v1/chat/completions").at(-1);
    assert.equal(JSON.parse(last.body).model, "small-model", "the fallback's model was sent");
    const done = await c.chatCompletion(req());
    assert.equal(done.route.index, 1, "non-streamed calls report the route too");
  });

  test("a provider fallback becomes the model suffix", T, async () => {
    const c = new InferenceClient({
      endpointUrl: fx.url + `/fault/500-always/${key()}`,
      retry: { maxRetries: 0 },
      fallback: [{ endpointUrl: fx.url + "/echo", provider: "together" }],
    });
    const done = await c.chatCompletion(req());
    const seen = JSON.parse(done.choices[0].message.content);
    assert.equal(JSON.parse(seen.body).model, "test-model:together");
    assert.deepEqual(done.route, { index: 1, model: "test-model:together", upstream: "together" });
  });

  test("no fallback after a 400, or once text was delivered", T, async () => {
    const bad = `/fault/400/${key()}`;
    const c = new InferenceClient({ endpointUrl: fx.url + bad, fallback: [{ endpointUrl: fx.url + "/v1" }] });
    assertError(await c.chatCompletion(req()).catch((e) => e), "http");
    const drop = `/fault/drop-after-first-delta/${key()}`;
    const c2 = new InferenceClient({ endpointUrl: fx.url + drop, fallback: [{ endpointUrl: fx.url + "/v1" }] });
    const r = await c2.chatCompletionStream(req()).text().catch((e) => e);
    assertError(r, "network");
    assert.equal(r.partial.choices[0].message.content, "Hello", "no second answer appended");
  });

  test("every target failing surfaces the last error with every attempt", T, async () => {
    const a = `/fault/500-always/${key()}`;
    const b = `/fault/503-then-ok/${key()}/99`;
    const c = new InferenceClient({ endpointUrl: fx.url + a, retry: { ...FAST, maxRetries: 1 }, fallback: [{ endpointUrl: fx.url + b }] });
    const e = await c.chatCompletion(req()).catch((x) => x);
    assertError(e, "http");
    assert.equal(e.status, 503);
    assert.deepEqual(e.attempts.map((x) => x.status), [500, 500, 503, 503]);
    assert.match(e.message, /2 tried/);
  });

  test("a fallback entry naming nothing is an input error", T, () => {
    assert.throws(
      () => new InferenceClient({ fallback: [{}] }),
      (e) => e instanceof InferenceError && e.kind === "input" && e.message.includes("fallback[0]"),
    );
  });
});
