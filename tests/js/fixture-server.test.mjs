// Self-test of the loopback fixture server: every route behaves as documented, with plain
// `fetch`. Run: node --test tests/js/fixture-server.test.mjs

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { once } from "node:events";

import {
  startFixtureServer,
  scripts,
  simulatorReply,
  tokenize,
  FAULT_PARTIAL_TEXT,
  readAll,
  parseSse,
  waitFor,
  replayPath,
  lastRequest,
  within,
} from "./helpers.mjs";
import { scriptBytes } from "../fixture-server/scripts.mjs";

const T = { timeout: 10_000 };
const limit = (ms = 5_000) => AbortSignal.timeout(ms);

let fx;
before(async () => {
  fx = await startFixtureServer({ port: 0 });
});
after(async () => {
  await fx?.close();
});

const post = (path, body, { headers = {}, signal = limit() } = {}) =>
  fetch(fx.url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal,
  });

const chatBody = (content, extra = {}) => ({ model: "fixture/tiny-chat", messages: [{ role: "user", content }], ...extra });

/** The JSON payloads of an SSE body, and whether it ended with [DONE]. */
function sseJson(text) {
  const events = parseSse(text);
  const last = events[events.length - 1];
  const done = last && last.data === "[DONE]";
  return { chunks: events.filter((e) => e.data !== "[DONE]").map((e) => JSON.parse(e.data)), done, events };
}

