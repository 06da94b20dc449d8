// What the peers do for each fault — measured, not assumed.
//
// Starts the loopback fixture server, then for every fault below runs one streaming chat call
// with each client — hf-inference-wasm (this repo's pkg/), @huggingface/inference, openai — and
// records the text delivered, the error (class / status / message), how many requests the
// server received for that fault's key, and the wall time. Prints a Markdown table, the peer
// versions, their retry defaults and the notes the measurements support.
//
//   npm run bench:faults                    # or: node benches/faults-peers.mjs
//   node benches/faults-peers.mjs --only 429 --json /tmp/faults.json
//
// Every call is bounded: a client-level 3 s timeout where the SDK has one, the caller's
// AbortSignal aborted at a hard cap of 15 s, and a race that moves on (and says so) if a call
// ignores its signal. All traffic stays on 127.0.0.1: `fetch` is wrapped to refuse any other
// host before any client is created.

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";

import { startFixtureServer } from "../tests/fixture-server/server.mjs";

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
const argOf = (name) => {
  const i = argv.indexOf(name);
  return i === -1 ? undefined : argv[i + 1];
};
const ONLY = argOf("--only");
const JSON_OUT = argOf("--json");

const CLIENT_TIMEOUT_MS = 3_000; // each SDK's own timeout (ours: headers / firstChunk / idle)
const HARD_CAP_MS = 15_000; // the caller's signal is aborted then
const GRACE_MS = 2_000; // after the cap, how long we wait for a call to honour its signal
const MODEL = "fixture/tiny-chat";
const MESSAGES = [{ role: "user", content: "Say hello" }];

// ---------------------------------------------------------------------------------------------
// Loopback only: refuse any other destination, for every client, before any is constructed.

const realFetch = globalThis.fetch;
const refused = [];
globalThis.fetch = function loopbackOnlyFetch(input, init) {
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  if (url.hostname !== "127.0.0.1") {
    refused.push(url.href);
    return Promise.reject(new TypeError(`faults-peers: refused non-loopback request to ${url.origin}`));
  }
  return realFetch(input, init);
};

// A peer's abandoned promise must not crash the run.
const unhandled = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason));

// Process warnings (a peer leaking listeners, say) are counted per kind and reported in the
// notes with the fault that caused them, instead of one stderr line each.
const warnings = new Map(); // "name: message pattern" -> { count, first, faults:Set }
let currentFault = "";
process.removeAllListeners("warning");
process.on("warning", (w) => {
  const kind = `${w.name}: ${String(w.message).replace(/\d+/g, "N")}`;
  const entry = warnings.get(kind) ?? { count: 0, first: String(w.message), faults: new Set() };
  entry.count++;
  entry.faults.add(currentFault);
  warnings.set(kind, entry);
});

// ---------------------------------------------------------------------------------------------
// The clients

/** A dependency's version from its package.json (read from disk: not every package exports it). */
const versionOf = (name) => {
  try {
    const main = require.resolve(name);
    const root = main.slice(0, main.lastIndexOf(`/node_modules/${name}/`) + `/node_modules/${name}/`.length);
    return JSON.parse(readFileSync(root + "package.json", "utf8")).version;
  } catch {
    try {
      return JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), "utf8")).version;
    } catch {
      return "?";
    }
  }
};

const { default: OpenAI } = await import("openai");
const { InferenceClient: HfInferenceClient } = await import("@huggingface/inference");
let ours;
let oursLoadError;
try {
  ours = await import("hf-inference-wasm");
} catch (e) {
  oursLoadError = e;
}
const oursDeclaresRetry = (() => {
  try {
    return /\bretry\??\s*:/.test(readFileSync(new URL("../pkg/index.d.ts", import.meta.url), "utf8"));
  } catch {
    return false;
  }
})();

