// End-to-end tests of the published package, imported the way users import it, against the
// loopback fixture server. Run: node --test tests/js/client.test.mjs
//
// Each test names one behaviour of the declared API (js/index.d.ts). Every wait is bounded.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";

import { InferenceClient, InferenceError, ChatStream } from "hf-inference-wasm";

import {
  startFixtureServer,
  scripts,
  simulate,
  simulatorReply,
  FAULT_PARTIAL_TEXT,
  SPLITS,
  SECRET,
  waitFor,
  settle,
  within,
  parseSse,
  referenceChat,
  chatStreamRecordings,
  closedPort,
  unhandledRejectionSpy,
  replayPath,
  sleep,
  loadRecordings,
} from "./helpers.mjs";
import { scriptBytes } from "../fixture-server/scripts.mjs";

const RECORDINGS = await loadRecordings();
const T = { timeout: 10_000 };
const SLOW = { timeout: 60_000 };
const REQ = Object.freeze({ model: "fixture/tiny-chat", messages: [{ role: "user", content: "Say hello to the fixtures" }] });
const req = (extra = {}) => ({ model: REQ.model, messages: [{ role: "user", content: "Say hello to the fixtures" }], ...extra });

let fx;
let spy;
before(async () => {
  fx = await startFixtureServer();
  spy = unhandledRejectionSpy();
});
after(async () => {
  spy?.stop();
  await fx?.close();
});

/** A client for `fx.url + path` (the path is a fixture scenario prefix). */
const client = (path = "", options = {}) => new InferenceClient({ endpointUrl: fx.url + path, ...options });

/** Requests logged since `mark` (a length of `fx.requests` taken earlier). */
const since = (mark) => fx.requests.slice(mark);

/** choice 0 of a completion */
const choice0 = (completion) => completion.choices.find((c) => c.index === 0) ?? completion.choices[0];
const contentOf = (completion) => choice0(completion)?.message?.content ?? "";

/** Stream with every callback recorded; drives the stream with finalCompletion(). */
async function runCallbacks(c, request = req(), options = {}, { afterStart } = {}) {
  const rec = { deltas: [], snapshots: [], chunks: [], finishes: [], errors: [], aborts: [] };
  const stream = c.chatCompletionStream(request, {
    ...options,
    onContent(delta, snapshot) {
      rec.deltas.push(delta);
      rec.snapshots.push(snapshot);
      options.onContent?.(delta, snapshot, rec);
    },
    onChunk: (chunk) => rec.chunks.push(chunk),
    onFinish: (f) => rec.finishes.push(f),
    onError: (e) => rec.errors.push(e),
    onAbort: (p) => rec.aborts.push(p),
  });
  rec.stream = stream;
  const final = settle(() => stream.finalCompletion());
  if (afterStart) await afterStart(rec);
  rec.result = await within(final, 20_000, "finalCompletion()");
  await new Promise((r) => setImmediate(r)); // callbacks scheduled right after the end
  return rec;
}

/** Iterate with `for await`; returns the chunks, the text of choice 0, and any error thrown. */
async function runIterate(stream, { breakWhen } = {}) {
  const out = { chunks: [], text: "", error: undefined };
  const loop = (async () => {
    for await (const chunk of stream) {
      out.chunks.push(chunk);
      const ch = chunk.choices?.find((c) => c.index === 0);
      if (typeof ch?.delta?.content === "string") out.text += ch.delta.content;
      if (breakWhen && breakWhen(out)) break;
    }
  })();
  try {
    await within(loop, 20_000, "for await");
  } catch (e) {
    out.error = e;
  }
  return out;
}

/** The snapshots passed to onContent grow by exactly the deltas. */
function assertSnapshots(rec) {
  let acc = "";
  rec.deltas.forEach((d, i) => {
    assert.equal(typeof d, "string");
    acc += d;
    assert.equal(rec.snapshots[i], acc, `snapshot ${i}`);
  });
}

function assertUsage(actual, expected, what = "usage") {
  if (expected === undefined) {
    assert.equal(actual, undefined, `${what} must be absent (never zeros or NaN)`);
    return;
  }
  assert.ok(actual && typeof actual === "object", `${what} present`);
  for (const [k, v] of Object.entries(expected)) assert.equal(actual[k], v, `${what}.${k}`);
}

/** An InferenceError of `kind`, a real Error, with a useful message. */
function assertInferenceError(err, kind) {
  assert.ok(err instanceof InferenceError, `expected an InferenceError, got ${inspect(err)}`);
  assert.ok(err instanceof Error, "InferenceError is an Error");
  assert.equal(err.name, "InferenceError");
  assert.equal(err.kind, kind, `kind (message: ${err.message})`);
  assert.equal(typeof err.message, "string");
  assert.ok(err.message.length > 0);
  assert.ok(!err.message.includes("[object Object]"), err.message);
  assert.equal(typeof err.retryable, "boolean");
}

/** The token appears nowhere in what an error shows. */
function assertNoSecret(err) {
  for (const [what, text] of [
    ["message", err.message],
    ["body", err.body ?? ""],
    ["String(err)", String(err)],
    ["JSON.stringify(err)", JSON.stringify(err) ?? ""],
    ["stack", err.stack ?? ""],
    ["inspect(err)", inspect(err, { depth: 5 })],
  ]) {
    assert.ok(!String(text).includes(SECRET), `the token leaked into ${what}`);
  }
}

async function noNewUnhandled(mark) {
  await spy.settle();
  assert.deepEqual(spy.seen.slice(mark), [], "no unhandled rejections");
}