describe("chat simulator", () => {
  test("streams a role chunk, one chunk per token, finish_reason stop, then [DONE]", T, async () => {
    const question = "Tell me about rivers";
    const res = await post("/v1/chat/completions", chatBody(question, { stream: true }));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    const text = await res.text();
    assert.ok(text.endsWith("data: [DONE]\n\n"), "ends with data: [DONE]");
    const { chunks, done } = sseJson(text);
    assert.ok(done);
    const expected = tokenize(simulatorReply(question));
    assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
    const contents = chunks.slice(1, -1).map((c) => c.choices[0].delta.content);
    assert.deepEqual(contents, expected);
    assert.equal(contents.join(""), simulatorReply(question));
    const final = chunks[chunks.length - 1];
    assert.equal(final.choices[0].finish_reason, "stop");
    for (const c of chunks) {
      assert.equal(c.object, "chat.completion.chunk");
      assert.equal(c.model, "fixture/tiny-chat");
      assert.ok(!("usage" in c), "no usage field without include_usage");
    }
  });

  test("include_usage adds a final usage chunk with choices: [] (and only then)", T, async () => {
    const res = await post("/v1/chat/completions", chatBody("count my tokens", { stream: true, stream_options: { include_usage: true } }));
    const { chunks, done } = sseJson(await res.text());
    assert.ok(done);
    const last = chunks[chunks.length - 1];
    assert.deepEqual(last.choices, []);
    const { prompt_tokens, completion_tokens, total_tokens } = last.usage;
    assert.ok(prompt_tokens > 0 && completion_tokens > 0);
    assert.equal(total_tokens, prompt_tokens + completion_tokens);
    assert.equal(chunks[chunks.length - 2].choices[0].finish_reason, "stop");
    for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);

    const off = sseJson(await (await post("/v1/chat/completions", chatBody("count my tokens", { stream: true, stream_options: { include_usage: false } }))).text());
    assert.ok(off.chunks.every((c) => c.choices.length === 1 && !c.usage));
  });

  test("answers a non-stream request with a chat.completion and usage", T, async () => {
    const question = "Please write some code for me";
    const res = await post("/v1/chat/completions", chatBody(question));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /application\/json/);
    assert.match(res.headers.get("x-request-id"), /^sim-\d+$/);
    const body = await res.json();
    assert.equal(body.object, "chat.completion");
    assert.equal(body.model, "fixture/tiny-chat");
    assert.equal(body.choices[0].message.role, "assistant");
    assert.equal(body.choices[0].message.content, simulatorReply(question));
    assert.match(body.choices[0].message.content, /```js\n[\s\S]*\n```/, "a code block when asked for code");
    assert.match(body.choices[0].message.content, /\*\*/, "some Markdown");
    assert.equal(body.choices[0].finish_reason, "stop");
    assert.equal(body.usage.prompt_tokens, Math.ceil(question.length / 4));
    assert.equal(body.usage.completion_tokens, Math.ceil(simulatorReply(question).length / 4));
    assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
  });

  test("the stream and the JSON carry the same text", T, async () => {
    const q = "same text both ways?";
    const json = await (await post("/v1/chat/completions", chatBody(q))).json();
    const { chunks } = sseJson(await (await post("/v1/chat/completions", chatBody(q, { stream: true }))).text());
    const streamed = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    assert.equal(streamed, json.choices[0].message.content);
  });

  test("max_tokens cuts the reply with finish_reason length", T, async () => {
    const body = await (await post("/v1/chat/completions", chatBody("a long question about the sea", { max_tokens: 5 }))).json();
    assert.equal(body.choices[0].finish_reason, "length");
    assert.equal(body.choices[0].message.content, tokenize(simulatorReply("a long question about the sea")).slice(0, 5).join(""));
  });

  test("pace spaces the chunks but sends the same text", T, async () => {
    const q = "pace me";
    const res = await post("/pace/5/v1/chat/completions", chatBody(q, { stream: true }));
    const { bytes, reads } = await readAll(res.body);
    const { chunks, done } = sseJson(bytes.toString("utf8"));
    assert.ok(done);
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), simulatorReply(q));
    assert.ok(reads > 1, `paced chunks arrive in several reads (got ${reads})`);
  });

  test("GET /v1/models lists three models", T, async () => {
    const res = await fetch(fx.url + "/v1/models", { signal: limit() });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.object, "list");
    assert.equal(body.data.length, 3);
    for (const m of body.data) {
      assert.equal(m.object, "model");
      assert.equal(typeof m.id, "string");
      assert.equal(typeof m.owned_by, "string");
    }
  });

  test("missing or invalid JSON gets a 400 in the OpenAI error shape", T, async () => {
    for (const bad of ["", "{not json", "[1,2]", JSON.stringify({ messages: "hi" })]) {
      const res = await post("/v1/chat/completions", bad);
      assert.equal(res.status, 400, `body ${JSON.stringify(bad)}`);
      const body = await res.json();
      assert.equal(body.error.type, "invalid_request_error");
      assert.equal(typeof body.error.message, "string");
      assert.equal(typeof body.error.code, "string");
    }
  });

  test("an unknown path is a 404 JSON error", T, async () => {
    const res = await fetch(fx.url + "/nothing/here", { signal: limit() });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.code, "not_found");
  });

  test("the TGI simulator streams tokens and the full text last", T, async () => {
    const res = await post("/generate_stream", { inputs: "hello tgi", parameters: { max_new_tokens: 8 } });
    const events = parseSse(await res.text()).map((e) => JSON.parse(e.data));
    assert.equal(events.length, 8);
    const text = events.map((e) => e.token.text).join("");
    assert.equal(events[events.length - 1].generated_text, text);
    assert.equal(events[events.length - 1].details.finish_reason, "length");
    assert.equal(text, tokenize(simulatorReply("hello tgi")).slice(0, 8).join(""));
  });
});

describe("replay", () => {
  test("replays every recording byte for byte with its status and headers", T, async () => {
    assert.ok(fx.recordings.size >= 160, `both recording files loaded (${fx.recordings.size})`);
    for (const rec of fx.recordings.values()) {
      const res = await post(`${replayPath(rec.id)}/v1/chat/completions`, chatBody("ignored"));
      assert.equal(res.status, rec.status, rec.id);
      assert.equal(res.headers.get("content-type"), rec.content_type, rec.id);
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      if (rec.headers?.["x-request-id"]) assert.equal(res.headers.get("x-request-id"), rec.headers["x-request-id"], rec.id);
      if (rec.retry_after != null) assert.equal(res.headers.get("retry-after"), String(rec.retry_after), rec.id);
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.ok(bytes.equals(Buffer.from(rec.body, "utf8")), `body of ${rec.id}`);
    }
  });

  test("accepts router ids with [ # , and spaces when URL-encoded", T, async () => {
    const id = [...fx.recordings.keys()].find((k) => /[[#,]/.test(k) && fx.recordings.get(k).status === 200 && /event-stream/.test(fx.recordings.get(k).content_type));
    assert.ok(id, "a router stream recording with special characters exists");
    const res = await post(`${replayPath(id)}/chat/completions`, chatBody("x"));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), fx.recordings.get(id).body);
  });

  test("an unknown recording id is a 404", T, async () => {
    const res = await post("/replay/no-such-recording/v1/chat/completions", chatBody("x"));
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.code, "unknown_recording");
  });
});

