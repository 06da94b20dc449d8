// The SSE bodies the benchmarks stream, built from a recorded provider stream so the bytes
// have the shape real clients meet (field order, `usage: null`, escapes in the text).
//
// Template: recording `ae9e11899907` of tests/fixtures/provider-recordings.json (Fireworks,
// deepseek-r1, 432 content deltas: `<think>\n`, `Okay`, `,`, ` let`, `'s`, ` "`, …). Each
// chunk of the text stream is that recording's chunk object with only `delta.content`
// changed, cycling through its deltas; the tool-call stream keeps the same envelope and
// carries `delta.tool_calls` in the shape of OpenAI's streamed tool calls.
//
// Pure and deterministic: the same call gives the same bytes.

import { readFileSync } from "node:fs";

const RECORDING_ID = "ae9e11899907";

function loadTemplate() {
  const file = new URL("../../tests/fixtures/provider-recordings.json", import.meta.url);
  const rec = JSON.parse(readFileSync(file, "utf8")).find((r) => r.id === RECORDING_ID);
  if (!rec) throw new Error(`bodies: recording ${RECORDING_ID} not found in ${file.pathname}`);
  const chunks = rec.body
    .split("\n\n")
    .filter((l) => l.startsWith("data: {"))
    .map((l) => JSON.parse(l.slice(6)));
  const tokens = chunks.map((c) => c.choices?.[0]?.delta?.content).filter((t) => typeof t === "string" && t.length > 0);
  const content = chunks.find((c) => typeof c.choices?.[0]?.delta?.content === "string");
  const last = chunks[chunks.length - 1];
  return { tokens, content, last };
}

const T = loadTemplate();
export const RECORDED_TOKENS = T.tokens;

/** One chunk: the recorded content chunk with `delta` (and optionally finish/usage) replaced. */
function chunk(delta, { finish = null, usage = null } = {}) {
  const c = structuredClone(T.content);
  c.choices = [{ ...c.choices[0], delta, finish_reason: finish }];
  c.usage = usage;
  return `data: ${JSON.stringify(c)}\n\n`;
}
const DONE = "data: [DONE]\n\n";

/** Chat text stream: a role chunk, `tokens` content chunks, a finish chunk with usage, `[DONE]`.
 *  Returns the body, the text a correct client assembles, and the number of chunks it
 *  delivers (every `data: {…}` event: role, contents, finish). */
export function textStream(tokens = 10_000) {
  const parts = [chunk({ role: "assistant" })];
  let text = "";
  for (let i = 0; i < tokens; i++) {
    const t = T.tokens[i % T.tokens.length];
    text += t;
    parts.push(chunk({ content: t }));
  }
  parts.push(chunk({}, { finish: "stop", usage: { prompt_tokens: 8, total_tokens: 8 + tokens, completion_tokens: tokens } }));
  parts.push(DONE);
  const body = Buffer.from(parts.join(""), "utf8");
  return { body, text, chunks: tokens + 2, contentChunks: tokens };
}

/** Tool-call stream: one call whose `arguments` (a JSON object holding a long text, so it is
 *  full of escaped quotes and newlines once inside the chunk's JSON) is `argBytes` long,
 *  streamed in pieces of `piece` characters. Returns the body, the arguments string a
 *  correct client assembles, and the chunk count. */
export function toolStream(argBytes = 1 << 20, piece = 256) {
  let content = "";
  for (let i = 0; content.length < argBytes; i++) content += T.tokens[i % T.tokens.length];
  const args = JSON.stringify({ path: "notes/answer.md", content }).slice(0, argBytes);
  // Cut at code point boundaries (the text has no astral characters, but stay safe).
  const cps = Array.from(args);
  const parts = [
    chunk({
      role: "assistant",
      content: null,
      tool_calls: [{ index: 0, id: "call_bench_0001", type: "function", function: { name: "write_file", arguments: "" } }],
    }),
  ];
  let n = 0;
  for (let at = 0; at < cps.length; at += piece) {
    parts.push(chunk({ tool_calls: [{ index: 0, function: { arguments: cps.slice(at, at + piece).join("") } }] }));
    n++;
  }
  parts.push(chunk({}, { finish: "tool_calls", usage: { prompt_tokens: 8, total_tokens: 8 + n, completion_tokens: n } }));
  parts.push(DONE);
  return { body: Buffer.from(parts.join(""), "utf8"), text: args, chunks: n + 2, contentChunks: n };
}

/** An endless generator of text-stream events (role chunk first), for streams sized in bytes:
 *  `next()` gives the next event as a Buffer. */
let eventCache;
export function textEvents() {
  const cache = (eventCache ??= T.tokens.map((t) => Buffer.from(chunk({ content: t }), "utf8")));
  let i = 0;
  let started = false;
  return {
    next() {
      if (!started) {
        started = true;
        return Buffer.from(chunk({ role: "assistant" }), "utf8");
      }
      return cache[i++ % cache.length];
    },
    tokenAt: (k) => T.tokens[k % T.tokens.length],
    finish: (tokens) => Buffer.from(chunk({}, { finish: "stop", usage: { prompt_tokens: 8, total_tokens: 8 + tokens, completion_tokens: tokens } }) + DONE, "utf8"),
  };
}

/** How many content events a stream of at least `mib` MiB holds (role chunk included in the
 *  size): the server sends exactly that many, so a client can tell its progress. */
export function memPlan(mib) {
  const limit = mib * 1024 * 1024;
  const sizes = T.tokens.map((t) => Buffer.byteLength(chunk({ content: t }), "utf8"));
  const chars = T.tokens.map((t) => t.length);
  let bytes = Buffer.byteLength(chunk({ role: "assistant" }), "utf8");
  let tokens = 0;
  let textChars = 0;
  while (bytes < limit) {
    bytes += sizes[tokens % sizes.length];
    textChars += chars[tokens % chars.length];
    tokens++;
  }
  return { tokens, bytes, textChars };
}

export { chunk as chunkEvent, DONE };
