// Self-test of the fixture server's resilience faults (retries, backoff, retry hints): each
// fault's wire behaviour with plain `fetch` — status, headers, body, the per-key counters and
// the then-OK transition. Run: node --test tests/js/faults-server.test.mjs
//
// Every wait is bounded: each fetch carries an AbortSignal.timeout, each test a test timeout.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";

import {
  startFixtureServer,
  faults,
  simulatorReply,
  httpDateAfter,
  FAULT_BODIES,
  FAULT_FIRST_DELTA,
} from "../fixture-server/server.mjs";
import { parseSse, waitFor } from "./helpers.mjs";

const T = { timeout: 10_000 };
const limit = (ms = 5_000) => AbortSignal.timeout(ms);

let fx;
before(async () => {
  fx = await startFixtureServer({ port: 0 });
});
after(async () => {
  await fx?.close();
});

const chatBody = (content, extra = {}) => ({ model: "fixture/tiny-chat", messages: [{ role: "user", content }], ...extra });

const post = (path, body = chatBody("retry me"), { signal = limit() } = {}) =>
  fetch(fx.url + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal,
  });

/** POST, read the whole body, return `{ status, headers, text }`. */
async function call(path, body) {
  const res = await post(path, body);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The text of a streamed chat answer (choice 0 deltas), and whether it ended with [DONE]. */
function streamText(body) {
  const events = parseSse(body);
  const done = events.length > 0 && events[events.length - 1].data === "[DONE]";
  const text = events
    .filter((e) => e.data !== "[DONE]")
    .map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? "")
    .join("");
  return { text, done };
}

/** The path of a fault with a fresh key (the key is unique per test, so counters never collide). */
let keySeq = 0;
const freshKey = (label) => `${label}-${process.pid}-${++keySeq}`;

/** Assert the simulator answered `r` (a non-stream chat completion echoing `question`). */
function assertSimulatorJson(r, question = "retry me") {
  assert.equal(r.status, 200, r.text);
  const json = JSON.parse(r.text);
  assert.equal(json.object, "chat.completion");
  assert.equal(json.choices[0].message.content, simulatorReply(question));
}

