// Shared helpers for the JS end-to-end tests. Node built-ins only; does not import the
// package, so the fixture server's own tests can use it too.

import net from "node:net";
import { setTimeout as delay } from "node:timers/promises";

export { startFixtureServer, scripts, simulate, simulatorReply, tokenize, loadRecordings, FAULT_PARTIAL_TEXT } from "../fixture-server/server.mjs";

/** Every way the tests cut a body into pieces: none, fixed sizes, seeded random sizes. */
export const SPLITS = ["", "/split/1", "/split/2", "/split/3", "/split/7", "/split/random/1", "/split/random/42", "/split/random/1337", "/split/random/20240501"];

/** A token that must never show up in an error. */
export const SECRET = "hf_fixtureSECRETtoken_0123456789abcdef";

/** Poll `predicate` until it returns truthy, at most `timeout` ms; throws on timeout. */
export async function waitFor(predicate, { timeout = 3_000, interval = 10, message = "condition" } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${message}`);
    await delay(interval);
  }
}

/** Run `fn` (sync throw or async rejection both count); returns `{ ok, value, error }`. */
export async function settle(fn) {
  try {
    return { ok: true, value: await (typeof fn === "function" ? fn() : fn) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Race `promise` against a bounded wait, so a hung client fails the test instead of the run. */
export async function within(promise, ms, what = "operation") {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, guard]);
  } finally {
    clearTimeout(timer);
  }
}

/** Read a fetch Response body reader to the end: all bytes, and how many reads it took. */
export async function readAll(body) {
  const reader = body.getReader();
  const parts = [];
  let reads = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    reads++;
    parts.push(Buffer.from(value));
  }
  return { bytes: Buffer.concat(parts), reads };
}

/** A tiny SSE parser (WHATWG event stream interpretation, enough for tests): returns
 *  `[{ event, data }]`. Handles CRLF/CR/LF, comments, and a final unterminated event
 *  when `flushFinal` is set (the client's documented difference from the spec). */
export function parseSse(text, { flushFinal = false } = {}) {
  const events = [];
  let data = [];
  let eventName = "";
  let seenData = false;
  const lines = text.split(/\r\n|\r|\n/);
  const endsWithNewline = /[\r\n]$/.test(text);
  if (endsWithNewline) lines.pop();
  const dispatch = () => {
    if (seenData) events.push({ event: eventName || "message", data: data.join("\n") });
    data = [];
    eventName = "";
    seenData = false;
  };
  for (const line of lines) {
    if (line === "") {
      dispatch();
      continue;
    }
    if (line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i === -1 ? line : line.slice(0, i);
    let value = i === -1 ? "" : line.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      data.push(value);
      seenData = true;
    } else if (field === "event") eventName = value;
  }
  if (flushFinal) dispatch();
  return events;
}

/** Reference result of a chat stream body: text and reasoning of choice 0, finish reason,
 *  usage; stops at `[DONE]`. `error` is set if a data payload is not JSON or is an error. */
export function referenceChat(body) {
  let text = "";
  let reasoning = "";
  let finishReason = null;
  let usage;
  let error;
  for (const ev of parseSse(body, { flushFinal: true })) {
    if (ev.data.trim() === "[DONE]") break;
    let obj;
    try {
      obj = JSON.parse(ev.data);
    } catch {
      error = { kind: "parse", data: ev.data };
      break;
    }
    if (ev.event === "error" || (obj && obj.error !== undefined && !obj.choices)) {
      error = { kind: "stream", data: ev.data };
      break;
    }
    for (const ch of obj.choices ?? []) {
      if (ch.index !== 0 && ch.index !== undefined) continue;
      if (typeof ch.delta?.content === "string") text += ch.delta.content;
      if (typeof ch.delta?.reasoning_content === "string") reasoning += ch.delta.reasoning_content;
      if (ch.finish_reason) finishReason = ch.finish_reason;
    }
    if (obj.usage) usage = obj.usage;
  }
  return { text, reasoning, finishReason, usage, error };
}

/** The recordings that are chat completion streams (OpenAI chunk shape), by id. */
export function chatStreamRecordings(recordings) {
  return [...recordings.values()].filter(
    (r) => r.status === 200 && /event-stream/.test(r.content_type) && /"delta"\s*:/.test(r.body),
  );
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
export async function closedPort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Records unhandled rejections while installed; `stop()` removes the listener. */
export function unhandledRejectionSpy() {
  const seen = [];
  const listener = (reason) => seen.push(reason);
  process.on("unhandledRejection", listener);
  return {
    seen,
    /** Give the runtime a moment to report rejections that nobody handled. */
    async settle() {
      await delay(30);
      await new Promise((r) => setImmediate(r));
    },
    stop() {
      process.off("unhandledRejection", listener);
    },
  };
}

/** The log entry of the most recent request whose path matches. */
export function lastRequest(fixture, pathPattern) {
  const list = fixture.requests.filter((r) => (typeof pathPattern === "string" ? r.path.includes(pathPattern) : pathPattern.test(r.path)));
  return list[list.length - 1];
}

/** `encodeURIComponent` for a recording id in a `/replay/<id>` path. */
export const replayPath = (id) => `/replay/${encodeURIComponent(id)}`;

export const sleep = delay;
