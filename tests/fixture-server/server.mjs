// The loopback fixture server every test layer talks to (see tests/fixture-server/README.md).
//
// Node built-ins only. Binds 127.0.0.1. Routing is by path prefix, so a client is pointed at
// a scenario by its base URL alone:
//
//   /v1/chat/completions            chat simulator (OpenAI-compatible, stream or not)
//   /v1/models                      three simulated models
//   /generate, /generate_stream     TGI simulator
//   /replay/<recordingId>/…         a recording from tests/fixtures/*-recordings.json
//   /script/<name>/…                a scripted body from ./scripts.mjs
//   /echo/…                         a chat completion describing the request received
//   /status/<code>/…                an OpenAI-shaped error with that status
//   /fault/<name>/…                 network faults (see `faults` below)
//   modifiers before any of these:  /split/<n>  /split/random/<seed>  /delay/<ms>  /pace/<ms>
//   control:                        GET /__requests, GET /__counters, POST /__reset
//
// Run as a CLI: `node tests/fixture-server/server.mjs --port 8787` prints
// `FIXTURE_URL=http://127.0.0.1:8787` once listening.

import http from "node:http";
import { readFile } from "node:fs/promises";
import { realpathSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { setImmediate as immediate } from "node:timers/promises";
import { scripts, chunkObject } from "./scripts.mjs";
import { demoReply, DEMO_MODELS, prng } from "./demo-simulator.mjs";

export { scripts } from "./scripts.mjs";

const HOST = "127.0.0.1";
const MAX_REQUEST_BODY = 16 * 1024 * 1024;
const CREATED = 1700000000;
const DEFAULT_MODEL = "fixture/chat-simulator";

export const MODELS = [
  {
    id: DEFAULT_MODEL,
    object: "model",
    created: CREATED,
    owned_by: "fixture",
    context_length: 8192,
    // The router's shape: every provider serving the model, with its price per million tokens.
    providers: [
      { provider: "together", status: "live", context_length: 131072, pricing: { input: 0.88, output: 0.88 }, supports_tools: true, supports_structured_output: true },
      { provider: "groq", status: "live", context_length: 131072, pricing: { input: 0.59, output: 0.79 }, supports_tools: true, supports_structured_output: false },
      { provider: "novita", status: "staging", context_length: "131072", pricing: { input: "0.135", output: 0.4 } },
    ],
  },
  { id: "fixture/tiny-chat", object: "model", created: CREATED, owned_by: "fixture", context_length: 2048 },
  { id: "fixture/tgi-compatible", object: "model", created: CREATED, owned_by: "fixture", context_length: 4096 },
];

// ---------------------------------------------------------------------------------------------
// Recordings

/** Load both recording files from `dir` into a Map id -> entry. */
export async function loadRecordings(dir = new URL("../fixtures/", import.meta.url)) {
  const base = dir instanceof URL ? dir : pathToFileURL(String(dir).endsWith("/") ? String(dir) : `${dir}/`);
  const map = new Map();
  for (const file of ["provider-recordings.json", "router-recordings.json"]) {
    const entries = JSON.parse(await readFile(new URL(file, base), "utf8"));
    for (const entry of entries) map.set(entry.id, { ...entry, file });
  }
  return map;
}

// ---------------------------------------------------------------------------------------------
// The chat simulator's text (exported so tests can compute what the simulator says)

/** The text of a message's content (a string or an array of parts). */
export function contentText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (p && typeof p.text === "string" ? p.text : "")).join("");
  return "";
}

/** The last user message's text, or "". */
export function lastUserText(messages) {
  if (!Array.isArray(messages)) return "";
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i] && messages[i].role === "user") return contentText(messages[i].content);
  }
  return "";
}

/** The simulator's deterministic reply to `userText`: a few sentences that echo it, some
 *  Markdown, and a code block when the message mentions "code". */