describe("modifiers", () => {
  const id = "b3cad22ff43c"; // the Cerebras stream without a trailing blank line

  test("split + delay deliver the same bytes in several reads", T, async () => {
    const res = await post(`/split/16/delay/1/replay/${id}/v1/chat/completions`, chatBody("x"));
    const { bytes, reads } = await readAll(res.body);
    assert.ok(bytes.equals(Buffer.from(fx.recordings.get(id).body)));
    assert.ok(reads > 10, `expected many reads, got ${reads}`);
  });

  test("split/1 keeps multi-byte characters intact end to end", T, async () => {
    const res = await post("/split/1/script/emoji/v1/chat/completions", chatBody("x"));
    const { bytes, reads } = await readAll(res.body);
    assert.ok(bytes.equals(Buffer.from(scriptBytes("emoji"))));
    assert.ok(reads > 1);
  });

  test("split/random/<seed> delivers the same bytes, for several seeds", T, async () => {
    for (const seed of ["1", "42", "not-a-number"]) {
      const res = await post(`/split/random/${seed}/script/usage/v1/chat/completions`, chatBody("x"));
      const { bytes, reads } = await readAll(res.body);
      assert.ok(bytes.equals(Buffer.from(scriptBytes("usage"))), `seed ${seed}`);
      assert.ok(reads > 1, `seed ${seed}: ${reads} reads`);
    }
  });

  test("modifiers apply in any order and to the simulator", T, async () => {
    const q = "order";
    const a = await (await post("/delay/1/split/200/v1/chat/completions", chatBody(q, { stream: true }))).text();
    const b = await (await post("/split/5/pace/1/delay/0/v1/chat/completions", chatBody(q, { stream: true }))).text();
    const text = (s) => sseJson(s).chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    assert.equal(text(a), simulatorReply(q));
    assert.equal(text(b), simulatorReply(q));
  });

  test("delay alone paces an SSE body event by event", T, async () => {
    const res = await post("/delay/2/script/no-usage/x", chatBody("x"));
    const { bytes, reads } = await readAll(res.body);
    assert.ok(bytes.equals(Buffer.from(scriptBytes("no-usage"))));
    assert.ok(reads > 3, `expected several reads, got ${reads}`);
  });

  test("a malformed modifier is a 400", T, async () => {
    const res = await post("/split/zero/v1/chat/completions", chatBody("x"));
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.code, "bad_fixture_path");
  });
});