/** Each peer: `stream(base, signal, onText)` runs one streaming chat call to the end. */
const PEERS = [
  {
    id: "ours",
    title: "hf-inference-wasm",
    version: ours ? (ours.version ?? versionOf("hf-inference-wasm")) : "not built",
    available: !!ours,
    async stream(base, signal, onText) {
      const client = new ours.InferenceClient({
        endpointUrl: base,
        timeouts: { headers: CLIENT_TIMEOUT_MS, firstChunk: CLIENT_TIMEOUT_MS, idle: CLIENT_TIMEOUT_MS },
        // Picked up once the package supports it; ignored (or rejected, see below) before.
        retry: { maxRetries: 2 },
      });
      try {
        for await (const chunk of client.chatCompletionStream({ model: MODEL, messages: MESSAGES }, { signal })) {
          onText(chunk.choices?.[0]?.delta?.content);
        }
      } finally {
        client.free?.();
      }
    },
  },
  {
    id: "hf",
    title: "@huggingface/inference",
    version: versionOf("@huggingface/inference"),
    available: true,
    async stream(base, signal, onText) {
      const client = new HfInferenceClient("hf_test", { endpointUrl: base });
      // No client-level timeout exists: the 3 s bound is a signal, which also covers the body.
      // A controller + timer held here, not AbortSignal.timeout(): combined with AbortSignal.any
      // in Node 20 an unreferenced timeout signal can be collected before it fires.
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(new DOMException(`client timeout ${CLIENT_TIMEOUT_MS} ms`, "TimeoutError")), CLIENT_TIMEOUT_MS);
      const s = AbortSignal.any([signal, timeout.signal]);
      try {
        for await (const chunk of client.chatCompletionStream({ model: MODEL, messages: MESSAGES }, { signal: s })) {
          onText(chunk.choices?.[0]?.delta?.content);
        }
      } finally {
        clearTimeout(timer);
      }
    },
  },
  {
    id: "openai",
    title: "openai",
    version: versionOf("openai"),
    available: true,
    async stream(base, signal, onText) {
      const client = new OpenAI({ apiKey: "test", baseURL: base, timeout: CLIENT_TIMEOUT_MS });
      const stream = await client.chat.completions.create({ model: MODEL, messages: MESSAGES, stream: true }, { signal });
      for await (const chunk of stream) onText(chunk.choices?.[0]?.delta?.content);
    },
  },
];

// ---------------------------------------------------------------------------------------------
// The faults: `prefix(key)` is the fixture path before `/v1`; the key makes counting per call exact.

const FAULTS = [
  { id: "reset before headers", prefix: (k) => `/fault/reset-before-headers/${k}` },
  { id: "429 Retry-After: 0.5 (s) ×2, then OK", prefix: (k) => `/fault/429-retry-after-seconds/${k}/2/0.5` },
  { id: "429 Retry-After: HTTP date +1 s ×1, then OK", prefix: (k) => `/fault/429-retry-after-date/${k}/1/1000` },
  { id: "429 retry-after-ms: 300 ×2, then OK", prefix: (k) => `/fault/429-retry-after-ms/${k}/2/300` },
  { id: "429 Retry-After: 86400 (always)", prefix: (k) => `/fault/429-huge/${k}` },
  { id: "429 no hint ×2, then OK", prefix: (k) => `/fault/429-none/${k}/2` },
  { id: "503 model loading ×2, then OK", prefix: (k) => `/fault/503-then-ok/${k}/2` },
  { id: "500 always", prefix: (k) => `/fault/500-always/${k}` },
  { id: "400 always", prefix: (k) => `/fault/400/${k}` },
  { id: "429 insufficient_quota (always)", prefix: (k) => `/fault/429-quota/${k}` },
  { id: "402 credits (always)", prefix: (k) => `/fault/402-credits/${k}` },
  { id: "drop after first delta", prefix: (k) => `/fault/drop-after-first-delta/${k}` },
  { id: "stall before headers", prefix: (k) => `/fault/stall-headers/${k}` },
  { id: "stall before first chunk", prefix: (k) => `/fault/stall-first-chunk/${k}` },
  { id: "stall mid-stream", prefix: (k) => `/fault/stall-mid/${k}` },
  { id: "[DONE] then garbage (endless tail)", prefix: (k) => `/script/done-then-garbage/${k}` },
  { id: "error event mid-stream", prefix: (k) => `/script/error-event/${k}` },
  { id: "malformed JSON mid-stream", prefix: (k) => `/script/malformed-json/${k}` },
  { id: "invalid UTF-8", prefix: (k) => `/script/invalid-utf8/${k}` },
  { id: "2 MiB line", prefix: (k) => `/script/huge-line/${k}` },
  {
    id: "abort at 200 ms during a Retry-After: 5 sleep",
    prefix: (k) => `/fault/429-retry-after-seconds/${k}/1/5`,
    abortAfterMs: 200,
  },
  // Extras: the other retry hints of the fault table.
  { id: "(extra) reset before headers ×1, then OK", prefix: (k) => `/fault/reset-then-ok/${k}/1` },
  { id: "(extra) 429 IETF RateLimit reset=1 ×1, then OK", prefix: (k) => `/fault/ratelimit-header/${k}/1/1` },
  { id: "(extra) 503 + x-should-retry: false (always)", prefix: (k) => `/fault/x-should-retry-false/${k}` },
  { id: "(extra) 400 + x-should-retry: true ×1, then OK", prefix: (k) => `/fault/x-should-retry-true/${k}/1` },
];