describe("429 with a retry hint, then OK", () => {
  test("429-retry-after-seconds: n × 429 with the Retry-After given (fractional kept), then a normal answer", T, async () => {
    const key = freshKey("ras");
    const path = `/fault/429-retry-after-seconds/${key}/2/0.2/v1/chat/completions`;
    for (const attempt of [1, 2]) {
      const r = await call(path);
      assert.equal(r.status, 429);
      assert.equal(r.headers.get("retry-after"), "0.2");
      assert.equal(r.headers.get("retry-after-ms"), null);
      assert.match(r.headers.get("content-type"), /^application\/json/);
      assert.equal(r.headers.get("x-request-id"), `req-429-retry-after-seconds-${key}-${attempt}`);
      const body = JSON.parse(r.text);
      assert.equal(body.error.code, "rate_limit_exceeded");
      assert.equal(typeof body.error.message, "string");
      assert.match(body.error.message, new RegExp(`attempt ${attempt} of 2`));
    }
    assertSimulatorJson(await call(path));
    assertSimulatorJson(await call(path), "retry me");
    assert.equal(fx.count(`/fault/429-retry-after-seconds/${key}/`), 4);
    assert.equal(fx.counters()[`429-retry-after-seconds:${key}`], 4);
  });

  test("429-retry-after-seconds: the OK answer streams when the request asks for a stream", T, async () => {
    const key = freshKey("ras-stream");
    const path = `/fault/429-retry-after-seconds/${key}/1/1/v1/chat/completions`;
    const body = chatBody("stream after a 429", { stream: true });
    const first = await call(path, body);
    assert.equal(first.status, 429);
    assert.equal(first.headers.get("retry-after"), "1");
    const ok = await call(path, body);
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get("content-type"), /^text\/event-stream/);
    const { text, done } = streamText(ok.text);
    assert.ok(done, "ends with [DONE]");
    assert.equal(text, simulatorReply("stream after a 429"));
  });

  test("429-retry-after-date: Retry-After is an IMF-fixdate at least <ms> ahead, rounded up to the second", T, async () => {
    const key = freshKey("rad");
    const path = `/fault/429-retry-after-date/${key}/1/1500/v1/chat/completions`;
    const before = Date.now();
    const r = await call(path);
    const after = Date.now();
    assert.equal(r.status, 429);
    const header = r.headers.get("retry-after");
    assert.match(header, /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/);
    const at = Date.parse(header);
    assert.equal(at % 1000, 0, "whole seconds");
    assert.ok(at >= before + 1500, `the date (${at}) is at least 1500 ms after the request (${before})`);
    assert.ok(at < after + 1500 + 1000, "rounded up by less than a second");
    assertSimulatorJson(await call(path));
    assert.equal(fx.count(`/fault/429-retry-after-date/${key}/`), 2);
  });

  test("httpDateAfter rounds up to the next whole second and keeps exact seconds", () => {
    assert.equal(httpDateAfter(0, Date.UTC(2025, 0, 2, 3, 4, 5, 1)), "Thu, 02 Jan 2025 03:04:06 GMT");
    assert.equal(httpDateAfter(1000, Date.UTC(2025, 0, 2, 3, 4, 5, 0)), "Thu, 02 Jan 2025 03:04:06 GMT");
    assert.equal(httpDateAfter(1, Date.UTC(2025, 0, 2, 3, 4, 5, 0)), "Thu, 02 Jan 2025 03:04:06 GMT");
  });

  test("429-retry-after-ms: retry-after-ms only, n times, then OK", T, async () => {
    const key = freshKey("rams");
    const path = `/fault/429-retry-after-ms/${key}/2/250/v1/chat/completions`;
    for (let i = 0; i < 2; i++) {
      const r = await call(path);
      assert.equal(r.status, 429);
      assert.equal(r.headers.get("retry-after-ms"), "250");
      assert.equal(r.headers.get("retry-after"), null);
    }
    assertSimulatorJson(await call(path));
    assert.equal(fx.count(`/fault/429-retry-after-ms/${key}/`), 3);
  });

  test("429-none: 429 without any retry hint, n times, then OK", T, async () => {
    const key = freshKey("none");
    const path = `/fault/429-none/${key}/1/v1/chat/completions`;
    const r = await call(path);
    assert.equal(r.status, 429);
    for (const h of ["retry-after", "retry-after-ms", "ratelimit", "ratelimit-policy", "x-should-retry"]) assert.equal(r.headers.get(h), null, h);
    assert.equal(JSON.parse(r.text).error.code, "rate_limit_exceeded");
    assertSimulatorJson(await call(path));
  });

  test("ratelimit-header: IETF RateLimit and RateLimit-Policy, no Retry-After, n times, then OK", T, async () => {
    const key = freshKey("rl");
    const path = `/fault/ratelimit-header/${key}/2/3/v1/chat/completions`;
    for (let i = 0; i < 2; i++) {
      const r = await call(path);
      assert.equal(r.status, 429);
      assert.equal(r.headers.get("ratelimit"), "limit=10, remaining=0, reset=3");
      assert.equal(r.headers.get("ratelimit-policy"), "10;w=60");
      assert.equal(r.headers.get("retry-after"), null);
    }
    assertSimulatorJson(await call(path));
  });

  test("n = 0 answers OK at once", T, async () => {
    const key = freshKey("zero");
    assertSimulatorJson(await call(`/fault/429-retry-after-seconds/${key}/0/5/v1/chat/completions`));
  });
});