export function simulatorReply(userText) {
  const topic = String(userText).replace(/\s+/g, " ").replace(/`/g, "'").trim().slice(0, 120) || "(an empty message)";
  const words = topic.split(" ").filter(Boolean);
  let reply = `You asked: "${topic}". This is a **deterministic** reply from the fixture chat simulator.\n\n`;
  reply += `- Your message has ${words.length} word${words.length === 1 ? "" : "s"} and ${topic.length} characters.\n`;
  reply += `- Its first word is *${words[0] || ""}*.\n\n`;
  if (/code/i.test(userText)) {
    reply += "Here is some code:\n\n```js\nconst echo = " + JSON.stringify(topic.slice(0, 40)) + ";\nconsole.log(echo.length);\n```\n\n";
  }
  reply += "That is all for now.";
  return reply;
}

/** Split text into tokens (words with their leading space, punctuation, whitespace); the
 *  tokens joined give the text back exactly. */
export function tokenize(text) {
  return String(text).match(/\s*[\p{L}\p{N}_]+|\s*[^\s\p{L}\p{N}_]|\s+/gu) || [];
}

/** The usage estimate the simulator reports: characters / 4, at least 1. */
export const estimateTokens = (chars) => Math.max(1, Math.ceil(chars / 4));

/** What the simulator answers for a request body (the same text streamed or not). With
 *  `demo: { seed }` (the `/demo/<seed>` modifier) the reply is the offline demo's simulated
 *  model's (./demo-simulator.mjs) instead of the deterministic echo. */
export function simulate(request, { demo } = {}) {
  const reply = demo ? demoReply({ model: request.model, messages: request.messages, seed: demo.seed }) : simulatorReply(lastUserText(request.messages));
  let tokens = tokenize(reply);
  let finishReason = "stop";
  const max = request.max_completion_tokens ?? request.max_tokens;
  if (Number.isInteger(max) && max > 0 && max < tokens.length) {
    tokens = tokens.slice(0, max);
    finishReason = "length";
  }
  const text = tokens.join("");
  const promptChars = request.messages.reduce((n, m) => n + contentText(m && m.content).length, 0);
  const prompt_tokens = estimateTokens(promptChars);
  const completion_tokens = estimateTokens(text.length);
  return {
    text,
    tokens,
    finishReason,
    usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
    model: typeof request.model === "string" && request.model ? request.model : DEFAULT_MODEL,
  };
}

// ---------------------------------------------------------------------------------------------
// Small utilities

const enc = new TextEncoder();
const toBytes = (b) => (typeof b === "string" ? enc.encode(b) : b instanceof Uint8Array ? b : enc.encode(String(b)));
const sseEvent = (obj) => `data: ${JSON.stringify(obj)}\n\n`;

function seedOf(text) {
  if (/^\d+$/.test(text)) return Number(text) >>> 0;
  let h = 2166136261;
  for (const c of text) h = Math.imul(h ^ c.codePointAt(0), 16777619);
  return h >>> 0;
}

/** Sleep `ms`, or less if `signal` aborts. Never rejects. */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Resolves when `signal` aborts (the client went away, or the server is closing). */
const untilClosed = (signal) =>
  new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", resolve, { once: true })));

const isInt = (s) => typeof s === "string" && /^\d+$/.test(s);

// ---------------------------------------------------------------------------------------------
// Responding

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "*",
};

const HOP_BY_HOP = new Set(["content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"]);

/** Per-request context handed to every route. */
class Ctx {
  constructor(server, req, res, entry) {
    this.server = server;
    this.req = req;
    this.res = res;
    this.entry = entry;
    this.opts = { split: null, delay: 0, pace: 0 };
    this.closer = new AbortController();
    this.signal = this.closer.signal;
    res.on("close", () => this.closer.abort());
    // A write racing a client disconnect must not crash the server.
    res.on("error", () => this.closer.abort());
  }

  get closed() {
    return this.signal.aborted;
  }

  /** Parsed JSON request body, or `undefined` when absent or invalid. */
  json() {
    if (this._json === undefined) {
      try {
        this._json = this.entry.body ? JSON.parse(this.entry.body) : null;
      } catch {
        this._json = null;
      }
    }
    return this._json === null ? undefined : this._json;
  }

  /** Write status and headers now (CORS and the sequence number included). */
  head(status, headers = {}) {
    const out = { ...CORS, "x-fixture-seq": String(this.entry.seq) };
    for (const [k, v] of Object.entries(headers)) if (v !== undefined && v !== null) out[k.toLowerCase()] = String(v);
    this.res.writeHead(status, out);
    this.res.flushHeaders();
    this.req.socket.setNoDelay(true);
  }

  /** Split a part into pieces according to the `split` modifier. */
  pieces(bytes) {
    const split = this.opts.split;
    if (!split) return [bytes];
    const out = [];
    let at = 0;
    while (at < bytes.length) {
      const n = split.random ? 1 + Math.floor(split.random() * 16) : split.size;
      out.push(bytes.subarray(at, at + n));
      at += n;
    }
    return out;
  }

  /** Write one piece, awaiting `drain` if needed. False when the client is gone. */
  async write(piece) {
    if (this.closed) return false;
    if (!this.res.write(piece)) {
      await new Promise((resolve) => {
        const done = () => {
          this.res.off("drain", done);
          this.signal.removeEventListener("abort", done);
          resolve();
        };
        this.res.once("drain", done);
        this.signal.addEventListener("abort", done, { once: true });
      });
    }
    return !this.closed;
  }

  /** Write `parts` (strings or bytes) applying split/delay; `gapMs` between parts (pace).
   *  Returns false if the client went away. Does not end the response. */
  async writeParts(parts, { gapMs = 0 } = {}) {
    const { split, delay } = this.opts;
    let first = true;
    for (let i = 0; i < parts.length; i++) {
      if (i > 0 && gapMs > 0) await sleep(gapMs, this.signal);
      for (const piece of this.pieces(toBytes(parts[i]))) {
        if (!first) {
          if (delay > 0) await sleep(delay, this.signal);
          else if (split) await immediate(); // let each piece leave in its own write
        }
        first = false;
        if (!(await this.write(piece))) return false;
      }
    }
    return true;
  }

  /** Send a whole response: status, headers, body parts, then end (or hold with a tail). */
  async send({ status = 200, headers = {}, contentType, parts, gapMs = 0, tail }) {
    const hdrs = { ...headers };
    if (contentType) hdrs["content-type"] = contentType;
    const bytes = parts.map(toBytes);
    const oneShot = bytes.length === 1 && !this.opts.split && !this.opts.delay && !tail;
    const isSse = /event-stream/i.test(contentType || "");
    if (oneShot && !isSse) hdrs["content-length"] = String(bytes[0].length);
    // A delay without a split paces an SSE body event by event.
    let out = bytes;
    if (this.opts.delay && !this.opts.split && isSse && bytes.length === 1) out = splitEvents(bytes[0]);
    this.head(status, hdrs);
    if (!(await this.writeParts(out, { gapMs }))) return;
    if (tail) {
      const t = toBytes(tail.body);
      const until = Date.now() + (tail.forMs ?? 10 * 60_000);
      while (!this.closed && Date.now() < until) {
        await sleep(tail.everyMs ?? 20, this.signal);
        if (!(await this.write(t))) return;
      }
    }
    this.res.end();
  }

  /** JSON response in one piece (modifiers still apply). */
  sendJson(status, value, headers = {}) {
    return this.send({ status, headers, contentType: "application/json", parts: [JSON.stringify(value)] });
  }

  /** An OpenAI-shaped error. */
  sendError(status, message, { type = "invalid_request_error", code = null, headers = {} } = {}) {
    return this.sendJson(status, { error: { message, type, code } }, headers);
  }
}

/** Split an SSE body after each blank line (so `/delay/<ms>` alone paces events). */
function splitEvents(bytes) {
  const out = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x0a && bytes[i + 1] === 0x0a) {
      out.push(bytes.subarray(start, i + 2));
      start = i + 2;
      i++;
    } else if (b === 0x0a && bytes[i - 1] === 0x0d && bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) {
      out.push(bytes.subarray(start, i + 3));
      start = i + 3;
      i += 2;
    }
  }
  if (start < bytes.length) out.push(bytes.subarray(start));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Routes. Each takes (ctx, rest) where `rest` is the path segments after its own.

const MODIFIERS = {
  split(ctx, rest) {
    if (rest[0] === "random" && rest[1] !== undefined) {
      ctx.opts.split = { random: prng(seedOf(rest[1])) };
      return rest.slice(2);
    }
    if (isInt(rest[0]) && Number(rest[0]) > 0) {
      ctx.opts.split = { size: Number(rest[0]) };
      return rest.slice(1);
    }
    return null;
  },
  delay(ctx, rest) {
    if (!isInt(rest[0])) return null;
    ctx.opts.delay = Number(rest[0]);
    return rest.slice(1);
  },
  pace(ctx, rest) {
    if (!isInt(rest[0])) return null;
    ctx.opts.pace = Number(rest[0]);
    return rest.slice(1);
  },
  // The offline demo's simulated models: `/demo/varied` (a new seed per request) or
  // `/demo/<n>` (fixed: the same question to the same model gets the same reply).
  demo(ctx, rest) {
    if (rest[0] === "varied") ctx.opts.demo = { seed: Math.floor(Math.random() * 2 ** 32) };
    else if (isInt(rest[0])) ctx.opts.demo = { seed: Number(rest[0]) };
    else return null;
    return rest.slice(1);
  },
};

/** Fixed chat chunks the faults send before misbehaving. */
const faultChunks = () => [
  sseEvent(chunkObject({ role: "assistant", content: "Hello", id: "chatcmpl-fixture-fault" })),
  sseEvent(chunkObject({ content: " world", id: "chatcmpl-fixture-fault" })),
];
export const FAULT_PARTIAL_TEXT = "Hello world";
/** The one content delta `drop-after-first-delta` sends before dropping the connection. */
export const FAULT_FIRST_DELTA = "Hello";

const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

/** A non-negative decimal path segment ("2", "0.2", "1500"). */
const isNum = (s) => typeof s === "string" && /^\d+(\.\d+)?$/.test(s);

/** Count one more request for `<name>:<key>` and return how many came before it (0 for the first).
 *  Counters live in `server.counters` and are cleared by `reset()` / `POST /__reset`. */
function countAttempt(ctx, name, key) {
  const counterKey = `${name}:${key}`;
  const seen = ctx.server.counters.get(counterKey) ?? 0;
  ctx.server.counters.set(counterKey, seen + 1);
  ctx.entry.fault = { name, key, attempt: seen + 1 };
  return seen;
}

/** An HTTP date (IMF-fixdate) at least `ms` from now: HTTP dates have one-second resolution,
 *  so the instant is rounded up to the next whole second. */
export function httpDateAfter(ms, now = Date.now()) {
  return new Date(Math.ceil((now + ms) / 1000) * 1000).toUTCString();
}

/** OpenAI's 429 body shape (`type: "requests"`, `code: "rate_limit_exceeded"`). */
const rateLimitBody = (attempt, n, hint = "") => ({
  error: {
    message: `Rate limit reached for requests (scripted 429, attempt ${attempt}${Number.isFinite(n) ? ` of ${n}` : ""}).${hint}`,
    type: "requests",
    param: null,
    code: "rate_limit_exceeded",
  },
});

/** Send a JSON body given as exact text (so numbers like `2.0` keep their spelling). */
const sendRawJson = (ctx, status, text, headers = {}) => ctx.send({ status, headers, contentType: "application/json", parts: [text] });

/** Exact bodies of the quota, credits, model-loading and bad-request faults. */
export const FAULT_BODIES = {
  quota:
    '{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","code":"insufficient_quota"}}',
  credits:
    '{"error":"You have exceeded your monthly included credits for Inference Providers. Subscribe to PRO to get 20x more monthly included credits."}',
  loading: '{"error":"Model is currently loading","estimated_time":2.0}',
  badRequest: '{"error":{"message":"bad request: messages must not be empty","type":"invalid_request_error"}}',
  serverError: '{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}',
  noRetry: '{"error":{"message":"Service unavailable (scripted: the server says do not retry)","type":"server_error","param":null,"code":"service_unavailable"}}',
};

/**
 * A stateful fault, `/fault/<name>/<key>/<params…>/…`: requests are counted per `<name>:<key>`
 * (so parallel tests don't share counters); the first `n` get `fail(ctx, args, attempt)`, later
 * ones route the rest of the path (the chat simulator answers, streamed or not per the request's
 * `stream` flag). `params` are the segments after `<key>`: `{ name, kind: "int" | "num" }`; a
 * param named `n` is the failure count. Faults without `n` fail on every request.
 */
function stateful(name, { description, params = [], fail }) {
  const usage = ["<key>", ...params.map((p) => `<${p.name}>`)].join("/");
  return {
    description: `/fault/${name}/${usage}/…: ${description}`,
    stateful: true,
    async handle(ctx, rest) {
      const [key, ...more] = rest;
      const args = { raw: {} };
      let ok = typeof key === "string" && key.length > 0;
      params.forEach((p, i) => {
        const seg = more[i];
        if (!(p.kind === "int" ? isInt(seg) : isNum(seg))) ok = false;
        else {
          args[p.name] = Number(seg);
          args.raw[p.name] = seg;
        }
      });
      if (!ok) return ctx.sendError(400, `usage: /fault/${name}/${usage}/…`, { type: "fixture", code: "bad_fixture_path" });
      const seen = countAttempt(ctx, name, key);
      const n = "n" in args ? args.n : Infinity;
      if (seen < n) {
        const attempt = seen + 1;
        return fail(ctx, { ...args, n, attempt, requestId: `req-${name}-${key}-${attempt}` });
      }
      return ctx.server.route(ctx, more.slice(params.length));
    },
  };
}

/** Destroy the connection without answering (a TCP reset where Node supports it). */
function resetSocket(ctx) {
  const s = ctx.req.socket;
  if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
  else s.destroy();
}


/**
 * Network faults, by name: `/fault/<name>/…`. Each handler gets (ctx, rest) with the segments
 * after the name and may consume some as arguments, then route the remainder with
 * `ctx.server.route(ctx, rest)`. Add a fault by adding an entry.
 */
export const faults = {
  /** Close the connection (with a TCP reset where Node supports it) without answering. */
  "reset-before-headers": {
    description: "destroy the socket without answering",
    async handle(ctx) {
      resetSocket(ctx);
    },
  },
  "stall-headers": {
    description: "never answer; hold the connection until the client or the server closes it",
    async handle(ctx) {
      await untilClosed(ctx.signal);
    },
  },
  "stall-first-chunk": {
    description: "send 200 and SSE headers, then nothing",
    async handle(ctx) {
      ctx.head(200, SSE_HEADERS);
      await untilClosed(ctx.signal);
    },
  },
  "stall-mid": {
    description: `send 2 chat chunks ("${FAULT_PARTIAL_TEXT}") then nothing`,
    async handle(ctx) {
      ctx.head(200, SSE_HEADERS);
      if (await ctx.writeParts(faultChunks())) await untilClosed(ctx.signal);
    },
  },
  "drop-mid": {
    description: `send 2 chat chunks ("${FAULT_PARTIAL_TEXT}") then destroy the socket`,
    async handle(ctx) {
      ctx.head(200, SSE_HEADERS);
      if (!(await ctx.writeParts(faultChunks()))) return;
      await sleep(20, ctx.signal); // let the chunks leave before the connection drops
      ctx.req.socket.destroy();
    },
  },
  "slow-headers": {
    description: "/fault/slow-headers/<ms>/…: wait <ms> before answering, then route the rest",
    async handle(ctx, rest) {
      if (!isInt(rest[0])) return ctx.sendError(400, "usage: /fault/slow-headers/<ms>/…", { code: "bad_fixture_path" });
      await sleep(Number(rest[0]), ctx.signal);
      if (!ctx.closed) return ctx.server.route(ctx, rest.slice(1));
    },
  },
  "fail-then-ok": {
    description:
      "/fault/fail-then-ok/<status>/<n>/<key>/…: the first <n> requests with <key> get <status> " +
      "(429 with Retry-After: 0, 503 as a model-loading body), later ones route the rest",
    async handle(ctx, rest) {
      const [status, n, key] = rest;
      if (!isInt(status) || !isInt(n) || !key) {
        return ctx.sendError(400, "usage: /fault/fail-then-ok/<status>/<n>/<key>/…", { code: "bad_fixture_path" });
      }
      const counterKey = `fail-then-ok:${key}`;
      const seen = ctx.server.counters.get(counterKey) ?? 0;
      ctx.server.counters.set(counterKey, seen + 1);
      if (seen < Number(n)) {
        const code = Number(status);
        const headers = { "x-request-id": `req-${code}-${seen + 1}` };
        if (code === 429) headers["retry-after"] = "0";
        if (code === 503) {
          return ctx.sendJson(503, { error: `Model ${DEFAULT_MODEL} is currently loading`, estimated_time: 0.05 }, headers);
        }
        return ctx.sendError(code, `scripted ${code} (attempt ${seen + 1} of ${n})`, { type: "scripted", code: String(code), headers });
      }
      return ctx.server.route(ctx, rest.slice(3));
    },
  },

  // --- Resilience faults: retries, backoff and retry hints. Every request is logged (and counted
  // per `<name>:<key>`, see `countAttempt`), so a test can assert how many attempts a client made.

  "429-retry-after-seconds": stateful("429-retry-after-seconds", {
    description: "the first <n> requests get 429 with `Retry-After: <secs>` (as given, may be fractional), then OK",
    params: [{ name: "n", kind: "int" }, { name: "secs", kind: "num" }],
    fail: (ctx, a) =>
      ctx.sendJson(429, rateLimitBody(a.attempt, a.n, ` Please try again in ${a.raw.secs}s.`), { "retry-after": a.raw.secs, "x-request-id": a.requestId }),
  }),
  "429-retry-after-date": stateful("429-retry-after-date", {
    description: "the first <n> requests get 429 with `Retry-After` as an HTTP date <ms> from now (rounded up to the second), then OK",
    params: [{ name: "n", kind: "int" }, { name: "ms", kind: "num" }],
    fail: (ctx, a) => ctx.sendJson(429, rateLimitBody(a.attempt, a.n), { "retry-after": httpDateAfter(a.ms), "x-request-id": a.requestId }),
  }),
  "429-retry-after-ms": stateful("429-retry-after-ms", {
    description: "the first <n> requests get 429 with `retry-after-ms: <ms>` (no Retry-After), then OK",
    params: [{ name: "n", kind: "int" }, { name: "ms", kind: "num" }],
    fail: (ctx, a) => ctx.sendJson(429, rateLimitBody(a.attempt, a.n), { "retry-after-ms": a.raw.ms, "x-request-id": a.requestId }),
  }),
  "429-huge": stateful("429-huge", {
    description: "every request gets 429 with `Retry-After: 86400`",
    fail: (ctx, a) => ctx.sendJson(429, rateLimitBody(a.attempt, a.n), { "retry-after": "86400", "x-request-id": a.requestId }),
  }),
  "429-none": stateful("429-none", {
    description: "the first <n> requests get 429 with no retry hint at all, then OK",
    params: [{ name: "n", kind: "int" }],
    fail: (ctx, a) => ctx.sendJson(429, rateLimitBody(a.attempt, a.n), { "x-request-id": a.requestId }),
  }),
  "429-quota": stateful("429-quota", {
    description: "every request gets 429 `insufficient_quota` (OpenAI's out-of-quota answer: retrying cannot help)",
    fail: (ctx, a) => sendRawJson(ctx, 429, FAULT_BODIES.quota, { "x-request-id": a.requestId }),
  }),
  "402-credits": stateful("402-credits", {
    description: "every request gets 402 with the Hugging Face router's out-of-credits body",
    fail: (ctx, a) => sendRawJson(ctx, 402, FAULT_BODIES.credits, { "x-request-id": a.requestId }),
  }),
  "503-then-ok": stateful("503-then-ok", {
    description: 'the first <n> requests get 503 `{"error":"Model is currently loading","estimated_time":2.0}`, then OK',
    params: [{ name: "n", kind: "int" }],
    fail: (ctx, a) => sendRawJson(ctx, 503, FAULT_BODIES.loading, { "x-request-id": a.requestId }),
  }),
  "500-always": stateful("500-always", {
    description: "every request gets 500 with an OpenAI-shaped `server_error` body",
    fail: (ctx, a) => sendRawJson(ctx, 500, FAULT_BODIES.serverError, { "x-request-id": a.requestId }),
  }),
  400: stateful("400", {
    description: "every request gets 400 `invalid_request_error` (not retryable)",
    fail: (ctx, a) => sendRawJson(ctx, 400, FAULT_BODIES.badRequest, { "x-request-id": a.requestId }),
  }),
  "ratelimit-header": stateful("ratelimit-header", {
    description:
      "the first <n> requests get 429 with IETF `RateLimit: limit=10, remaining=0, reset=<secs>` and `RateLimit-Policy: 10;w=60`, no Retry-After; then OK",
    params: [{ name: "n", kind: "int" }, { name: "secs", kind: "num" }],
    fail: (ctx, a) =>
      ctx.sendJson(429, rateLimitBody(a.attempt, a.n), {
        ratelimit: `limit=10, remaining=0, reset=${a.raw.secs}`,
        "ratelimit-policy": "10;w=60",
        "x-request-id": a.requestId,
      }),
  }),
  "x-should-retry-false": stateful("x-should-retry-false", {
    description: "every request gets 503 with `x-should-retry: false` (a retryable status the server says not to retry)",
    fail: (ctx, a) => sendRawJson(ctx, 503, FAULT_BODIES.noRetry, { "x-should-retry": "false", "x-request-id": a.requestId }),
  }),
  "x-should-retry-true": stateful("x-should-retry-true", {
    description: "the first <n> requests get 400 with `x-should-retry: true` (a final status the server says to retry), then OK",
    params: [{ name: "n", kind: "int" }],
    fail: (ctx, a) => sendRawJson(ctx, 400, FAULT_BODIES.badRequest, { "x-should-retry": "true", "x-request-id": a.requestId }),
  }),
  "reset-then-ok": stateful("reset-then-ok", {
    description: "the first <n> requests have their socket destroyed before any headers, then OK",
    params: [{ name: "n", kind: "int" }],
    fail: async (ctx) => resetSocket(ctx),
  }),
  "drop-after-first-delta": {
    description: 'send SSE headers, a role chunk and one content chunk ("Hello"), then destroy the socket',
    async handle(ctx) {
      ctx.head(200, SSE_HEADERS);
      const parts = [
        sseEvent(chunkObject({ role: "assistant", content: "", id: "chatcmpl-fixture-fault" })),
        sseEvent(chunkObject({ content: FAULT_FIRST_DELTA, id: "chatcmpl-fixture-fault" })),
      ];
      if (!(await ctx.writeParts(parts))) return;
      await sleep(20, ctx.signal); // let the chunks leave before the connection drops
      ctx.req.socket.destroy();
    },
  },
};

const SCENARIOS = {
  async replay(ctx, rest) {
    let id;
    try {
      id = decodeURIComponent(rest[0] ?? "");
    } catch {
      id = rest[0];
    }
    const rec = ctx.server.recordings.get(id);
    if (!rec) return ctx.sendError(404, `no recording with id ${JSON.stringify(id)}`, { type: "fixture", code: "unknown_recording" });
    const headers = {};
    for (const [k, v] of Object.entries(rec.headers ?? {})) if (!HOP_BY_HOP.has(k.toLowerCase())) headers[k] = v;
    if (rec.retry_after !== null && rec.retry_after !== undefined) headers["retry-after"] = rec.retry_after;
    if (rec.content_type) headers["content-type"] = rec.content_type;
    return ctx.send({ status: rec.status, headers, parts: [rec.body], contentType: headers["content-type"] });
  },

  async script(ctx, rest) {
    const name = rest[0];
    const s = Object.hasOwn(scripts, name ?? "") ? scripts[name] : undefined;
    if (!s) return ctx.sendError(404, `no script named ${JSON.stringify(name)}; known: ${Object.keys(scripts).join(", ")}`, { type: "fixture", code: "unknown_script" });
    return ctx.send({
      status: s.status ?? 200,
      headers: { "cache-control": "no-cache", ...(s.headers ?? {}) },
      contentType: s.contentType ?? "text/event-stream",
      parts: [s.body],
      tail: s.tail,
    });
  },

  async echo(ctx) {
    const { method, path, headers, body } = ctx.entry;
    const content = JSON.stringify({ method, path, headers, body });
    const req = ctx.json();
    const model = (req && typeof req.model === "string" && req.model) || "fixture/echo";
    const id = `chatcmpl-fixture-echo-${ctx.entry.seq}`;
    if (req && req.stream === true) {
      const parts = [
        sseEvent(chunkObject({ role: "assistant", content: "", id, model })),
        sseEvent(chunkObject({ content, id, model })),
        sseEvent(chunkObject({ finish: "stop", id, model })),
      ];
      if (req.stream_options && req.stream_options.include_usage === true) {
        parts.push(sseEvent({ id, object: "chat.completion.chunk", created: CREATED, model, choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
      }
      parts.push("data: [DONE]\n\n");
      return ctx.send({ headers: { "x-request-id": `echo-${ctx.entry.seq}`, ...SSE_HEADERS }, contentType: "text/event-stream", parts });
    }
    return ctx.sendJson(
      200,
      {
        id,
        object: "chat.completion",
        created: CREATED,
        model,
        choices: [{ index: 0, message: { role: "assistant", content }, logprobs: null, finish_reason: "stop" }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      },
      { "x-request-id": `echo-${ctx.entry.seq}` },
    );
  },

  async status(ctx, rest) {
    if (!isInt(rest[0]) || Number(rest[0]) < 200 || Number(rest[0]) > 599) {
      return ctx.sendError(400, "usage: /status/<200-599>/…", { type: "fixture", code: "bad_fixture_path" });
    }
    const code = Number(rest[0]);
    const headers = { "x-request-id": `req-${code}` };
    if (code === 429) headers["retry-after"] = "1";
    if (code === 204 || code === 304) {
      ctx.head(code, headers);
      return ctx.res.end();
    }
    return ctx.sendJson(code, { error: { message: `scripted ${code}`, type: "scripted", code: String(code) } }, headers);
  },

  async fault(ctx, rest) {
    const name = rest[0];
    const f = Object.hasOwn(faults, name ?? "") ? faults[name] : undefined;
    if (!f) return ctx.sendError(404, `no fault named ${JSON.stringify(name)}; known: ${Object.keys(faults).join(", ")}`, { type: "fixture", code: "unknown_fault" });
    return f.handle(ctx, rest.slice(1));
  },
};

/** The simulators: whatever path remains after modifiers when no scenario matched. */
async function simulator(ctx, rest) {
  const path = "/" + rest.join("/");
  const method = ctx.req.method;
  if (/(^|\/)models$/.test(path)) {
    if (method !== "GET") return ctx.sendError(405, `use GET for ${path}`, { code: "method_not_allowed" });
    return ctx.sendJson(200, { object: "list", data: ctx.opts.demo ? DEMO_MODELS : MODELS });
  }
  if (/(^|\/)chat\/completions$/.test(path)) {
    if (method !== "POST") return ctx.sendError(405, `use POST for ${path}`, { code: "method_not_allowed" });
    return chatSimulator(ctx);
  }
  if (/(^|\/)generate(_stream)?$/.test(path)) {
    if (method !== "POST") return ctx.sendError(405, `use POST for ${path}`, { code: "method_not_allowed" });
    return tgiSimulator(ctx, path.endsWith("_stream"));
  }
  // The router's hf-inference model route: TGI's API, streamed when the body says so.
  if (/(^|\/)hf-inference\/models\/[^/]+(\/[^/]+)?$/.test(path)) {
    if (method !== "POST") return ctx.sendError(405, `use POST for ${path}`, { code: "method_not_allowed" });
    return tgiSimulator(ctx, false);
  }
  const hub = path.match(/(?:^|\/)api\/models\/([^/]+(?:\/[^/]+)?)$/);
  if (hub) {
    if (method !== "GET") return ctx.sendError(405, `use GET for ${path}`, { code: "method_not_allowed" });
    return hubModelInfo(ctx, hub[1]);
  }
  return ctx.sendError(404, `the fixture server has no route for ${ctx.entry.path}`, { type: "fixture", code: "not_found" });
}

/**
 * The Hub's `GET /api/models/{id}?expand[]=inferenceProviderMapping`: the recorded answer for
 * that model when there is one (object shape, as the Hub sent it), else one of the synthesized
 * models of HUB_MODELS (the array shape, unknown providers, error and staging statuses), else
 * the Hub's 404.
 */
async function hubModelInfo(ctx, id) {
  const headers = { "x-request-id": `hub-${ctx.entry.seq}` };
  if (Object.hasOwn(HUB_MODELS, id)) return ctx.sendJson(200, { _id: `fixture-${id}`, id, inferenceProviderMapping: HUB_MODELS[id] }, headers);
  for (const rec of ctx.server.recordings.values()) {
    if (rec.status !== 200 || !rec.url.startsWith(`https://huggingface.co/api/models/${id}?`)) continue;
    return ctx.send({ status: 200, headers, contentType: "application/json; charset=utf-8", parts: [rec.body] });
  }
  return ctx.sendJson(404, { error: "Repository not found" }, headers);
}