// -----------------------------------------------------------------------------------------------
describe("streams scripted bodies byte-exactly at every split", () => {
  const OK_SCRIPTS = ["emoji", "usage", "no-usage", "reasoning", "tool-calls", "heartbeats", "unterminated-final", "done-no-space", "done-then-garbage", "invalid-utf8"];
  for (const name of OK_SCRIPTS) {
    const expected = scripts[name].expected;
    describe(name, () => {
      for (const split of SPLITS) {
        test(`callbacks and for-await${split || " (no split)"}`, T, async () => {
          // Callbacks.
          const rec = await runCallbacks(client(`${split}/script/${name}`));
          assert.ok(rec.result.ok, `finalCompletion rejected: ${rec.result.error && inspect(rec.result.error)}`);
          const completion = rec.result.value;
          assert.equal(rec.deltas.join(""), expected.text);
          assertSnapshots(rec);
          assert.equal(contentOf(completion), expected.text);
          assert.equal(choice0(completion).finish_reason, expected.finishReason);
          assertUsage(completion.usage, expected.usage);
          assert.equal(rec.errors.length, 0, `onError: ${rec.errors.map((e) => e.message)}`);
          assert.equal(rec.aborts.length, 0);
          assert.equal(rec.finishes.length, 1, "onFinish exactly once");
          const fin = rec.finishes[0];
          assert.equal(fin.aborted, false);
          assert.equal(fin.truncated, false);
          assert.equal(fin.finishReason, expected.finishReason);
          assertUsage(fin.usage, expected.usage, "onFinish usage");
          assert.equal(contentOf(fin.completion), expected.text);
          assert.ok(rec.chunks.length > 0, "onChunk called");
          assert.equal(rec.stream.ended, true);
          if (expected.reasoning !== undefined) assert.equal(choice0(completion).message.reasoning_content, expected.reasoning);

          // for await over the same scenario.
          const stream = client(`${split}/script/${name}`).chatCompletionStream(req());
          const it = await runIterate(stream);
          assert.equal(it.error, undefined, it.error && inspect(it.error));
          assert.equal(it.text, expected.text);
          const again = await within(stream.finalCompletion(), 5_000, "finalCompletion() after iterating");
          assert.equal(contentOf(again), expected.text);
          assert.equal(stream.ended, true);
        });
      }
    });
  }

  test("text() resolves with the text of choice 0 at several splits", T, async () => {
    for (const split of ["", "/split/1", "/split/random/9"]) {
      const text = await within(client(`${split}/script/emoji`).chatCompletionStream(req()).text(), 5_000, "text()");
      assert.equal(text, scripts.emoji.expected.text, split);
    }
  });

  test("the final completion keeps the stream's id and model", T, async () => {
    const completion = await within(client("/script/usage").chatCompletionStream(req()).finalCompletion(), 5_000);
    assert.equal(completion.id, "chatcmpl-fixture-script");
    assert.equal(completion.model, "fixture/scripted");
    assert.equal(choice0(completion).message.role, "assistant");
  });

  test("tool-call arguments are accumulated into message.tool_calls", T, async () => {
    for (const split of ["", "/split/1", "/split/random/5"]) {
      const completion = await within(client(`${split}/script/tool-calls`).chatCompletionStream(req()).finalCompletion(), 5_000);
      const want = scripts["tool-calls"].expected.toolCalls[0];
      const calls = choice0(completion).message.tool_calls;
      assert.ok(Array.isArray(calls) && calls.length === 1, `tool_calls: ${inspect(calls)}`);
      assert.equal(calls[0].id, want.id);
      assert.equal(calls[0].type, want.type);
      assert.equal(calls[0].function.name, want.function.name);
      assert.equal(calls[0].function.arguments, want.function.arguments);
      assert.deepEqual(JSON.parse(calls[0].function.arguments), { location: "Paris, France", unit: "celsius" });
      assert.equal(choice0(completion).finish_reason, "tool_calls");
    }
  });

  test("after [DONE] the client stops reading and releases the connection", T, async () => {
    const mark = fx.requests.length;
    const rec = await runCallbacks(client("/split/random/3/script/done-then-garbage"));
    assert.ok(rec.result.ok);
    assert.ok(!rec.deltas.join("").includes("SHOULD NOT APPEAR"));
    const entry = since(mark)[0];
    await waitFor(() => entry.closedAt, { message: "the server to see the connection closed after [DONE]" });
  });

  test("a simulator stream reports the usage the server sent (include_usage is on by default)", T, async () => {
    const completion = await within(client().chatCompletionStream(req()).finalCompletion(), 5_000);
    const sim = simulate(req());
    assert.equal(contentOf(completion), sim.text);
    assertUsage(completion.usage, sim.usage);
  });
});

// -----------------------------------------------------------------------------------------------
describe("replays every recorded chat stream the same way at any split", () => {
  test("the fixtures hold recorded chat streams", () => {
    assert.ok(chatStreamRecordings(fx.recordings).length >= 30);
  });

  async function outcome(path) {
    const stream = client(path).chatCompletionStream(req());
    const r = await within(settle(() => stream.finalCompletion()), 30_000, `stream ${path}`);
    if (r.ok) return { ok: true, text: contentOf(r.value), finish: choice0(r.value)?.finish_reason ?? null };
    assert.ok(r.error instanceof InferenceError, inspect(r.error));
    return { ok: false, kind: r.error.kind, text: r.error.partial ? contentOf(r.error.partial) : "" };
  }

  // One test per recording, named by id (the list is read at load time).
  const ids = chatStreamRecordings(RECORDINGS).map((r) => r.id);
  for (const id of ids) {
    test(`recording ${id}`, SLOW, async () => {
      const rec = fx.recordings.get(id);
      const base = await outcome(replayPath(id));
      const ref = referenceChat(rec.body);
      if (!ref.error) {
        assert.equal(base.text, ref.text, "text equals the recorded deltas joined");
        if (ref.finishReason) assert.ok(base.ok, `a stream with a finish reason completes (got ${base.kind})`);
      }
      // One byte per write costs the server a TCP segment each: the two recordings over
      // 16 KB (70 and 100 KB) are split into 3-byte pieces instead, which still cuts
      // every multi-byte character and every line somewhere.
      const finest = rec.body.length > 16384 ? "/split/3" : "/split/1";
      for (const split of [finest, "/split/random/7", "/split/random/2024"]) {
        assert.deepEqual(await outcome(split + replayPath(id)), base, `same outcome at ${split}`);
      }
    });
  }
});