describe("scripts", () => {
  test("every script has a body and an expected result", () => {
    const required = ["emoji", "tool-calls", "usage", "no-usage", "done-no-space", "done-then-garbage", "error-event", "error-json", "malformed-json", "invalid-utf8", "truncated", "heartbeats", "unterminated-final", "huge-line", "reasoning"];
    for (const name of required) {
      assert.ok(scripts[name], name);
      assert.ok(scripts[name].expected && typeof scripts[name].expected.text === "string", `${name}.expected.text`);
    }
  });

  for (const name of Object.keys(scripts)) {
    test(`/script/${name} serves its body byte for byte`, T, async () => {
      const expected = Buffer.from(scriptBytes(name));
      const ac = new AbortController();
      const signal = AbortSignal.any([ac.signal, limit()]);
      const res = await post(`/script/${name}/v1/chat/completions`, chatBody("x"), { signal });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type"), /^text\/event-stream/);
      if (!scripts[name].tail) {
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(expected));
        return;
      }
      // A script with a never-ending tail: the body comes first, then the tail repeats.
      const reader = res.body.getReader();
      const got = [];
      let size = 0;
      while (size < expected.length + Buffer.byteLength(scripts[name].tail.body) * 2) {
        const { value, done } = await reader.read();
        assert.ok(!done, "the tail keeps the stream open");
        got.push(Buffer.from(value));
        size += value.length;
      }
      const all = Buffer.concat(got);
      assert.ok(all.subarray(0, expected.length).equals(expected));
      assert.ok(all.subarray(expected.length).toString().startsWith(scripts[name].tail.body));
      ac.abort();
      const entry = lastRequest(fx, `/script/${name}/`);
      await waitFor(() => entry.closedAt, { message: "the server to see the tail's connection close" });
      assert.equal(entry.aborted, true);
    });
  }

  test("the expected text of each well-formed script matches its chunks", () => {
    for (const name of ["emoji", "usage", "no-usage", "done-no-space", "heartbeats", "reasoning", "invalid-utf8"]) {
      const text = new TextDecoder().decode(scriptBytes(name));
      const content = parseSse(text)
        .filter((e) => e.data.trim() !== "[DONE]")
        .map((e) => JSON.parse(e.data))
        .map((c) => c.choices[0]?.delta?.content ?? "")
        .join("");
      assert.equal(content, scripts[name].expected.text, name);
    }
  });

  test("invalid-utf8 really carries 0xFF 0xFE inside a JSON string", () => {
    const bytes = Buffer.from(scriptBytes("invalid-utf8"));
    const at = bytes.indexOf(Buffer.from([0xff, 0xfe]));
    assert.ok(at > 0);
    assert.equal(bytes.subarray(at - 4, at).toString(), "bad ");
  });

  test("huge-line has one data line of 2 MiB", () => {
    const lines = new TextDecoder().decode(scriptBytes("huge-line")).split("\n");
    const longest = Math.max(...lines.map((l) => Buffer.byteLength(l)));
    assert.equal(longest, 2 * 1024 * 1024);
  });

  test("an unknown script is a 404", T, async () => {
    const res = await post("/script/nope/v1/chat/completions", chatBody("x"));
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.code, "unknown_script");
  });
});

describe("status route", () => {
  for (const code of [400, 401, 404, 429, 500, 503]) {
    test(`/status/${code} answers ${code} with an OpenAI-shaped error`, T, async () => {
      const res = await post(`/status/${code}/v1/chat/completions`, chatBody("x"));
      assert.equal(res.status, code);
      assert.equal(res.headers.get("x-request-id"), `req-${code}`);
      assert.equal(res.headers.get("retry-after"), code === 429 ? "1" : null);
      assert.deepEqual(await res.json(), { error: { message: `scripted ${code}`, type: "scripted", code: String(code) } });
    });
  }
});

describe("echo route", () => {
  test("reflects method, path, headers and body as the message content", T, async () => {
    const sent = JSON.stringify(chatBody("echo me", { stream_options: { include_usage: true }, extra: [1, 2] }));
    const res = await post("/echo/v1/chat/completions", sent, { headers: { authorization: "Bearer abc", "x-custom": "yes" } });
    const body = await res.json();
    assert.equal(body.object, "chat.completion");
    const seen = JSON.parse(body.choices[0].message.content);
    assert.equal(seen.method, "POST");
    assert.equal(seen.path, "/echo/v1/chat/completions");
    assert.equal(seen.headers.authorization, "Bearer abc");
    assert.equal(seen.headers["x-custom"], "yes");
    assert.equal(seen.headers.cookie, undefined);
    assert.equal(seen.body, sent);
  });

  test("streams three chunks and [DONE] when the body asks for a stream", T, async () => {
    const res = await post("/echo/chat/completions", chatBody("echo", { stream: true }), { headers: { "x-one": "1" } });
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    const { chunks, done } = sseJson(await res.text());
    assert.ok(done);
    assert.equal(chunks.length, 3);
    const seen = JSON.parse(chunks.map((c) => c.choices[0].delta.content ?? "").join(""));
    assert.equal(seen.headers["x-one"], "1");
    assert.equal(JSON.parse(seen.body).stream, true);
    assert.equal(chunks[2].choices[0].finish_reason, "stop");
  });
});