/** Synthesized Hub mappings for the cases the recordings do not cover. */
export const HUB_MODELS = {
  // The newer array shape, with an error entry and a provider this version does not know.
  "fixture-hub/array-shape": [
    { provider: "groq", providerId: "array-shape-groq", status: "live", task: "conversational" },
    { provider: "made-up-provider", providerId: "x", status: "live", task: "conversational" },
    { provider: "together", providerId: "array-shape-together", status: "error", task: "conversational" },
    { provider: "novita", providerId: "array-shape-novita", status: "staging", task: "conversational" },
  ],
  // Only providers this version does not know.
  "fixture-hub/unknown-only": { "made-up-provider": { status: "live", providerId: "x", task: "conversational" } },
  // Served for text generation only.
  "fixture-hub/tgi-only": { groq: { status: "live", providerId: "tgi-only-groq", task: "text-generation" } },
};

function servedProvider(model) {
  const [id, suffix] = model.split(/:(?=[^/:]+$)/);
  const card = MODELS.find((m) => m.id === id) ?? DEMO_MODELS.find((m) => m.id === id);
  if (!card?.providers?.length) return undefined;
  return card.providers.find((p) => p.provider === suffix)?.provider ?? card.providers[0].provider;
}

async function chatSimulator(ctx) {
  const req = ctx.json();
  if (!req || typeof req !== "object" || Array.isArray(req)) {
    return ctx.sendError(400, "the request body must be a JSON object", { code: "invalid_json" });
  }
  if (!Array.isArray(req.messages) || req.messages.length === 0) {
    return ctx.sendError(400, "`messages` must be a non-empty array", { code: "invalid_messages" });
  }
  const sim = simulate(req, { demo: ctx.opts.demo });
  const id = `chatcmpl-fixture-${ctx.entry.seq}`;
  const headers = { "x-request-id": `sim-${ctx.entry.seq}` };
  // The router names the provider that served a call; so does the simulator, for the models
  // it lists with providers (the pinned `:provider`, else the first one listed).
  const served = servedProvider(typeof req.model === "string" ? req.model : "");
  if (served) headers["x-inference-provider"] = served;
  if (req.stream !== true) {
    return ctx.sendJson(
      200,
      {
        id,
        object: "chat.completion",
        created: CREATED,
        model: sim.model,
        system_fingerprint: "fixture",
        choices: [{ index: 0, message: { role: "assistant", content: sim.text }, logprobs: null, finish_reason: sim.finishReason }],
        usage: sim.usage,
      },
      headers,
    );
  }
  const includeUsage = !!(req.stream_options && req.stream_options.include_usage === true);
  const chunk = (fields) => {
    const c = chunkObject({ ...fields, id, model: sim.model });
    if (includeUsage) c.usage = null;
    return sseEvent(c);
  };
  const parts = [chunk({ role: "assistant", content: "" })];
  for (const t of sim.tokens) parts.push(chunk({ content: t }));
  parts.push(chunk({ finish: sim.finishReason }));
  if (includeUsage) {
    parts.push(sseEvent({ id, object: "chat.completion.chunk", created: CREATED, model: sim.model, system_fingerprint: "fixture", choices: [], usage: sim.usage }));
  }
  parts.push("data: [DONE]\n\n");
  return ctx.send({ headers: { ...headers, ...SSE_HEADERS }, contentType: "text/event-stream", parts, gapMs: ctx.opts.pace });
}

