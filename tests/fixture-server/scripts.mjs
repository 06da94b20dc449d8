// Scripted response bodies for the fixture server's `/script/<name>/…` route.
//
// Each entry is `{ status?, headers?, contentType?, body, tail?, expected? }`:
//   - `body`     a string (sent as UTF-8) or a Uint8Array (sent byte for byte);
//   - `tail`     optional `{ body, everyMs }`: after `body`, keep the connection open and
//                send `tail.body` every `everyMs` until the client goes away (a stream
//                that looks like it never ends);
//   - `expected` what a correct client makes of the stream: `text` (choice 0 content,
//                exactly), `finishReason`, `usage` when the stream reports it, and for
//                streams that fail, `error: { kind, code?, message? }` (message is a
//                substring) with `text` being what was delivered before the failure.
//
// Every test layer (native, wasm, JS, browser) may assert against `expected`, so change
// a body and its `expected` together. Pure data: no I/O, no clock.

const ID = "chatcmpl-fixture-script";
const CREATED = 1700000000;
const MODEL = "fixture/scripted";

/** One `chat.completion.chunk` object for choice 0. */
export function chunkObject({ content, role, reasoning, toolCalls, finish = null, usage, id = ID, model = MODEL } = {}) {
  const delta = {};
  if (role !== undefined) delta.role = role;
  if (content !== undefined) delta.content = content;
  if (reasoning !== undefined) delta.reasoning_content = reasoning;
  if (toolCalls !== undefined) delta.tool_calls = toolCalls;
  const chunk = {
    id,
    object: "chat.completion.chunk",
    created: CREATED,
    model,
    system_fingerprint: "fixture",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
  if (usage !== undefined) chunk.usage = usage;
  return chunk;
}

/** A final usage-only chunk (`choices: []`), as OpenAI sends with `include_usage`. */
export function usageChunkObject(usage, { id = ID, model = MODEL } = {}) {
  return { id, object: "chat.completion.chunk", created: CREATED, model, system_fingerprint: "fixture", choices: [], usage };
}

/** `data: <json>\n\n` */
export const event = (obj, eol = "\n") => `data: ${typeof obj === "string" ? obj : JSON.stringify(obj)}${eol}${eol}`;
export const DONE = "data: [DONE]\n\n";

/** A complete, well-formed text stream: role chunk, one chunk per piece, stop, DONE. */
function textStream(pieces, { usage, finish = "stop", done = DONE, eol = "\n" } = {}) {
  let s = event(chunkObject({ role: "assistant", content: "" }), eol);
  for (const p of pieces) s += event(chunkObject({ content: p }), eol);
  s += event(chunkObject({ finish }), eol);
  if (usage) s += event(usageChunkObject(usage), eol);
  return s + done;
}

const utf8 = (s) => new TextEncoder().encode(s);
function concatBytes(...parts) {
  const arrays = parts.map((p) => (typeof p === "string" ? utf8(p) : p));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

// --- emoji ------------------------------------------------------------------------
// Multi-byte characters spread over chunks: a ZWJ family split between two chunks, a
// flag (two regional indicators), combining-free accents, CJK, and one chunk where the
// crab arrives as a JSON surrogate-pair escape instead of raw UTF-8.
const emojiPieces = ["Family: ", "👩‍👩", "‍👧‍👦", ", flag: ", "🇫🇷", ", caf", "é", " ", "é", "t", "é", ", ", "日本", "語", ", crab: ", "🦀", " and ", null, "!"];
const emojiText = emojiPieces.map((p) => (p === null ? "🦀" : p)).join("");
function emojiBody() {
  let s = event(chunkObject({ role: "assistant", content: "" }));
  for (const p of emojiPieces) {
    if (p === null) {
      // JSON escapes for U+1F980 (a surrogate pair), written by hand.
      s += `data: {"id":"${ID}","object":"chat.completion.chunk","created":${CREATED},"model":"${MODEL}","choices":[{"index":0,"delta":{"content":"\\ud83e\\udd80"},"logprobs":null,"finish_reason":null}]}\n\n`;
    } else {
      s += event(chunkObject({ content: p }));
    }
  }
  s += event(chunkObject({ finish: "stop" }));
  return s + DONE;
}

// --- tool-calls -------------------------------------------------------------------
const toolArgsPieces = ['{"loc', 'ation": "Par', "is, Fr", 'ance", "un', 'it": "cel', 'sius"}'];
function toolCallsBody() {
  let s = event(chunkObject({ role: "assistant", content: null }));
  s += event(
    chunkObject({
      toolCalls: [{ index: 0, id: "call_fixture_1", type: "function", function: { name: "get_weather", arguments: "" } }],
    }),
  );
  for (const p of toolArgsPieces) s += event(chunkObject({ toolCalls: [{ index: 0, function: { arguments: p } }] }));
  s += event(chunkObject({ finish: "tool_calls" }));
  return s + DONE;
}

// --- usage / no-usage -----------------------------------------------------------------
const usagePieces = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", "."];
const usageValue = { prompt_tokens: 12, completion_tokens: 10, total_tokens: 22 };
const noUsagePieces = ["No", " usage", " is", " reported", " for", " this", " stream", "."];

// --- done-no-space ------------------------------------------------------------------
const doneNoSpacePieces = ["Done", " without", " a", " space", "."];

// --- done-then-garbage ----------------------------------------------------------------
const garbagePieces = ["Stop", " at", " DONE", "."];
const garbageAfterDone = concatBytes(
  new Uint8Array([0xff, 0xfe, 0x00, 0x01]),
  " garbage {{{ not json\n",
  'data: {"choices":[{"index":0,"delta":{"content":"SHOULD NOT APPEAR"},"finish_reason":null}]}\n\n',
  "event: error\ndata: {\"error\":{\"message\":\"after done\"}}\n\n",
  "data: ",
);

// --- error-event / error-json / malformed-json / truncated ----------------------------------
const twoChunks = (a, b) => event(chunkObject({ role: "assistant", content: "" })) + event(chunkObject({ content: a })) + event(chunkObject({ content: b }));
const malformedData = '{"choices": [{"delta": {"content": "x"';

// --- invalid-utf8 ---------------------------------------------------------------------
function invalidUtf8Body() {
  const head = `data: {"id":"${ID}","object":"chat.completion.chunk","created":${CREATED},"model":"${MODEL}","choices":[{"index":0,"delta":{"content":"bad `;
  const tail = ` bytes"},"logprobs":null,"finish_reason":null}]}\n\n`;
  return concatBytes(
    event(chunkObject({ role: "assistant", content: "" })),
    event(chunkObject({ content: "Before, " })),
    head,
    new Uint8Array([0xff, 0xfe]),
    tail,
    event(chunkObject({ content: ", after." })),
    event(chunkObject({ finish: "stop" })),
    DONE,
  );
}

// --- heartbeats (CRLF) ---------------------------------------------------------------------
const heartbeatPieces = ["Heart", "beats", " and", " CRLF", " line", " endings", "."];
function heartbeatsBody() {
  const crlf = "\r\n";
  let s = `: keep-alive${crlf}${crlf}retry: 3000${crlf}${crlf}`;
  s += event(chunkObject({ role: "assistant", content: "" }), crlf);
  heartbeatPieces.forEach((p, i) => {
    s += event(chunkObject({ content: p }), crlf);
    s += i % 2 === 0 ? `: keep-alive${crlf}${crlf}` : `:${crlf}`;
  });
  s += event(chunkObject({ finish: "stop" }), crlf);
  s += `: keep-alive${crlf}${crlf}`;
  return s + `data: [DONE]${crlf}${crlf}`;
}

// --- unterminated-final -------------------------------------------------------------------
const unterminatedPieces = ["This", " is", " a", " test", "."];
const unterminatedUsage = { prompt_tokens: 42, completion_tokens: 6, total_tokens: 48 };
function unterminatedFinalBody() {
  let s = event(chunkObject({ role: "assistant" }));
  for (const p of unterminatedPieces) s += event(chunkObject({ content: p }));
  // Like the Cerebras recording: the last chunk carries the finish reason and usage,
  // and the body ends right after its JSON: no blank line, no [DONE].
  return s + `data: ${JSON.stringify(chunkObject({ finish: "stop", usage: unterminatedUsage }))}`;
}

// --- huge-line ------------------------------------------------------------------------------
export const HUGE_LINE_BYTES = 2 * 1024 * 1024;
const hugeBefore = ["Before", " the", " huge", " line", ". "];
const hugeAfter = [" After", " it", "."];
function hugeLine() {
  const prefix = `data: {"id":"${ID}","object":"chat.completion.chunk","created":${CREATED},"model":"${MODEL}","choices":[{"index":0,"delta":{"content":"`;
  const suffix = `"},"logprobs":null,"finish_reason":null}]}`;
  const fill = HUGE_LINE_BYTES - prefix.length - suffix.length;
  return { line: prefix + "x".repeat(fill) + suffix, fill };
}
const huge = hugeLine();
function hugeLineBody() {
  let s = event(chunkObject({ role: "assistant", content: "" }));
  for (const p of hugeBefore) s += event(chunkObject({ content: p }));
  s += huge.line + "\n\n";
  for (const p of hugeAfter) s += event(chunkObject({ content: p }));
  s += event(chunkObject({ finish: "stop" }));
  return s + DONE;
}

// --- reasoning -------------------------------------------------------------------------------
const reasoningPieces = ["Let me", " think.", " The user", " wants", " a greeting."];
const reasoningContent = ["Hello", "!", " How", " can", " I", " help?"];
function reasoningBody() {
  let s = event(chunkObject({ role: "assistant", content: "" }));
  for (const p of reasoningPieces) s += event(chunkObject({ reasoning: p }));
  for (const p of reasoningContent) s += event(chunkObject({ content: p }));
  s += event(chunkObject({ finish: "stop" }));
  return s + DONE;
}

// --- TGI: tokens, then TGI's in-stream error (old TGI spelling: `data:{` with no space) -------
const tgiErrorTokens = ["Once", " upon"];
function tgiErrorBody() {
  let s = "";
  tgiErrorTokens.forEach((text, i) => {
    s += `data:${JSON.stringify({ index: i + 1, token: { id: i + 1, text, logprob: -0.5, special: false }, generated_text: null, details: null })}\n\n`;
  });
  return s + 'data:{"error":"Request failed during generation: Server error: CUDA out of memory","error_type":"generation"}\n\n';
}

// --- the table ---------------------------------------------------------------------------------
export const scripts = {
  emoji: {
    body: emojiBody(),
    expected: { text: emojiText, finishReason: "stop" },
  },
  "tool-calls": {
    body: toolCallsBody(),
    expected: {
      text: "",
      finishReason: "tool_calls",
      toolCalls: [{ id: "call_fixture_1", type: "function", function: { name: "get_weather", arguments: toolArgsPieces.join("") } }],
    },
  },
  usage: {
    body: textStream(usagePieces, { usage: usageValue }),
    expected: { text: usagePieces.join(""), finishReason: "stop", usage: usageValue },
  },
  "no-usage": {
    body: textStream(noUsagePieces),
    expected: { text: noUsagePieces.join(""), finishReason: "stop", usage: undefined },
  },
  "done-no-space": {
    body: textStream(doneNoSpacePieces, { done: "data:[DONE]\n\n" }),
    expected: { text: doneNoSpacePieces.join(""), finishReason: "stop" },
  },
  "done-then-garbage": {
    body: concatBytes(textStream(garbagePieces), garbageAfterDone),
    tail: { body: "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"NEVER\"}}]}\n\n", everyMs: 20 },
    expected: { text: garbagePieces.join(""), finishReason: "stop" },
  },
  "error-event": {
    body:
      twoChunks("Hello", " there") +
      'event: error\ndata: {"error":{"message":"upstream overloaded","type":"server_error","code":"overloaded"}}\n\n',
    expected: { text: "Hello there", finishReason: null, error: { kind: "stream", code: "overloaded", message: "upstream overloaded" } },
  },
  "error-json": {
    body: twoChunks("Hello", " again") + 'data: {"error":"Input validation error","error_type":"validation"}\n\n',
    expected: { text: "Hello again", finishReason: null, error: { kind: "stream", code: "validation", message: "Input validation error" } },
  },
  "malformed-json": {
    body: twoChunks("Almost", " parsed") + `data: ${malformedData}\n\n`,
    expected: { text: "Almost parsed", finishReason: null, error: { kind: "parse", data: malformedData } },
  },
  "invalid-utf8": {
    body: invalidUtf8Body(),
    expected: { text: "Before, bad \uFFFD\uFFFD bytes, after.", finishReason: "stop" },
  },
  truncated: {
    body: twoChunks("Partial", " answer"),
    expected: { text: "Partial answer", finishReason: null, error: { kind: "truncated" } },
  },
  heartbeats: {
    body: heartbeatsBody(),
    expected: { text: heartbeatPieces.join(""), finishReason: "stop" },
  },
  "unterminated-final": {
    body: unterminatedFinalBody(),
    expected: { text: unterminatedPieces.join(""), finishReason: "stop", usage: unterminatedUsage },
  },
  "huge-line": {
    body: hugeLineBody(),
    expected: {
      // What a client with a line limit above 2 MiB receives.
      text: hugeBefore.join("") + "x".repeat(huge.fill) + hugeAfter.join(""),
      finishReason: "stop",
      // What a client with a smaller line limit must still have delivered.
      before: hugeBefore.join(""),
      lineBytes: HUGE_LINE_BYTES,
      error: { kind: "stream", code: "line_too_long" },
    },
  },
  "tgi-error-midstream": {
    protocol: "tgi",
    body: tgiErrorBody(),
    expected: { text: tgiErrorTokens.join(""), finishReason: null, error: { kind: "stream", code: "generation", message: "CUDA out of memory" } },
  },
  reasoning: {
    body: reasoningBody(),
    expected: { text: reasoningContent.join(""), reasoning: reasoningPieces.join(""), finishReason: "stop" },
  },
};

/** The scripts' bodies as bytes (what goes on the wire). */
export function scriptBytes(name) {
  const s = scripts[name];
  if (!s) return undefined;
  return typeof s.body === "string" ? utf8(s.body) : s.body;
}