// ---------------------------------------------------------------------------------------------
// Running one call

const fx = await startFixtureServer();

/** Run `peer` against `fault`; never takes longer than HARD_CAP_MS + GRACE_MS. */
async function measure(peer, fault, index) {
  const key = `bench-${peer.id}-${index}`;
  const prefix = fault.prefix(key);
  const base = `${fx.url}${prefix}/v1`;
  const result = { fault: fault.id, peer: peer.id, key, path: prefix, text: "", error: null, requests: 0, ms: 0, capped: false, uncancellable: false };
  if (!peer.available) {
    result.error = { name: "unavailable", message: String(oursLoadError?.message ?? "not built") };
    return result;
  }

  const cap = new AbortController();
  const caller = new AbortController(); // the caller's own signal (aborted in the abort row)
  const signal = AbortSignal.any([cap.signal, caller.signal]);
  const timers = [
    setTimeout(() => {
      result.capped = true;
      cap.abort(new Error(`hard cap ${HARD_CAP_MS} ms`));
    }, HARD_CAP_MS),
  ];
  if (fault.abortAfterMs) timers.push(setTimeout(() => caller.abort(), fault.abortAfterMs));

  currentFault = `${fault.id} · ${peer.title}`;
  const started = performance.now();
  const work = peer
    .stream(base, signal, (t) => {
      if (typeof t === "string") result.text += t;
    })
    .then(
      () => ({ ok: true }),
      (error) => ({ ok: false, error }),
    );
  let guard;
  const outcome = await Promise.race([
    work,
    new Promise((resolve) => {
      guard = setTimeout(() => resolve({ ok: false, hung: true }), HARD_CAP_MS + GRACE_MS);
    }),
  ]);
  result.ms = performance.now() - started;
  clearTimeout(guard);
  for (const t of timers) clearTimeout(t);
  cap.abort(); // end anything still running

  if (outcome.hung) {
    result.uncancellable = true;
    result.error = { name: "Hung", message: `did not settle ${GRACE_MS} ms after its signal was aborted` };
  } else if (!outcome.ok) {
    result.error = describeError(outcome.error);
  }
  // Let the server log requests that are still in flight (a retry just sent) before counting.
  await delay(30);
  result.requests = fx.count(prefix + "/");
  return result;
}

/** Class name, HTTP status, message and (ours) kind of an error from any of the clients. */
function describeError(e) {
  if (!e || typeof e !== "object") return { name: typeof e, message: String(e) };
  const status = e.status ?? e.httpResponse?.status ?? undefined;
  const name = e.constructor && e.constructor.name !== "Object" ? e.constructor.name : (e.name ?? "Error");
  const detail = [e.kind, e.timeout, e.code].filter((x) => typeof x === "string" && x).join("/");
  const cause = e.cause && typeof e.cause === "object" ? (e.cause.code ?? e.cause.name ?? "") : "";
  return { name, status, detail, cause: String(cause || ""), message: String(e.message ?? "") };
}

// ---------------------------------------------------------------------------------------------
// Formatting