describe("faults", () => {
  test("reset-before-headers makes fetch reject", T, async () => {
    await assert.rejects(post("/fault/reset-before-headers/v1/chat/completions", chatBody("x")), TypeError);
    const entry = lastRequest(fx, "/fault/reset-before-headers/");
    assert.ok(entry, "the request was logged before the reset");
    await waitFor(() => entry.closedAt);
    assert.equal(entry.aborted, true);
    assert.equal(entry.status, null);
  });

  test("stall-headers never answers; an abort ends the wait and closes the connection", T, async () => {
    await assert.rejects(post("/fault/stall-headers/v1/chat/completions", chatBody("x"), { signal: AbortSignal.timeout(200) }), { name: "TimeoutError" });
    const entry = lastRequest(fx, "/fault/stall-headers/");
    await waitFor(() => entry.closedAt, { message: "the stalled connection to close" });
    assert.equal(entry.aborted, true);
    assert.equal(entry.status, null);
  });

  test("stall-first-chunk sends SSE headers then nothing", T, async () => {
    const signal = AbortSignal.timeout(300);
    const res = await post("/fault/stall-first-chunk/v1/chat/completions", chatBody("x"), { signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    await assert.rejects(res.body.getReader().read(), { name: "TimeoutError" });
    const entry = lastRequest(fx, "/fault/stall-first-chunk/");
    await waitFor(() => entry.closedAt);
    assert.equal(entry.aborted, true);
  });

  test("stall-mid sends two chat chunks then nothing", T, async () => {
    const signal = AbortSignal.timeout(400);
    const res = await post("/fault/stall-mid/v1/chat/completions", chatBody("x"), { signal });
    const reader = res.body.getReader();
    let text = "";
    const dec = new TextDecoder();
    while (parseSse(text).length < 2) {
      const { value, done } = await reader.read();
      assert.ok(!done);
      text += dec.decode(value, { stream: true });
    }
    const content = parseSse(text).map((e) => JSON.parse(e.data).choices[0].delta.content).join("");
    assert.equal(content, FAULT_PARTIAL_TEXT);
    await assert.rejects(reader.read(), { name: "TimeoutError" });
    const entry = lastRequest(fx, "/fault/stall-mid/");
    await waitFor(() => entry.closedAt);
    assert.equal(entry.aborted, true);
  });

  test("drop-mid sends two chat chunks then drops the connection", T, async () => {
    const res = await post("/fault/drop-mid/v1/chat/completions", chatBody("x"));
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
  });

  test("slow-headers answers late with the rest of the path", T, async () => {
    const res = await post("/fault/slow-headers/50/v1/chat/completions", chatBody("late"));
    assert.equal((await res.json()).choices[0].message.content, simulatorReply("late"));
  });

  test("fail-then-ok fails n times per key, then routes the rest; reset clears the counters", T, async () => {
    const path = "/fault/fail-then-ok/503/2/k1/v1/chat/completions";
    const r1 = await post(path, chatBody("x"));
    const r2 = await post(path, chatBody("x"));
    const r3 = await post(path, chatBody("x"));
    assert.deepEqual([r1.status, r2.status, r3.status], [503, 503, 200]);
    assert.match((await r1.json()).error, /loading/);
    assert.equal((await r3.json()).object, "chat.completion");
    const other = await post("/fault/fail-then-ok/429/1/k2/v1/chat/completions", chatBody("x"));
    assert.equal(other.status, 429);
    assert.equal(other.headers.get("retry-after"), "0");
    fx.reset();
    assert.equal((await post(path, chatBody("x"))).status, 503);
  });

  test("an unknown fault is a 404", T, async () => {
    const res = await post("/fault/no-such-fault/x", chatBody("x"));
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.code, "unknown_fault");
  });
});

describe("request log and control", () => {
  test("records every request (faults included) and /__reset clears it", T, async () => {
    let res = await fetch(fx.url + "/__reset", { method: "POST", signal: limit() });
    assert.equal(res.status, 204);
    assert.equal(fx.requests.length, 0);
    await post("/v1/chat/completions", chatBody("logged"), { headers: { "x-trace": "t1" } });
    await post("/fault/reset-before-headers/x", chatBody("fault")).catch(() => {});
    await post("/status/418/x", "raw body");
    res = await fetch(fx.url + "/__requests", { signal: limit() });
    const log = await res.json();
    assert.deepEqual(log.map((r) => r.path), ["/v1/chat/completions", "/fault/reset-before-headers/x", "/status/418/x"]);
    assert.equal(log[0].method, "POST");
    assert.equal(log[0].headers["x-trace"], "t1");
    assert.deepEqual(JSON.parse(log[0].body), chatBody("logged"));
    assert.equal(log[0].status, 200);
    assert.equal(log[0].aborted, false);
    assert.equal(log[2].body, "raw body");
    assert.equal(log[2].status, 418);
    res = await fetch(fx.url + "/__reset", { method: "POST", signal: limit() });
    assert.equal(res.status, 204);
    assert.deepEqual(await (await fetch(fx.url + "/__requests", { signal: limit() })).json(), []);
  });
});

describe("CORS", () => {
  test("OPTIONS preflight is a 204 allowing any origin, headers and the methods", T, async () => {
    const res = await fetch(fx.url + "/fault/stall-headers/v1/chat/completions", {
      method: "OPTIONS",
      headers: { origin: "http://127.0.0.1:9", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, x-custom" },
      signal: limit(),
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.match(res.headers.get("access-control-allow-headers"), /^\*/);
    assert.match(res.headers.get("access-control-allow-headers"), /authorization/i);
    assert.match(res.headers.get("access-control-allow-headers"), /x-custom/);
    assert.equal(res.headers.get("access-control-allow-methods"), "GET, POST, OPTIONS");
    assert.equal(res.headers.get("access-control-max-age"), "600");
  });

  test("every kind of response carries the CORS headers", T, async () => {
    for (const path of ["/v1/chat/completions", "/status/500/x", "/replay/2e0134943b32/x", "/script/usage/x", "/echo/x", "/nope"]) {
      const res = await post(path, chatBody("cors"));
      await res.arrayBuffer();
      assert.equal(res.headers.get("access-control-allow-origin"), "*", path);
      assert.equal(res.headers.get("access-control-expose-headers"), "*", path);
    }
  });
});

describe("lifecycle", () => {
  test("close() ends stalled connections and resolves promptly", T, async () => {
    const other = await startFixtureServer();
    const pending = fetch(other.url + "/fault/stall-headers/x", { method: "POST", body: "{}", signal: limit() });
    await waitFor(() => other.requests.length === 1);
    await within(other.close(), 2_000, "close()");
    await assert.rejects(pending, TypeError);
  });

  test("binds only 127.0.0.1", T, async () => {
    assert.match(fx.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(fx.server.address().address, "127.0.0.1");
    await assert.rejects(startFixtureServer({ host: "0.0.0.0" }));
  });

  test("runs as a CLI: prints FIXTURE_URL, serves, exits cleanly on SIGTERM", T, async () => {
    const script = fileURLToPath(new URL("../fixture-server/server.mjs", import.meta.url));
    const child = spawn(process.execPath, [script, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      let out = "";
      child.stdout.setEncoding("utf8");
      const line = await within(
        new Promise((resolve, reject) => {
          child.stdout.on("data", (d) => {
            out += d;
            const m = out.match(/^FIXTURE_URL=(http:\/\/127\.0\.0\.1:\d+)\n/);
            if (m) resolve(m[1]);
          });
          child.once("exit", (code) => reject(new Error(`exited early with ${code}`)));
        }),
        5_000,
        "the CLI to print FIXTURE_URL",
      );
      const res = await fetch(line + "/v1/models", { signal: limit() });
      assert.equal((await res.json()).data.length, 3);
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const [code, signal] = await within(exited, 5_000, "the CLI to exit");
      assert.equal(signal, null);
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});