// -----------------------------------------------------------------------------------------------
describe("chunk objects: each one as JSON.parse reads its data", () => {
  /** A `fetch` answering with `body` (a string) in pieces of `piece` bytes. */
  const bodyFetch = (body, piece) => async () => {
    const bytes = new TextEncoder().encode(body);
    return new Response(
      new ReadableStream({
        start(c) {
          for (let i = 0; i < bytes.length; i += piece) c.enqueue(bytes.slice(i, i + piece));
          c.close();
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  };
  const over = (body, piece, options = {}) => new InferenceClient({ endpointUrl: "http://127.0.0.1:9/v1", fetch: bodyFetch(body, piece), retry: false, ...options });
  /** Each chunk event's data made an object, up to `[DONE]` or an error, in key order;
   *  of an unterminated last event followed by stray bytes, its leading object (as the
   *  client reads it). */
  function reference(body) {
    const out = [];
    const events = parseSse(body + "\n\n");
    const leading = (data) => {
      for (let end = data.lastIndexOf("}"); end > 0; end = data.lastIndexOf("}", end - 1)) {
        try {
          return JSON.parse(data.slice(0, end + 1));
        } catch {}
      }
      return undefined;
    };
    for (const [i, ev] of events.entries()) {
      if (ev.event !== "message") break;
      const data = ev.data.trim();
      if (data === "") continue;
      if (data === "[DONE]") break;
      let obj;
      try {
        obj = JSON.parse(data);
      } catch {
        obj = i === events.length - 1 && !/[\r\n]$/.test(body) ? leading(data) : undefined;
      }
      if (obj === undefined) break;
      out.push(JSON.stringify(obj));
    }
    return out;
  }
  /** What `for await` and `onChunk` yield, as JSON text (key order shows). */
  async function yielded(body, piece) {
    const iterated = [];
    let error;
    const stream = over(body, piece).chatCompletionStream(req());
    try {
      for await (const chunk of stream) iterated.push(JSON.stringify(chunk));
    } catch (e) {
      error = e;
    }
    const fromCallback = [];
    const cb = over(body, piece).chatCompletionStream(req(), { onChunk: (c) => fromCallback.push(JSON.stringify(c)) });
    await settle(() => cb.finalCompletion());
    return { iterated, fromCallback, error };
  }

  test("every recorded chat stream, whole and in pieces of 1, 7 and 64 bytes", SLOW, async () => {
    const recs = chatStreamRecordings(RECORDINGS);
    assert.ok(recs.length >= 30);
    for (const rec of recs) {
      const want = reference(rec.body);
      for (const piece of [1, 7, 64, 1 << 20]) {
        const got = await within(yielded(rec.body, piece), 30_000, rec.id);
        const n = got.iterated.length;
        assert.deepEqual(got.iterated, want.slice(0, n), `${rec.id}, ${piece}-byte pieces: for await`);
        assert.deepEqual(got.fromCallback, got.iterated, `${rec.id}, ${piece}-byte pieces: onChunk`);
        if (got.error === undefined) assert.equal(n, want.length, `${rec.id}: every chunk`);
      }
    }
  });

  test("chunks that differ in one string: nested, escaped, `__proto__` keys, duplicates", T, async () => {
    const chunks = [];
    const make = (a, b, c, d) =>
      `{"id":"c","__proto__":"${a}","choices":[{"index":0,"delta":{"content":"${b}","f\\u006fo":"x","foo":"${c}"},"finish_reason":null}],"x":[{"__proto__":{"polluted":"${d}"}}]}`;
    const rows = [
      ["p", "Hel", "1", "q"],
      ["p", "lo", "1", "q"],
      ["p2", "lo", "1", "q"],
      ["p2", "\\n\\\"", "1", "q"],
      ["p2", "\\n\\\"", "2", "q"],
      ["p2", "\\n\\\"", "2", "q2"],
      ["p2", "\\n\\\"", "2", "q2"],
      ["p2", "😀", "2", "q2"],
    ];
    for (const r of rows) chunks.push(make(...r));
    const body = chunks.map((c) => `data: ${c}\n\n`).join("") + "data: [DONE]\n\n";
    const want = chunks.map((c) => JSON.stringify(JSON.parse(c)));
    for (const piece of [1, 5, 1 << 20]) {
      const got = await yielded(body, piece);
      assert.equal(got.error, undefined);
      assert.deepEqual(got.iterated, want, `${piece}-byte pieces`);
      assert.deepEqual(got.fromCallback, want);
    }
    // Each chunk is its own object, as from JSON.parse: an own `__proto__` key, not a prototype.
    const stream = over(body, 1 << 20).chatCompletionStream(req());
    const seen = [];
    for await (const chunk of stream) {
      assert.equal(Object.getPrototypeOf(chunk), Object.prototype);
      assert.ok(Object.hasOwn(chunk, "__proto__"));
      assert.equal(Object.getPrototypeOf(chunk.x[0]), Object.prototype);
      // What a caller does to one chunk shows in no other.
      seen.push(JSON.stringify(chunk));
      chunk.choices[0].delta.content = "changed";
      chunk.x[0].__proto__.polluted = "changed";
      chunk.id = "changed";
    }
    assert.deepEqual(seen, want);
    assert.equal({}.polluted, undefined);
  });
});

// -----------------------------------------------------------------------------------------------
describe("errors inside a stream", () => {
  for (const name of ["error-event", "error-json"]) {
    const expected = scripts[name].expected;
    for (const split of ["", "/split/1", "/split/random/42"]) {
      test(`${name}${split}: chunks before it are delivered, then kind stream`, T, async () => {
        const rec = await runCallbacks(client(`${split}/script/${name}`));
        assert.equal(rec.deltas.join(""), expected.text);
        assert.ok(!rec.result.ok, "finalCompletion rejects");
        const err = rec.result.error;
        assertInferenceError(err, "stream");
        assert.equal(err.code, expected.error.code);
        assert.ok(err.message.includes(expected.error.message), err.message);
        assert.equal(rec.errors.length, 1, "onError once");
        assert.equal(rec.errors[0].kind, "stream");
        assert.ok(err.partial, "partial is set");
        assert.equal(contentOf(err.partial), expected.text);
        assert.equal(rec.stream.ended, true);

        const it = await runIterate(client(`${split}/script/${name}`).chatCompletionStream(req()));
        assert.equal(it.text, expected.text);
        assertInferenceError(it.error, "stream");
        assert.equal(it.error.code, expected.error.code);
      });
    }
  }

  for (const split of ["", "/split/1", "/split/random/8"]) {
    test(`malformed JSON${split}: kind parse, with the offending data in body`, T, async () => {
      const expected = scripts["malformed-json"].expected;
      const rec = await runCallbacks(client(`${split}/script/malformed-json`));
      assert.equal(rec.deltas.join(""), expected.text);
      assert.ok(!rec.result.ok);
      assertInferenceError(rec.result.error, "parse");
      assert.ok(typeof rec.result.error.body === "string" && rec.result.error.body.includes(expected.error.data), `body: ${rec.result.error.body}`);
      assert.equal(contentOf(rec.result.error.partial), expected.text);
      assert.equal(rec.errors.length, 1);
    });

    test(`truncated${split}: kind truncated, partial kept, onFinish({truncated: true})`, T, async () => {
      const expected = scripts.truncated.expected;
      const rec = await runCallbacks(client(`${split}/script/truncated`));
      assert.equal(rec.deltas.join(""), expected.text);
      assert.ok(!rec.result.ok);
      const err = rec.result.error;
      assertInferenceError(err, "truncated");
      assert.ok(err.partial, "partial is set");
      assert.equal(contentOf(err.partial), expected.text);
      assert.equal(rec.finishes.length, 1, "onFinish once");
      assert.equal(rec.finishes[0].truncated, true);
      assert.equal(rec.finishes[0].aborted, false);
      assert.equal(contentOf(rec.finishes[0].completion), expected.text);
      assert.equal(rec.errors.length, 1, "onError is called for a truncated stream too");
      assert.equal(rec.errors[0].kind, "truncated");
    });
  }

  test("a line over limits.maxLineBytes fails with code line_too_long, keeping what came before", T, async () => {
    const expected = scripts["huge-line"].expected;
    for (const split of ["", "/split/4096"]) {
      const rec = await runCallbacks(client(`${split}/script/huge-line`, { limits: { maxLineBytes: 65536 } }));
      assert.equal(rec.deltas.join(""), expected.before);
      assert.ok(!rec.result.ok);
      const err = rec.result.error;
      assertInferenceError(err, "stream");
      assert.equal(err.code, "line_too_long");
      assert.equal(contentOf(err.partial), expected.before);
      assert.ok(!rec.deltas.join("").includes("xxxx"), "nothing of the huge line delivered");
    }
  });

  test("the default line limit (1 MiB) also rejects a 2 MiB line", T, async () => {
    const rec = await runCallbacks(client("/script/huge-line"));
    assert.ok(!rec.result.ok);
    assertInferenceError(rec.result.error, "stream");
    assert.equal(rec.result.error.code, "line_too_long");
    assert.equal(rec.deltas.join(""), scripts["huge-line"].expected.before);
  });

  test("a raised line limit accepts the 2 MiB line", T, async () => {
    const rec = await runCallbacks(client("/split/65536/script/huge-line", { limits: { maxLineBytes: 4 * 1024 * 1024 } }));
    assert.ok(rec.result.ok, rec.result.error && rec.result.error.message);
    assert.equal(contentOf(rec.result.value), scripts["huge-line"].expected.text);
  });

  test("drop-mid: the connection drops after two chunks; the text so far is kept", T, async () => {
    const rec = await runCallbacks(client("/fault/drop-mid"));
    assert.equal(rec.deltas.join(""), FAULT_PARTIAL_TEXT);
    assert.ok(!rec.result.ok);
    assert.ok(rec.result.error instanceof InferenceError);
    assert.ok(["network", "truncated"].includes(rec.result.error.kind), rec.result.error.kind);
    assert.equal(contentOf(rec.result.error.partial), FAULT_PARTIAL_TEXT);
  });
});

// -----------------------------------------------------------------------------------------------
describe("the pump: one read of the body at a time", () => {
  test("next() called many times without awaiting yields every chunk once, in order", T, async () => {
    const expected = scripts.emoji.expected.text;
    for (const split of ["", "/split/1", "/split/random/5"]) {
      const stream = client(`${split}/script/emoji`).chatCompletionStream(req());
      // Far more calls than chunks, all at once: each settles in call order.
      const steps = await within(Promise.all(Array.from({ length: 400 }, () => stream.next())), 5_000, "400 next() calls");
      const firstDone = steps.findIndex((s) => s.done);
      assert.ok(firstDone > 0, `some chunks, then done (${split})`);
      assert.ok(steps.slice(firstDone).every((s) => s.done && s.value === undefined), "done stays done");
      const text = steps
        .slice(0, firstDone)
        .map((s) => s.value.choices?.[0]?.delta?.content ?? "")
        .join("");
      assert.equal(text, expected, split);
    }
  });

  test("a read carrying many chunks gives onContent their text joined, and onChunk each chunk", T, async () => {
    // No split: the whole scripted body arrives in one or a few reads.
    const rec = await runCallbacks(client("/script/emoji"));
    assert.ok(rec.result.ok);
    assert.equal(rec.deltas.join(""), scripts.emoji.expected.text);
    assertSnapshots(rec);
    const fromChunks = rec.chunks.map((c) => c.choices?.[0]?.delta?.content ?? "").join("");
    assert.equal(fromChunks, scripts.emoji.expected.text);
    assert.ok(rec.chunks.length >= rec.deltas.length, `${rec.chunks.length} chunks for ${rec.deltas.length} onContent calls`);
  });

  test("an AbortSignal fired after the first chunk ends iteration, even with decoded chunks left", T, async () => {
    const ac = new AbortController();
    const stream = client("/fault/stall-mid").chatCompletionStream(req(), { signal: ac.signal });
    const first = await within(stream.next(), 5_000, "first chunk");
    assert.equal(first.done, false);
    ac.abort();
    const next = await within(stream.next(), 5_000, "next() after the abort");
    assert.deepEqual(next, { done: true, value: undefined });
    assert.equal(stream.ended, true);
    const partial = await within(stream.finalCompletion(), 5_000, "finalCompletion() after the abort");
    assert.ok(FAULT_PARTIAL_TEXT.startsWith(contentOf(partial)), `the partial is a prefix of what was sent: ${inspect(contentOf(partial))}`);
  });

  test("accumulate: false streams every piece to onContent and keeps no text", T, async () => {
    const expected = scripts.emoji.expected.text;
    for (const split of ["", "/split/1"]) {
      const deltas = [];
      const finishes = [];
      const stream = client(`${split}/script/emoji`).chatCompletionStream(req(), { accumulate: false, onContent: (d) => deltas.push(d), onFinish: (f) => finishes.push(f) });
      const text = await within(stream.text(), 5_000, "text()");
      assert.equal(deltas.join(""), expected, split);
      assert.equal(text, "", "nothing was kept");
      assert.equal(finishes.length, 1);
      assert.equal(finishes[0].finishReason, scripts.emoji.expected.finishReason, "the finish reason is still known");
    }
  });

  test("reads of every size keep every byte while the decoding grows the wasm memory", SLOW, async () => {
    // Small reads are copied into one buffer in wasm memory through a view, which a growing
    // memory detaches; bigger ones (over 64 KiB) go as bytes. The text kept is made longer
    // than the whole memory, so it must grow during this stream.
    const memory = () => ChatStream._memory().buffer.byteLength;
    const before = memory();
    const enc = new TextEncoder();
    const pieces = [];
    let expected = "";
    for (let i = 0; expected.length <= before; i++) {
      const delta = `${i} é ${"x".repeat(1000 + (i % 7))}\n`;
      expected += delta;
      pieces.push(`data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", model: "m", choices: [{ index: 0, delta: { content: delta }, finish_reason: null }] })}\n\n`);
    }
    pieces.push(`data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", model: "m", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\ndata: [DONE]\n\n`);
    const body = enc.encode(pieces.join(""));
    // Cut sizes in turn: tiny, just over the inbox, mid-sized, one byte (which splits "é").
    const sizes = [5, 65_537, 13, 20_000, 1, 70_000, 4_096];
    const fetch = async () => {
      let at = 0;
      let turn = 0;
      const stream = new ReadableStream({
        pull(c) {
          if (at >= body.length) return c.close();
          const n = sizes[turn++ % sizes.length];
          c.enqueue(body.slice(at, (at += n)));
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    };
    const deltas = [];
    const c = new InferenceClient({ endpointUrl: "http://127.0.0.1:9/v1", fetch, retry: false });
    const text = await within(c.chatCompletionStream(req(), { onContent: (d) => deltas.push(d) }).text(), 50_000, "text()");
    assert.ok(memory() > before, `the wasm memory grew (${before} -> ${memory()} bytes)`);
    assert.equal(text.length, expected.length);
    assert.ok(text === expected, "text() is the text sent");
    assert.ok(deltas.join("") === expected, "onContent saw the text sent");
  });

  test("free() gives a stream's memory back at once: a loop of freed 1 MB streams keeps the wasm memory flat", SLOW, async () => {
    const memory = () => ChatStream._memory().buffer.byteLength;
    const delta = "x".repeat(4000);
    const chunk = `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", model: "m", choices: [{ index: 0, delta: { content: delta }, finish_reason: null }] })}\n\n`;
    const body = new TextEncoder().encode(chunk.repeat(250) + "data: [DONE]\n\n");
    const fetch = async () => new Response(body, { headers: { "content-type": "text/event-stream" } });
    const c = new InferenceClient({ endpointUrl: "http://127.0.0.1:9/v1", fetch, retry: false });
    const once = async (how) => {
      const stream = c.chatCompletionStream(req());
      let n = 0;
      if (how === "iterate") for await (const ch of stream) n += ch.choices[0].delta.content?.length ?? 0;
      else n = (await stream.text()).length;
      assert.equal(n, delta.length * 250);
      stream.free();
    };
    // The first streams settle the allocator; after them, twelve more of each kind.
    for (const how of ["iterate", "text"]) await once(how);
    const settled = memory();
    for (let i = 0; i < 12; i++) for (const how of ["iterate", "text"]) await once(how);
    assert.ok(memory() - settled <= 2 << 20, `24 freed streams of 1 MB each grew the wasm memory by ${memory() - settled} bytes`);
  });

  test("free() mid-stream: an iterated stream is aborted; one its callbacks drive runs to its end", T, async () => {
    // Iterated: aborted at once, as a collected stream would be (onAbort once, no onFinish of a complete answer).
    const ends = [];
    const iterated = client("/pace/20/script/emoji").chatCompletionStream(req(), { onAbort: () => ends.push("abort"), onFinish: (f) => ends.push(f.aborted ? "finish:aborted" : "finish") });
    const first = await within(iterated.next(), 5_000, "the first chunk");
    assert.equal(first.done, false);
    iterated.free();
    assert.deepEqual(ends, ["abort", "finish:aborted"]);
    // Driven by its callbacks: it runs to the end, and its callbacks see the whole answer.
    const finishes = [];
    const driven = client("/pace/20/script/emoji").chatCompletionStream(req(), { onFinish: (f) => finishes.push(f) });
    driven.free();
    await within(waitFor(() => finishes.length === 1, { timeout: 8_000 }), 10_000, "the driven stream's end");
    assert.equal(finishes[0].aborted, false);
    assert.equal(contentOf(finishes[0].completion), scripts.emoji.expected.text);
  });

  test("anything thrown inside the read loop fails the stream: text() and the callbacks settle", T, async () => {
    // A reader that answers a read with null: the pump cannot read it (a bug it did not
    // foresee), and must not leave the stream pending.
    const fetch = async () => {
      const res = new Response("data: {}\n\n", { headers: { "content-type": "text/event-stream" } });
      const body = res.body;
      const getReader = body.getReader.bind(body);
      body.getReader = () => {
        const r = getReader();
        r.read = () => Promise.resolve(null);
        return r;
      };
      return res;
    };
    const c = new InferenceClient({ endpointUrl: "http://127.0.0.1:9/v1", fetch, retry: false });
    let onError;
    const s = c.chatCompletionStream(req(), { onError: (e) => (onError = e) });
    const err = await within(settle(() => s.text()), 5_000, "text()");
    assert.equal(err.ok, false);
    assert.ok(err.error instanceof InferenceError, String(err.error));
    assert.equal(err.error.kind, "network");
    assert.match(err.error.message, /read loop failed/);
    assert.equal(onError, err.error);
    assert.equal(s.ended, true);
  });

  test("accumulate must be a boolean", T, async () => {
    const err = await settle(() => client("/script/emoji").chatCompletionStream(req(), { accumulate: "no" }).text());
    assert.equal(err.ok, false);
    assertInferenceError(err.error, "input");
    assert.match(err.error.message, /`accumulate` must be true or false, got string/);
  });
});

describe("HTTP errors", () => {
  for (const status of [400, 401, 404, 429, 500, 503]) {
    test(`/status/${status} → InferenceError kind http with status, code and request id`, T, async () => {
      for (const mode of ["json", "stream"]) {
        const c = client(`/status/${status}`, { token: SECRET });
        const r =
          mode === "json"
            ? await within(settle(() => c.chatCompletion(req())), 5_000)
            : await within(settle(() => c.chatCompletionStream(req()).finalCompletion()), 5_000);
        assert.ok(!r.ok, `${mode} rejects`);
        const err = r.error;
        assertInferenceError(err, "http");
        assert.equal(err.status, status);
        assert.equal(err.requestId, `req-${status}`);
        assert.equal(err.code, String(status));
        assert.ok(err.message.includes(`scripted ${status}`), err.message);
        assert.equal(err.retryable, status === 429 || status >= 500, `retryable for ${status}`);
        assert.ok(err.body && err.body.includes(`"scripted ${status}"`), `body: ${err.body}`);
        assertNoSecret(err);
      }
    });
  }

  const RECORDED = [
    { id: "2e0134943b32", status: 422, message: "Failed to deserialize the JSON body", code: undefined },
    { id: "7175cf9e3627", status: 404, message: "404: Not Found", code: undefined },
    { id: "3bc1c8fa82b6", status: 422, message: "Template error: template not found", code: "template_error" },
    { id: "a5c77198e487", status: 400, message: "you must provide a model parameter", code: "invalid_request_error" },
    { id: "8dfb7e10b7ee", status: 404, message: "no Route matched with those values" },
    { id: "e899e1e68342", status: 400, message: "Unsupported data URL" },
    { id: "63ed3f76e28a", status: 422, message: "Field required" },
    { id: "b0164e2ea675", status: 404, message: "Model this-model-does-not-exist-123 does not exist" },
    { id: "TestInferenceClient.test_chat_completion_unprocessable_entity#1", status: 401, message: "Invalid username or password.", requestId: true },
    { id: "test_async_generate_validation_error#1", status: 422, message: "Input validation error", code: "validation", requestId: true },
  ];
  for (const want of RECORDED) {
    test(`recorded error ${want.id} (${want.status})`, T, async () => {
      const rec = fx.recordings.get(want.id);
      assert.ok(rec, "recording exists");
      const c = client(replayPath(want.id), { token: SECRET });
      for (const run of [() => c.chatCompletion(req()), () => c.chatCompletionStream(req()).finalCompletion()]) {
        const r = await within(settle(run), 5_000);
        assert.ok(!r.ok);
        const err = r.error;
        assertInferenceError(err, "http");
        assert.equal(err.status, want.status);
        assert.ok(err.message.includes(want.message), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(want.message)}`);
        if ("code" in want) assert.equal(err.code, want.code);
        assert.equal(err.requestId, want.requestId ? rec.headers["x-request-id"] : undefined);
        assert.equal(err.body, rec.body);
        assertNoSecret(err);
      }
    });
  }
});

// -----------------------------------------------------------------------------------------------
describe("non-stream completions", () => {
  test("chatCompletion against the simulator", T, async () => {
    const request = req({ messages: [{ role: "user", content: "Show me some code" }] });
    const completion = await within(client().chatCompletion(request), 5_000);
    const sim = simulate(request);
    assert.equal(contentOf(completion), simulatorReply("Show me some code"));
    assert.equal(choice0(completion).finish_reason, "stop");
    assert.equal(choice0(completion).message.role, "assistant");
    assert.equal(completion.model, "fixture/tiny-chat");
    assertUsage(completion.usage, sim.usage);
  });

  test("streamed and non-streamed simulator replies carry the same text", T, async () => {
    const c = client();
    const a = await within(c.chatCompletion(req()), 5_000);
    const b = await within(c.chatCompletionStream(req()).finalCompletion(), 5_000);
    assert.equal(contentOf(b), contentOf(a));
  });

  test("every recorded chat completion JSON body, with unknown fields kept", T, async () => {
    const KNOWN = new Set(["id", "object", "created", "model", "system_fingerprint", "choices", "usage"]);
    const recs = [...fx.recordings.values()].filter((r) => r.status === 200 && /json/.test(r.content_type) && /"choices"/.test(r.body));
    assert.ok(recs.length >= 20);
    for (const rec of recs) {
      const original = JSON.parse(rec.body);
      const completion = await within(client(replayPath(rec.id)).chatCompletion(req()), 5_000, rec.id);
      assert.equal(contentOf(completion), original.choices[0].message.content, rec.id);
      assert.equal(choice0(completion).finish_reason, original.choices[0].finish_reason, rec.id);
      assert.equal(completion.id, original.id, rec.id);
      assert.equal(completion.model, original.model, rec.id);
      for (const k of ["prompt_tokens", "completion_tokens", "total_tokens"]) assert.equal(completion.usage?.[k], original.usage?.[k], `${rec.id} usage.${k}`);
      for (const [k, v] of Object.entries(original)) if (!KNOWN.has(k)) assert.deepEqual(completion[k], v, `${rec.id}: unknown field ${k} kept`);
    }
  });

  test("chat.completions.create returns a ChatCompletion without stream, a ChatStream with it", T, async () => {
    const c = client();
    const completion = await within(c.chat.completions.create(req()), 5_000);
    assert.equal(contentOf(completion), simulate(req()).text);
    const completion2 = await within(c.chat.completions.create(req({ stream: false })), 5_000);
    assert.equal(contentOf(completion2), simulate(req()).text);

    const stream = await within(c.chat.completions.create(req({ stream: true })), 5_000);
    assert.equal(typeof stream[Symbol.asyncIterator], "function", "a ChatStream");
    const it = await runIterate(stream);
    assert.equal(it.error, undefined);
    assert.equal(it.text, simulate(req()).text);
  });

  test("chat.completions.create with stream: true sends stream: true", T, async () => {
    const stream = await within(client("/echo").chat.completions.create(req({ stream: true })), 5_000);
    const seen = JSON.parse(await within(stream.text(), 5_000));
    assert.equal(JSON.parse(seen.body).stream, true);
  });
});

// -----------------------------------------------------------------------------------------------
describe("abort", () => {
  /** After an abort: partial kept everywhere, callbacks once, server connection closed. */
  async function assertAborted(rec, mark, entry) {
    assert.ok(rec.result.ok, `finalCompletion should resolve with the partial: ${rec.result.error && inspect(rec.result.error)}`);
    assert.equal(contentOf(rec.result.value), FAULT_PARTIAL_TEXT);
    assert.equal(rec.aborts.length, 1, "onAbort once");
    assert.equal(contentOf(rec.aborts[0]), FAULT_PARTIAL_TEXT);
    assert.equal(rec.finishes.length, 1, "onFinish once");
    assert.equal(rec.finishes[0].aborted, true);
    assert.equal(rec.finishes[0].truncated, false);
    assert.equal(contentOf(rec.finishes[0].completion), FAULT_PARTIAL_TEXT);
    assert.equal(rec.stream.ended, true);
    await waitFor(() => entry.closedAt, { message: "the server to see the connection closed" });
    assert.equal(entry.aborted, true);
    await noNewUnhandled(mark);
  }

  test("abort() mid-stream ends promptly and keeps the partial text", T, async () => {
    const mark = spy.seen.length;
    const reqMark = fx.requests.length;
    const rec = await runCallbacks(client("/fault/stall-mid"), req(), {}, {
      async afterStart(rec) {
        await waitFor(() => rec.snapshots.at(-1) === FAULT_PARTIAL_TEXT, { message: "the partial text" });
        assert.equal(rec.stream.ended, false);
        rec.stream.abort();
      },
    });
    await assertAborted(rec, mark, since(reqMark)[0]);
    assert.equal(rec.errors.length, 0, "an abort is not an error");
  });

  test("abort() from inside onContent", T, async () => {
    const mark = spy.seen.length;
    const reqMark = fx.requests.length;
    const rec = await runCallbacks(client("/fault/stall-mid"), req(), {
      onContent(_d, snapshot, r) {
        if (snapshot === FAULT_PARTIAL_TEXT) r.stream.abort();
      },
    });
    await assertAborted(rec, mark, since(reqMark)[0]);
  });

  test("an AbortSignal mid-stream ends promptly and keeps the partial text", T, async () => {
    const mark = spy.seen.length;
    const reqMark = fx.requests.length;
    const ac = new AbortController();
    const rec = await runCallbacks(client("/fault/stall-mid"), req(), { signal: ac.signal }, {
      async afterStart(rec) {
        await waitFor(() => rec.snapshots.at(-1) === FAULT_PARTIAL_TEXT, { message: "the partial text" });
        ac.abort();
      },
    });
    await assertAborted(rec, mark, since(reqMark)[0]);
  });

  test("break out of for-await cancels the request and keeps the partial text", T, async () => {
    const mark = spy.seen.length;
    const reqMark = fx.requests.length;
    const aborts = [];
    const finishes = [];
    const stream = client("/fault/stall-mid").chatCompletionStream(req(), { onAbort: (p) => aborts.push(p), onFinish: (f) => finishes.push(f) });
    const it = await runIterate(stream, { breakWhen: (o) => o.text === FAULT_PARTIAL_TEXT });
    assert.equal(it.error, undefined);
    assert.equal(it.text, FAULT_PARTIAL_TEXT);
    const completion = await within(stream.finalCompletion(), 5_000, "finalCompletion() after break");
    assert.equal(contentOf(completion), FAULT_PARTIAL_TEXT);
    assert.equal(stream.ended, true);
    const entry = since(reqMark)[0];
    await waitFor(() => entry.closedAt, { message: "the server to see the connection closed" });
    assert.equal(entry.aborted, true);
    await sleep(0);
    assert.ok(aborts.length <= 1 && finishes.length <= 1, "callbacks at most once");
    if (finishes.length) assert.equal(finishes[0].aborted, true);
    await noNewUnhandled(mark);
  });

  test("abort() of a paced simulator stream keeps a prefix of the reply", T, async () => {
    const mark = spy.seen.length;
    const rec = await runCallbacks(client("/pace/20"), req(), {}, {
      async afterStart(rec) {
        await waitFor(() => rec.deltas.length >= 3, { message: "three deltas" });
        rec.stream.abort();
      },
    });
    assert.ok(rec.result.ok);
    const full = simulate(req()).text;
    const got = contentOf(rec.result.value);
    assert.equal(got, rec.deltas.join(""));
    assert.ok(got.length > 0 && got.length < full.length && full.startsWith(got), `partial ${JSON.stringify(got)}`);
    assert.equal(rec.finishes.length, 1);
    assert.equal(rec.finishes[0].aborted, true);
    await noNewUnhandled(mark);
  });

  test("aborting a non-stream call rejects with kind aborted and closes the connection", T, async () => {
    const mark = spy.seen.length;
    const reqMark = fx.requests.length;
    const ac = new AbortController();
    const p = settle(() => client("/fault/stall-headers").chatCompletion(req(), { signal: ac.signal }));
    await waitFor(() => since(reqMark).length === 1, { message: "the request to arrive" });
    ac.abort();
    const r = await within(p, 5_000);
    assert.ok(!r.ok);
    assertInferenceError(r.error, "aborted");
    const entry = since(reqMark)[0];
    await waitFor(() => entry.closedAt, { message: "the server to see the connection closed" });
    await noNewUnhandled(mark);
  });

  test("abort() after the end changes nothing", T, async () => {
    const mark = spy.seen.length;
    const rec = await runCallbacks(client("/script/usage"));
    assert.ok(rec.result.ok);
    rec.stream.abort();
    await sleep(10);
    assert.equal(rec.aborts.length, 0);
    assert.equal(rec.finishes.length, 1);
    assert.equal(rec.finishes[0].aborted, false);
    assert.equal(contentOf(await within(rec.stream.finalCompletion(), 2_000)), scripts.usage.expected.text);
    await noNewUnhandled(mark);
  });
});

// -----------------------------------------------------------------------------------------------
describe("timeouts name themselves", () => {
  const BIG = { headers: 60_000, firstChunk: 60_000, idle: 60_000, total: 60_000 };

  test("headers: a server that never answers", T, async () => {
    const reqMark = fx.requests.length;
    const c = client("/fault/stall-headers", { timeouts: { ...BIG, headers: 200 } });
    const r = await within(settle(() => c.chatCompletionStream(req()).finalCompletion()), 5_000);
    assert.ok(!r.ok);
    assertInferenceError(r.error, "timeout");
    assert.equal(r.error.timeout, "headers");
    assert.match(r.error.message, /headers/);
    const entry = since(reqMark)[0];
    await waitFor(() => entry.closedAt, { message: "the connection closed after the timeout" });
  });

  test("headers: per-call timeouts on a non-stream call", T, async () => {
    const r = await within(settle(() => client("/fault/stall-headers", { timeouts: BIG }).chatCompletion(req(), { timeouts: { headers: 200 } })), 5_000);
    assert.ok(!r.ok);
    assertInferenceError(r.error, "timeout");
    assert.equal(r.error.timeout, "headers");
  });

  test("firstChunk: headers, then no body", T, async () => {
    const c = client("/fault/stall-first-chunk", { timeouts: { ...BIG, firstChunk: 200 } });
    const rec = await runCallbacks(c);
    assert.ok(!rec.result.ok);
    assertInferenceError(rec.result.error, "timeout");
    assert.equal(rec.result.error.timeout, "firstChunk");
    assert.equal(rec.deltas.length, 0);
  });

  test("idle: two chunks, then silence", T, async () => {
    const reqMark = fx.requests.length;
    const c = client("/fault/stall-mid", { timeouts: { ...BIG, idle: 200 } });
    const rec = await runCallbacks(c);
    assert.ok(!rec.result.ok);
    assertInferenceError(rec.result.error, "timeout");
    assert.equal(rec.result.error.timeout, "idle");
    assert.equal(rec.deltas.join(""), FAULT_PARTIAL_TEXT);
    assert.equal(contentOf(rec.result.error.partial), FAULT_PARTIAL_TEXT);
    const entry = since(reqMark)[0];
    await waitFor(() => entry.closedAt, { message: "the connection closed after the timeout" });
    assert.equal(entry.aborted, true);
  });

  test("total: a stream slower than the whole-call budget", T, async () => {
    const c = client("/pace/100", { timeouts: { ...BIG, total: 500 } });
    const rec = await runCallbacks(c);
    assert.ok(!rec.result.ok);
    assertInferenceError(rec.result.error, "timeout");
    assert.equal(rec.result.error.timeout, "total");
    assert.ok(simulate(req()).text.startsWith(rec.deltas.join("")));
  });

  test("per-call timeouts merge over the client's", T, async () => {
    const c = client("/fault/stall-first-chunk", { timeouts: { ...BIG, firstChunk: 200 } });
    const r = await within(settle(() => c.chatCompletionStream(req(), { timeouts: { headers: 5_000 } }).finalCompletion()), 5_000);
    assert.ok(!r.ok);
    assert.equal(r.error.timeout, "firstChunk", "the client's firstChunk still applies");
  });
});

// -----------------------------------------------------------------------------------------------
describe("network errors", () => {
  test("a reset before the headers is kind network", T, async () => {
    for (const run of [(c) => c.chatCompletion(req()), (c) => c.chatCompletionStream(req()).finalCompletion()]) {
      const r = await within(settle(() => run(client("/fault/reset-before-headers", { token: SECRET }))), 5_000);
      assert.ok(!r.ok);
      assertInferenceError(r.error, "network");
      assert.equal(r.error.retryable, true);
      assertNoSecret(r.error);
    }
  });

  test("a closed port is kind network", T, async () => {
    const port = await closedPort();
    // The breaker is off: six failed attempts in a row would open it (see retry.test.mjs).
    const c = new InferenceClient({ endpointUrl: `http://127.0.0.1:${port}/v1`, circuitBreaker: false });
    const r = await within(settle(() => c.chatCompletion(req())), 5_000);
    assert.ok(!r.ok);
    assertInferenceError(r.error, "network");
    const r2 = await within(settle(() => c.chatCompletionStream(req()).finalCompletion()), 5_000);
    assertInferenceError(r2.error, "network");
  });
});

// -----------------------------------------------------------------------------------------------
describe("what the client sends", () => {
  async function echoed(c, request, { stream = true, options } = {}) {
    const completion = stream
      ? await within(c.chatCompletionStream(request, options).finalCompletion(), 5_000)
      : await within(c.chatCompletion(request, options), 5_000);
    const seen = JSON.parse(contentOf(completion));
    return { ...seen, json: JSON.parse(seen.body) };
  }

  test("a stream sends stream: true and stream_options.include_usage, and the rest unchanged", T, async () => {
    const request = req({ seed: 7, temperature: 0.5, custom_field: { a: [1, "b"] } });
    const seen = await echoed(client("/echo"), request);
    assert.equal(seen.method, "POST");
    assert.equal(seen.path, "/echo/v1/chat/completions");
    assert.equal(seen.json.stream, true);
    assert.deepEqual(seen.json.stream_options, { include_usage: true });
    assert.deepEqual(seen.json.messages, request.messages);
    assert.equal(seen.json.model, request.model);
    assert.equal(seen.json.seed, 7);
    assert.equal(seen.json.temperature, 0.5);
    assert.deepEqual(seen.json.custom_field, { a: [1, "b"] });
    assert.match(seen.headers["content-type"], /^application\/json/);
    assert.equal(seen.headers.cookie, undefined);
    assert.equal(seen.headers.authorization, undefined, "no Authorization without a token");
  });

  test("the caller's own stream_options is kept unchanged", T, async () => {
    const seen = await echoed(client("/echo"), req({ stream_options: { include_usage: false } }));
    assert.deepEqual(seen.json.stream_options, { include_usage: false });
  });

  test("the caller's request object is not modified", T, async () => {
    const request = req();
    const before = JSON.stringify(request);
    await echoed(client("/echo"), request);
    assert.equal(JSON.stringify(request), before);
  });

  test("a non-stream call sends no stream_options and no stream: true", T, async () => {
    const seen = await echoed(client("/echo"), req(), { stream: false });
    assert.notEqual(seen.json.stream, true);
    assert.equal(seen.json.stream_options, undefined);
  });

  test("a token becomes Authorization: Bearer <token>", T, async () => {
    for (const stream of [true, false]) {
      const seen = await echoed(client("/echo", { token: SECRET }), req(), { stream });
      assert.equal(seen.headers.authorization, `Bearer ${SECRET}`);
      assert.equal(seen.headers.cookie, undefined);
    }
  });

  test("client and per-call headers are sent; per-call wins", T, async () => {
    const c = client("/echo", { headers: { "x-client": "c", "x-both": "client" } });
    const seen = await echoed(c, req(), { options: { headers: { "x-call": "k", "x-both": "call" } } });
    assert.equal(seen.headers["x-client"], "c");
    assert.equal(seen.headers["x-call"], "k");
    assert.equal(seen.headers["x-both"], "call");
  });

  test("headers may be a Headers object or [name, value] pairs", T, async () => {
    const c = client("/echo", { headers: new Headers({ "x-from-headers": "h" }) });
    const seen = await echoed(c, req(), { options: { headers: [["x-from-pairs", "p"]] } });
    assert.equal(seen.headers["x-from-headers"], "h");
    assert.equal(seen.headers["x-from-pairs"], "p");
    assert.throws(
      () => client("/echo", { headers: [["only-a-name"]] }),
      (e) => e instanceof InferenceError && e.kind === "input" && /headers/.test(e.message),
    );
  });

  test("a custom fetch is used for every request", T, async () => {
    const calls = [];
    const myFetch = (input, init) => {
      calls.push(String(input instanceof Request ? input.url : input));
      return fetch(input, init);
    };
    const c = client("/echo", { fetch: myFetch });
    const mark = fx.requests.length;
    await echoed(c, req(), { stream: false });
    await echoed(c, req(), { stream: true });
    assert.equal(calls.length, 2);
    assert.ok(calls.every((u) => u === `${fx.url}/echo/v1/chat/completions`), calls.join(", "));
    assert.equal(since(mark).length, 2);
  });

  test("an exception thrown by a custom fetch comes back as its cause", T, async () => {
    const boom = new Error("custom fetch exploded");
    const c = client("/echo", { fetch: () => Promise.reject(boom) });
    const r = await within(settle(() => c.chatCompletion(req())), 5_000);
    assert.ok(!r.ok);
    assert.ok(r.error instanceof InferenceError, inspect(r.error));
    assert.equal(r.error.cause, boom);
  });
});

// -----------------------------------------------------------------------------------------------
describe("endpointUrl and baseUrl", () => {
  const cases = [
    ["/v1", "/v1/chat/completions"],
    ["/v1/", "/v1/chat/completions"],
    ["/", "/v1/chat/completions"],
    ["", "/v1/chat/completions"],
    ["/custom/chat/completions", "/custom/chat/completions"],
    ["/v1/chat/completions", "/v1/chat/completions"],
    ["/pace/0/v1", "/pace/0/v1/chat/completions"],
    ["/split/3", "/split/3/v1/chat/completions"],
  ];
  for (const [suffix, path] of cases) {
    test(`endpointUrl ${JSON.stringify("<server>" + suffix)} → ${path}`, T, async () => {
      const mark = fx.requests.length;
      const completion = await within(new InferenceClient({ endpointUrl: fx.url + suffix }).chatCompletion(req()), 5_000);
      assert.equal(contentOf(completion), simulate(req()).text);
      const sent = since(mark);
      assert.equal(sent.length, 1);
      assert.equal(sent[0].path, path);
      assert.equal(sent[0].method, "POST");
    });
  }

  test("baseUrl gets /v1/chat/completions", T, async () => {
    const mark = fx.requests.length;
    await within(new InferenceClient({ baseUrl: fx.url }).chatCompletion(req()), 5_000);
    assert.equal(since(mark)[0].path, "/v1/chat/completions");
  });
});

// -----------------------------------------------------------------------------------------------
describe("wrong options are input errors, not crashes", () => {
  async function expectInput(fn, field) {
    const mark = fx.requests.length;
    const r = await within(settle(fn), 5_000);
    assert.ok(!r.ok, "should fail");
    assertInferenceError(r.error, "input");
    assert.match(r.error.message, field, `the message names the field: ${r.error.message}`);
    assert.equal(since(mark).length, 0, "nothing was sent");
  }

  test("timeouts.idle: a string", T, () => expectInput(() => client("", { timeouts: { idle: "soon" } }).chatCompletion(req()), /idle/));
  test("headers: a number", T, () => expectInput(() => client("", { headers: 5 }).chatCompletion(req()), /headers/));
  test("fetch: a string", T, () => expectInput(() => client("", { fetch: "x" }).chatCompletion(req()), /fetch/));
  test("endpointUrl: not a URL", T, () => expectInput(() => new InferenceClient({ endpointUrl: "not a url" }).chatCompletion(req()), /endpointUrl|URL/));
  test("messages: a string (non-stream)", T, () => expectInput(() => client().chatCompletion({ model: "m", messages: "hi" }), /messages/));
  test("messages: a string (stream)", T, () => expectInput(() => client().chatCompletionStream({ model: "m", messages: "hi" }).finalCompletion(), /messages/));
  // A misspelled option would silently do nothing (a misspelled timeout is no timeout):
  // every options object refuses an unknown key, naming the one it probably meant.
  test("unknown client option: tokn", T, () => expectInput(() => client("", { tokn: "hf_x" }).chatCompletion(req()), /unknown option `tokn` in the client options; did you mean `token`\?/));
  test("unknown nested option: timeouts.idleMs", T, () =>
    expectInput(() => client("", { timeouts: { idleMs: 300 } }).chatCompletion(req()), /unknown option `idleMs` in `timeouts`; did you mean `idle`\?/));
  test("unknown nested option: retry.maxRetry", T, () => expectInput(() => client("", { retry: { maxRetry: 3 } }).chatCompletion(req()), /did you mean `maxRetries`\?/));
  test("a nested key at the top level says where it goes", T, () => expectInput(() => client("", { maxRetries: 0 }).chatCompletion(req()), /did you mean `retry: \{ maxRetries \}`\?/));
  test("unknown call option (stream): onContnet", T, () =>
    expectInput(() => client().chatCompletionStream(req(), { onContnet: () => {} }).finalCompletion(), /unknown option `onContnet` in the call options; did you mean `onContent`\?/));
  test("unknown call option (per-call timeouts): firstChunkMs", T, () =>
    expectInput(() => client().chatCompletion(req(), { timeouts: { firstChunkMs: 5 } }), /`firstChunkMs` in `timeouts`; did you mean `firstChunk`\?/));
  test("unknown keys in cache, rateLimit, budget, circuitBreaker and fallback[0]", T, async () => {
    await expectInput(() => client("", { cache: { ttl: 5 } }).chatCompletion(req()), /`ttl` in `cache`; did you mean `ttlMs`\?/);
    await expectInput(() => client("", { rateLimit: { requestPerMinute: 5 } }).chatCompletion(req()), /did you mean `requestsPerMinute`\?/);
    await expectInput(() => client("", { budget: { dollars: 1 } }).chatCompletion(req()), /`dollars` in `budget`; the known options are `usd`/);
    await expectInput(() => client("", { circuitBreaker: { openMS: 5 } }).chatCompletion(req()), /did you mean `openMs`\?/);
    await expectInput(() => client("", { fallback: [{ modle: "m2" }] }).chatCompletion(req()), /`modle` in `fallback\[0\]`; did you mean `model`\?/);
  });
  // The options cross to the wasm as JSON with the JS values (functions, the signal, the
  // cache store) beside it: each of those must still be refused where the wrong type is.
  test("JS values JSON cannot carry are refused by type, as written", T, async () => {
    await expectInput(() => client("", { timeouts: { idle: () => 5 } }).chatCompletion(req()), /`timeouts.idle` must be a number, got function/);
    await expectInput(() => client("", { timeouts: { idle: NaN } }).chatCompletion(req()), /`timeouts.idle` must be a finite number ≥ 0, got NaN/);
    await expectInput(() => client("", { timeouts: { total: -Infinity } }).chatCompletion(req()), /got -Infinity/);
    await expectInput(() => client("", { timeouts: { idle: 5n } }).chatCompletion(req()), /`timeouts.idle` must be a number, got bigint/);
    await expectInput(() => client("", { fetch: 42 }).chatCompletion(req()), /`fetch` must be a function, got number/);
    await expectInput(() => client("", { token: Symbol("t") }).chatCompletion(req()), /`token` must be a string, got symbol/);
    await expectInput(() => client().chatCompletion(req(), { signal: "stop" }), /`signal` must be an AbortSignal, got string/);
    await expectInput(() => client().chatCompletion(req(), { signal: {} }), /`signal` must be an AbortSignal, got object/);
    await expectInput(() => client().chatCompletion(req(), { onRetry: 1 }), /`onRetry` must be a function, got number/);
    await expectInput(() => client("", { cache: { store: { get() {} } } }).chatCompletion(req()), /`cache.store` must have a `put` method/);
    await expectInput(() => client("", { tokn: undefined }).chatCompletion(req()), /unknown option `tokn`/);
    const cyclic = { x: {} };
    cyclic.x.self = cyclic;
    await expectInput(() => client("", { headers: cyclic }).chatCompletion(req()), /options could not be read/);
  });
  test("undefined options are absent; a store's methods may live on its prototype; toJSON is not asked", T, async () => {
    class Store {
      constructor() {
        this.map = new Map();
      }
      async get(id) {
        return this.map.get(id);
      }
      async put(id, value) {
        this.map.set(id, value);
      }
    }
    const store = new Store();
    const c = client("", { token: undefined, cache: { store }, timeouts: { idle: undefined } });
    const first = await within(c.chatCompletion(req({ temperature: 0 }), { signal: new AbortController().signal, onUsage: undefined }), 5_000);
    assert.equal(contentOf(first), simulate(req({ temperature: 0 })).text);
    await waitFor(() => store.map.size === 1, { message: "store.put on the prototype" });
    const again = await within(c.chatCompletion(req({ temperature: 0 })), 5_000);
    assert.equal(again.cached, true);
    // A Date is an object with no own keys, read as one (its toJSON, a string, is not asked).
    assert.ok(client("", { headers: new Date(0), timeouts: new Date(0) }));
  });
  test("unknown request-body fields are not options: they pass through to the server", T, async () => {
    const mark = fx.requests.length;
    await within(client().chatCompletion(req({ top_k: 5, repetition_penalty: 1.1 })), 5_000);
    const sent = JSON.parse(since(mark)[0].body);
    assert.equal(sent.top_k, 5);
    assert.equal(sent.repetition_penalty, 1.1);
  });
  test("messages: missing (create)", T, () => expectInput(() => client().chat.completions.create({ model: "m" }), /messages/));
});

// -----------------------------------------------------------------------------------------------
describe("toReadableStream", () => {
  for (const name of ["usage", "emoji"]) {
    for (const split of ["", "/split/1"]) {
      test(`re-encodes ${name}${split} as SSE that decodes to the same chunks, ending in [DONE]`, T, async () => {
        const readable = client(`${split}/script/${name}`).chatCompletionStream(req()).toReadableStream();
        assert.equal(typeof readable.getReader, "function", "a ReadableStream");
        const reader = readable.getReader();
        const parts = [];
        await within(
          (async () => {
            for (;;) {
              const { done, value } = await reader.read();
              if (done) break;
              assert.ok(value instanceof Uint8Array, "bytes");
              parts.push(Buffer.from(value));
            }
          })(),
          5_000,
          "reading toReadableStream()",
        );
        const text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(parts));
        const events = parseSse(text);
        assert.ok(text.endsWith("\n\n"), "ends with a blank line");
        assert.equal(events.at(-1).data, "[DONE]");
        const original = parseSse(new TextDecoder().decode(scriptBytes(name)))
          .filter((e) => e.data.trim() !== "[DONE]")
          .map((e) => JSON.parse(e.data));
        assert.deepEqual(events.slice(0, -1).map((e) => JSON.parse(e.data)), original);
      });
    }
  }
});

// -----------------------------------------------------------------------------------------------
test("no unhandled rejections during the whole file", async () => {
  await spy.settle();
  assert.deepEqual(spy.seen.map((e) => String(e)), []);
});