async function tgiSimulator(ctx, stream) {
  const req = ctx.json();
  if (!req || typeof req.inputs !== "string") {
    return ctx.sendJson(422, { error: "Input validation error: `inputs` must be a string", error_type: "validation" });
  }
  const sim = simulate({ messages: [{ role: "user", content: req.inputs }], max_tokens: req.parameters && req.parameters.max_new_tokens });
  const finish = sim.finishReason === "length" ? "length" : "eos_token";
  if (!stream && !(req.stream === true)) {
    return ctx.sendJson(200, { generated_text: sim.text, details: { finish_reason: finish, generated_tokens: sim.tokens.length, seed: null } });
  }
  const parts = sim.tokens.map((t, i) => {
    const last = i === sim.tokens.length - 1;
    return `data:${JSON.stringify({
      index: i + 1,
      token: { id: i + 1, text: t, logprob: -0.5, special: false },
      generated_text: last ? sim.text : null,
      details: last ? { finish_reason: finish, generated_tokens: sim.tokens.length, seed: null } : null,
    })}\n\n`;
  });
  return ctx.send({ headers: SSE_HEADERS, contentType: "text/event-stream", parts, gapMs: ctx.opts.pace });
}

// ---------------------------------------------------------------------------------------------
// The server

class FixtureServer {
  constructor(recordings) {
    this.recordings = recordings;
    this.requests = [];
    this.counters = new Map();
    this.seq = 0;
    this.sockets = new Set();
  }