describe("errors on every request", () => {
  test("429-huge: always 429 with Retry-After: 86400", T, async () => {
    const key = freshKey("huge");
    for (let i = 0; i < 3; i++) {
      const r = await call(`/fault/429-huge/${key}/v1/chat/completions`);
      assert.equal(r.status, 429);
      assert.equal(r.headers.get("retry-after"), "86400");
    }
    assert.equal(fx.count(`/fault/429-huge/${key}/`), 3);
  });

  test("429-quota: always 429 insufficient_quota, body byte for byte", T, async () => {
    const key = freshKey("quota");
    for (let i = 0; i < 2; i++) {
      const r = await call(`/fault/429-quota/${key}/v1/chat/completions`);
      assert.equal(r.status, 429);
      assert.equal(r.headers.get("retry-after"), null);
      assert.equal(r.text, FAULT_BODIES.quota);
      assert.deepEqual(JSON.parse(r.text), {
        error: {
          message: "You exceeded your current quota, please check your plan and billing details.",
          type: "insufficient_quota",
          code: "insufficient_quota",
        },
      });
    }
  });

  test("402-credits: always 402 with the router's credits body", T, async () => {
    const key = freshKey("credits");
    for (let i = 0; i < 2; i++) {
      const r = await call(`/fault/402-credits/${key}/v1/chat/completions`);
      assert.equal(r.status, 402);
      assert.equal(
        r.text,
        '{"error":"You have exceeded your monthly included credits for Inference Providers. Subscribe to PRO to get 20x more monthly included credits."}',
      );
    }
    assert.equal(fx.count(`/fault/402-credits/${key}/`), 2);
  });

  test("500-always: always 500 with an OpenAI-shaped server_error", T, async () => {
    const key = freshKey("500");
    for (let i = 0; i < 3; i++) {
      const r = await call(`/fault/500-always/${key}/v1/chat/completions`);
      assert.equal(r.status, 500);
      assert.equal(JSON.parse(r.text).error.type, "server_error");
    }
  });

  test("400: always 400 invalid_request_error, body byte for byte", T, async () => {
    const key = freshKey("400");
    for (let i = 0; i < 2; i++) {
      const r = await call(`/fault/400/${key}/v1/chat/completions`);
      assert.equal(r.status, 400);
      assert.equal(r.text, '{"error":{"message":"bad request: messages must not be empty","type":"invalid_request_error"}}');
      assert.equal(r.headers.get("x-should-retry"), null);
    }
  });

  test("x-should-retry-false: always 503 with x-should-retry: false", T, async () => {
    const key = freshKey("nsr");
    for (let i = 0; i < 2; i++) {
      const r = await call(`/fault/x-should-retry-false/${key}/v1/chat/completions`);
      assert.equal(r.status, 503);
      assert.equal(r.headers.get("x-should-retry"), "false");
    }
    assert.equal(fx.count(`/fault/x-should-retry-false/${key}/`), 2);
  });
});

describe("retryable failures, then OK", () => {
  test("503-then-ok: n × 503 model loading (estimated_time spelled 2.0), then OK", T, async () => {
    const key = freshKey("503");
    const path = `/fault/503-then-ok/${key}/2/v1/chat/completions`;
    for (let i = 0; i < 2; i++) {
      const r = await call(path);
      assert.equal(r.status, 503);
      assert.equal(r.text, '{"error":"Model is currently loading","estimated_time":2.0}');
      assert.match(r.headers.get("content-type"), /^application\/json/);
    }
    assertSimulatorJson(await call(path));
    assert.equal(fx.count(`/fault/503-then-ok/${key}/`), 3);
  });

  test("fail-then-ok keeps working beside 503-then-ok", T, async () => {
    const key = freshKey("fto");
    const path = `/fault/fail-then-ok/503/1/${key}/v1/chat/completions`;
    assert.equal((await call(path)).status, 503);
    assertSimulatorJson(await call(path));
  });

  test("x-should-retry-true: n × 400 with x-should-retry: true, then OK", T, async () => {
    const key = freshKey("sr");
    const path = `/fault/x-should-retry-true/${key}/2/v1/chat/completions`;
    for (let i = 0; i < 2; i++) {
      const r = await call(path);
      assert.equal(r.status, 400);
      assert.equal(r.headers.get("x-should-retry"), "true");
    }
    assertSimulatorJson(await call(path));
  });

  test("reset-then-ok: the socket is destroyed before headers n times, then OK", T, async () => {
    const key = freshKey("reset");
    const path = `/fault/reset-then-ok/${key}/2/v1/chat/completions`;
    for (let i = 0; i < 2; i++) await assert.rejects(post(path), TypeError);
    const entries = fx.requests.filter((r) => r.path.startsWith(`/fault/reset-then-ok/${key}/`));
    assert.equal(entries.length, 2);
    await waitFor(() => entries.every((e) => e.closedAt), { message: "the reset connections to close" });
    for (const e of entries) {
      assert.equal(e.status, null, "no headers were sent");
      assert.equal(e.aborted, true);
    }
    assertSimulatorJson(await call(path));
    assert.equal(fx.count(`/fault/reset-then-ok/${key}/`), 3);
  });
});