const ms = (t) => (t < 1000 ? `${Math.round(t)} ms` : `${(t / 1000).toFixed(1)} s`);
const md = (s) => String(s).replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, "⏎").replace(/`/g, "'");
const clip = (s, n) => (s.length > n ? s.slice(0, n) + "…" : s);

function cell(r) {
  const count = `${r.requests} req`;
  const time = r.capped || r.uncancellable ? `${ms(r.ms)} (hard cap${r.uncancellable ? ", ignored its signal" : ""})` : ms(r.ms);
  const text = r.text ? ` ${r.text.length}ch "${md(clip(r.text, 40))}"` : "";
  if (!r.error && r.capped) return `ok — no error raised: the call returned normally when the ${HARD_CAP_MS / 1000} s abort fired;${text || " no text"} · ${count} · ${time}`;
  if (!r.error) return `ok${text} · ${count} · ${time}`;
  const e = r.error;
  const head = [e.status, e.name, e.detail && `(${e.detail})`, e.cause && `[${e.cause}]`].filter(Boolean).join(" ");
  return `error ${md(head)}: ${md(clip(e.message, 80))}${text ? ` · got${text}` : ""} · ${count} · ${time}`;
}

// ---------------------------------------------------------------------------------------------
// Run

const started = Date.now();
const faults = ONLY ? FAULTS.filter((f) => f.id.includes(ONLY) || f.prefix("k").includes(ONLY)) : FAULTS;
const results = [];
const order = ["ours", "hf", "openai"];
for (const [i, fault] of faults.entries()) {
  const row = { fault: fault.id };
  for (const id of order) {
    const peer = PEERS.find((p) => p.id === id);
    const r = await measure(peer, fault, i);
    results.push(r);
    row[id] = r;
    process.stderr.write(`${fault.id} · ${peer.title}: ${cell(r)}\n`);
  }
}
const totalMs = Date.now() - started;

const probe = new OpenAI({ apiKey: "test", baseURL: fx.url + "/v1" });
const out = [];
out.push(`# Fault behaviour of the peers (fixture server on 127.0.0.1, Node ${process.version})`);
out.push("");
out.push("Versions:");
for (const p of PEERS) out.push(`- ${p.title} ${p.version}`);
out.push("");
out.push("Retry and timeout defaults (each SDK left at its own retry defaults; every call bounded as described):");
out.push(
  `- hf-inference-wasm: constructed with \`retry: { maxRetries: 2 }\` and timeouts headers/firstChunk/idle = ${CLIENT_TIMEOUT_MS} ms; ` +
    `the package's index.d.ts ${oursDeclaresRetry ? "declares" : "does not declare"} a \`retry\` option.`,
);
out.push(
  `- @huggingface/inference: no retry count, backoff or timeout option; \`retry_on_error\` (default true) re-sends a request that got 503 ` +
    `immediately, with no delay and no limit (dist/esm/utils/request.js: \`if (options?.retry_on_error !== false && response.status === 503) return yield* innerStreamingRequest(...)\`). ` +
    `Bounded here by a signal aborted after ${CLIENT_TIMEOUT_MS} ms (passed as \`{ signal }\`), which covers the body too.`,
);
out.push(
  `- openai: maxRetries = ${probe.maxRetries}, default timeout = ${OpenAI.DEFAULT_TIMEOUT} ms (set to ${CLIENT_TIMEOUT_MS} ms here); retries connection errors, timeouts, 408, 409, 429, >= 500 ` +
    "and whatever `x-should-retry` says; backoff 0.5 s × 2^n (max 8 s, up to 25 % jitter down) unless `retry-after-ms`/`Retry-After` asks for 0 < t < 60 s.",
);
out.push("");
out.push(`Every call: hard cap ${HARD_CAP_MS / 1000} s (the caller's AbortSignal), then a ${GRACE_MS / 1000} s grace before moving on. Cell: outcome, characters delivered and their start, requests the server received for that call's key, wall time.`);
out.push("");
out.push(`| fault | ${order.map((id) => PEERS.find((p) => p.id === id).title).join(" | ")} |`);
out.push(`| --- | ${order.map(() => "---").join(" | ")} |`);
for (const fault of faults) {
  const cells = order.map((id) => cell(results.find((r) => r.fault === fault.id && r.peer === id)));
  out.push(`| ${md(fault.id)} | ${cells.join(" | ")} |`);
}
out.push("");

// Notes the numbers support, computed from the results rather than asserted.
const get = (peer, faultPrefix) => results.find((r) => r.peer === peer && r.fault.startsWith(faultPrefix));
const notes = [];
for (const f of ["stall before first chunk", "stall mid-stream"]) {
  const r = get("openai", f);
  if (r && r.capped) notes.push(`openai: its ${CLIENT_TIMEOUT_MS} ms \`timeout\` did not end "${f}"; only the caller's signal at the ${HARD_CAP_MS / 1000} s cap did (${ms(r.ms)}): the timeout covers the wait for headers, not the stream body.`);
}
{
  const capsOk = results.filter((r) => r.peer === "openai" && r.capped && !r.error).map((r) => `"${r.fault}"`);
  if (capsOk.length) notes.push(`openai: when the caller's signal aborts while the body is being read, \`for await\` ends normally, with no error (core/streaming: \`if (isAbortError(e)) return;\`): ${capsOk.join(", ")} looked like complete streams to the caller.`);
}
{
  const r = get("openai", "abort at 200 ms");
  if (r && r.ms > 1000) notes.push(`openai: aborting the caller's signal 200 ms into a Retry-After: 5 wait returned only after ${ms(r.ms)}: the backoff sleep is not abortable.`);
  const h = get("hf", "abort at 200 ms");
  if (h) notes.push(`@huggingface/inference on the abort row: ${cell(h)} (it does not retry a 429, so there is no sleep to abort).`);
}
{
  const r = get("hf", "(extra) 503 + x-should-retry");
  if (r && r.requests > 10) notes.push(`@huggingface/inference: an always-503 endpoint got ${r.requests} requests in ${ms(r.ms)} (no delay, no limit; only the signal ended it).`);
}
{
  const r = get("openai", "[DONE] then garbage");
  if (r && r.capped) notes.push(`openai: after \`data: [DONE]\` it keeps reading the body until the server closes it, so an endless tail kept the call open until the cap (text "${clip(r.text, 40)}" was complete long before).`);
}
{
  const r = get("openai", "429 Retry-After: 86400");
  if (r && r.requests > 1 && r.ms < 60_000) notes.push(`openai: Retry-After: 86400 is out of its 0–60 s range, so it ignored it and retried on its own backoff: ${r.requests} requests in ${ms(r.ms)}.`);
}
{
  const r = get("openai", "429 insufficient_quota");
  if (r && r.requests > 1) notes.push(`openai: a 429 insufficient_quota (which no retry fixes) was retried: ${r.requests} requests in ${ms(r.ms)}.`);
}
{
  const r = get("openai", "(extra) 429 IETF RateLimit");
  if (r && r.requests > 1 && r.ms < 1000) notes.push(`openai: the IETF \`RateLimit: …, reset=1\` header is not read: it retried after ${ms(r.ms)}, before the reset.`);
}
for (const [kind, w] of warnings) notes.push(`process warning ×${w.count} during ${[...w.faults].join("; ")}: ${w.first}`);
if (refused.length) notes.push(`refused non-loopback requests: ${refused.join(", ")}`);
if (unhandled.length) notes.push(`unhandled rejections from abandoned calls: ${unhandled.length} (${unhandled.map((u) => u?.constructor?.name ?? typeof u).join(", ")})`);
if (notes.length) {
  out.push("Observed:");
  for (const n of notes) out.push(`- ${n}`);
  out.push("");
}
out.push(`Total run time: ${ms(totalMs)}.`);
console.log(out.join("\n"));

if (JSON_OUT) await writeFile(JSON_OUT, JSON.stringify({ versions: Object.fromEntries(PEERS.map((p) => [p.title, p.version])), results }, null, 2));
await fx.close();
// Abandoned SDK timers (an uncancellable sleep) must not keep the process alive.
process.exit(0);