  reset() {
    this.requests.length = 0;
    this.counters.clear();
  }

  /** Route `segments` for `ctx`: modifiers, then a scenario, else the simulators. */
  async route(ctx, segments) {
    let rest = segments;
    for (;;) {
      const head = rest[0];
      if (head !== undefined && Object.hasOwn(MODIFIERS, head)) {
        const next = MODIFIERS[head](ctx, rest.slice(1));
        if (next === null) return ctx.sendError(400, `bad modifier in ${ctx.entry.path}`, { type: "fixture", code: "bad_fixture_path" });
        rest = next;
        continue;
      }
      if (head !== undefined && Object.hasOwn(SCENARIOS, head)) return SCENARIOS[head](ctx, rest.slice(1));
      return simulator(ctx, rest);
    }
  }

  async handle(req, res) {
    const url = req.url ?? "/";
    const path = url.split("?")[0];
    const body = await readBody(req);

    // Test control: not logged.
    if (path === "/__requests" && req.method === "GET") {
      const json = JSON.stringify(this.requests);
      res.writeHead(200, { ...CORS, "content-type": "application/json", "content-length": Buffer.byteLength(json) });
      return res.end(json);
    }
    if (path === "/__counters" && req.method === "GET") {
      const json = JSON.stringify(Object.fromEntries(this.counters));
      res.writeHead(200, { ...CORS, "content-type": "application/json", "content-length": Buffer.byteLength(json) });
      return res.end(json);
    }
    if (path === "/__reset" && req.method === "POST") {
      this.reset();
      res.writeHead(204, CORS);
      return res.end();
    }

    const entry = {
      seq: ++this.seq,
      method: req.method,
      path,
      url,
      headers: { ...req.headers },
      body: body === null ? "" : body.toString("utf8"),
      bodyTooLarge: body === null,
      receivedAt: Date.now(),
      status: null,
      closedAt: null,
      aborted: false,
    };
    this.requests.push(entry);
    const ctx = new Ctx(this, req, res, entry);
    res.on("close", () => {
      entry.closedAt = Date.now();
      entry.aborted = !res.writableFinished;
      entry.status = res.headersSent ? res.statusCode : null;
    });

    if (req.method === "OPTIONS") {
      const requested = req.headers["access-control-request-headers"];
      ctx.head(204, {
        // `*` does not cover Authorization (Fetch spec), so name it, and reflect the rest.
        "access-control-allow-headers": ["*", "authorization", requested].filter(Boolean).join(", "),
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-max-age": "600",
      });
      return res.end();
    }
    if (entry.bodyTooLarge) return ctx.sendError(413, "request body too large for the fixture server", { code: "too_large" });
    return this.route(ctx, path.split("/").filter(Boolean));
  }
}