describe("counters", () => {
  test("keys are independent, and so are fault names sharing a key", T, async () => {
    const a = freshKey("a");
    const b = freshKey("b");
    assert.equal((await call(`/fault/429-none/${a}/1/v1/chat/completions`)).status, 429);
    assert.equal((await call(`/fault/429-none/${b}/1/v1/chat/completions`)).status, 429);
    assert.equal((await call(`/fault/503-then-ok/${a}/1/v1/chat/completions`)).status, 503);
    assert.equal((await call(`/fault/429-none/${a}/1/v1/chat/completions`)).status, 200);
    const counters = fx.counters();
    assert.equal(counters[`429-none:${a}`], 2);
    assert.equal(counters[`429-none:${b}`], 1);
    assert.equal(counters[`503-then-ok:${a}`], 1);
  });

  test("parallel requests on one key are counted exactly: n fail, the rest succeed", T, async () => {
    const key = freshKey("par");
    const path = `/fault/429-none/${key}/3/v1/chat/completions`;
    const results = await Promise.all(Array.from({ length: 8 }, () => call(path)));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
  });

  test("the log marks each attempt, GET /__counters shows the counters, POST /__reset clears them", T, async () => {
    const key = freshKey("log");
    const path = `/fault/429-huge/${key}/v1/chat/completions`;
    await call(path);
    await call(path);
    const log = await (await fetch(fx.url + "/__requests", { signal: limit() })).json();
    const mine = log.filter((r) => r.path.startsWith(`/fault/429-huge/${key}/`));
    assert.deepEqual(mine.map((r) => r.fault), [
      { name: "429-huge", key, attempt: 1 },
      { name: "429-huge", key, attempt: 2 },
    ]);
    assert.deepEqual(mine.map((r) => r.status), [429, 429]);
    let counters = await (await fetch(fx.url + "/__counters", { signal: limit() })).json();
    assert.equal(counters[`429-huge:${key}`], 2);
    const n = `/fault/429-none/${key}/1/v1/chat/completions`;
    assert.equal((await call(n)).status, 429);
    assert.equal((await call(n)).status, 200);
    assert.equal((await fetch(fx.url + "/__reset", { method: "POST", signal: limit() })).status, 204);
    counters = await (await fetch(fx.url + "/__counters", { signal: limit() })).json();
    assert.deepEqual(counters, {});
    assert.equal((await call(n)).status, 429, "the counter starts again after a reset");
  });

  test("a stateful fault with missing or bad arguments is a 400 naming its usage", T, async () => {
    for (const [path, usage] of [
      ["/fault/429-retry-after-seconds/k/2", "<key>/<n>/<secs>"],
      ["/fault/429-retry-after-seconds/k/two/1/v1/chat/completions", "<key>/<n>/<secs>"],
      ["/fault/429-retry-after-seconds/k/1/-1/v1/chat/completions", "<key>/<n>/<secs>"],
      ["/fault/429-retry-after-date/k/1", "<key>/<n>/<ms>"],
      ["/fault/503-then-ok/k/x/v1/chat/completions", "<key>/<n>"],
      ["/fault/429-huge", "<key>"],
    ]) {
      const r = await call(path);
      assert.equal(r.status, 400, path);
      const err = JSON.parse(r.text).error;
      assert.equal(err.code, "bad_fixture_path", path);
      assert.ok(err.message.includes(usage), `${path}: ${err.message}`);
    }
  });

  test("every fault documents itself in the README table", T, async () => {
    const { readFile } = await import("node:fs/promises");
    const readme = await readFile(new URL("../fixture-server/README.md", import.meta.url), "utf8");
    for (const name of Object.keys(faults)) assert.ok(readme.includes(`\`${name}`), `README mentions ${name}`);
  });
});

describe("mid-stream drop", () => {
  test("drop-after-first-delta: SSE headers, a role chunk, one content chunk, then the socket is destroyed", T, async () => {
    const res = await post("/fault/drop-after-first-delta/v1/chat/completions", chatBody("x", { stream: true }));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let text = "";
    let failure;
    for (;;) {
      let r;
      try {
        r = await reader.read();
      } catch (e) {
        failure = e;
        break;
      }
      if (r.done) break;
      text += dec.decode(r.value, { stream: true });
    }
    assert.ok(failure, "the body ends in an error, not a clean end");
    const chunks = parseSse(text).map((e) => JSON.parse(e.data));
    assert.equal(chunks.length, 2);
    assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
    assert.deepEqual(chunks[1].choices[0].delta, { content: FAULT_FIRST_DELTA });
    assert.equal(FAULT_FIRST_DELTA, "Hello");
    assert.ok(!text.includes("[DONE]"));
  });

  test("drop-mid keeps working beside it", T, async () => {
    const res = await post("/fault/drop-mid/v1/chat/completions", chatBody("x", { stream: true }));
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
  });
});