/** The request body as a Buffer, or null if it exceeds the limit. */
async function readBody(req) {
  const chunks = [];
  let size = 0;
  let tooLarge = false;
  for await (const c of req) {
    size += c.length;
    if (size > MAX_REQUEST_BODY) tooLarge = true;
    else chunks.push(c);
  }
  return tooLarge ? null : Buffer.concat(chunks);
}

/**
 * Start the fixture server on 127.0.0.1.
 * @returns {Promise<{url: string, port: number, requests: object[], reset(): void, close(): Promise<void>,
 *   count(prefix: string): number, counters(): Record<string, number>,
 *   recordings: Map<string, object>, server: import("node:http").Server}>}
 */
export async function startFixtureServer({ port = 0, host = HOST, recordingsDir } = {}) {
  if (host !== HOST) throw new Error(`the fixture server binds only ${HOST}`);
  const recordings = await loadRecordings(recordingsDir);
  const fixture = new FixtureServer(recordings);
  const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    fixture.handle(req, res).catch((err) => {
      if (!res.headersSent) {
        const body = JSON.stringify({ error: { message: `fixture server bug: ${err && err.message}`, type: "fixture", code: "internal" } });
        res.writeHead(500, { ...CORS, "content-type": "application/json" });
        res.end(body);
      } else {
        res.destroy();
      }
    });
  });
  server.on("connection", (socket) => {
    fixture.sockets.add(socket);
    socket.on("close", () => fixture.sockets.delete(socket));
  });
  server.on("clientError", (_err, socket) => socket.destroy());

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const actualPort = server.address().port;
  let closing;
  return {
    url: `http://${HOST}:${actualPort}`,
    port: actualPort,
    requests: fixture.requests,
    recordings,
    server,
    reset: () => fixture.reset(),
    /** How many logged requests have a path starting with `prefix` (e.g. "/fault/429-none/k1/"). */
    count: (prefix) => fixture.requests.filter((r) => r.path.startsWith(prefix)).length,
    /** The per-`<name>:<key>` attempt counters of the stateful faults (a copy). */
    counters: () => Object.fromEntries(fixture.counters),
    close() {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
        for (const s of fixture.sockets) s.destroy();
      });
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const args = process.argv.slice(2);
  let port = Number(process.env.FIXTURE_PORT ?? 0);
  let recordingsDir;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--port") port = Number(args[++i]);
    else if (args[i].startsWith("--port=")) port = Number(args[i].slice(7));
    else if (args[i] === "--recordings") recordingsDir = pathToFileURL(args[++i].replace(/\/?$/, "/"));
    else if (args[i] === "--help" || args[i] === "-h") {
      console.log("usage: node tests/fixture-server/server.mjs [--port N] [--recordings DIR]");
      process.exit(0);
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`bad --port: ${port}`);
    process.exit(2);
  }
  const fixture = await startFixtureServer({ port, recordingsDir });
  console.log(`FIXTURE_URL=${fixture.url}`);
  const stop = () => fixture.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
