// One cold start in a fresh `node` process: import a client, create it, start one streaming
// chat request. Started by coldstart.mjs as `node lib/coldstart-child.mjs <client> <url>`.
// No static imports: everything this file imports would be loaded before its first line runs.
//
// Prints one JSON line:
//   { importMs, toFetchMs, t0Abs, done }
//   importMs   `await import(<client>)`, wasm compile and instantiate included for ours
//   toFetchMs  from the start of the import to the moment the client calls `fetch`
//   t0Abs      the start of the import as performance.timeOrigin + performance.now(), so the
//              parent can relate its server's arrival time to it

const client = process.argv[2];
const url = process.argv[3];
const MODEL = "bench/model";
const MESSAGES = [{ role: "user", content: "Say this is a test" }];

// Wrapping `fetch` does not load undici (Node loads it at the first call): the wrapper only
// notes when a client first calls it, and keeps every request on 127.0.0.1.
const realFetch = globalThis.fetch;
let tFetch = NaN;
globalThis.fetch = function benchFetch(input, init) {
  if (Number.isNaN(tFetch)) tFetch = performance.now();
  const u = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  if (u.hostname !== "127.0.0.1") return Promise.reject(new TypeError("bench: loopback only"));
  return realFetch(input, init);
};
const signal = AbortSignal.timeout(20_000);

const t0 = performance.now();
const t0Abs = performance.timeOrigin + t0;
let tImport;
switch (client) {
  case "none": {
    // Baseline: no library, the request sent with the global fetch directly.
    tImport = performance.now();
    const res = await globalThis.fetch(`${url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages: MESSAGES, stream: true }),
      signal,
    });
    await res.text();
    break;
  }
  case "ours": {
    const { InferenceClient } = await import("hf-inference-wasm");
    tImport = performance.now();
    const c = new InferenceClient({ endpointUrl: url });
    await c.chatCompletionStream({ model: MODEL, messages: MESSAGES }, { signal }).text();
    break;
  }
  case "openai": {
    const { default: OpenAI } = await import("openai");
    tImport = performance.now();
    const c = new OpenAI({ apiKey: "bench", baseURL: url, maxRetries: 0 });
    const s = await c.chat.completions.create({ model: MODEL, messages: MESSAGES, stream: true }, { signal });
    for await (const _ of s);
    break;
  }
  case "hf": {
    const { InferenceClient } = await import("@huggingface/inference");
    tImport = performance.now();
    const c = new InferenceClient("hf_bench", { endpointUrl: url });
    for await (const _ of c.chatCompletionStream({ model: MODEL, messages: MESSAGES }, { signal }));
    break;
  }
  default:
    throw new Error(`unknown client ${client}`);
}
process.stdout.write(JSON.stringify({ importMs: tImport - t0, toFetchMs: tFetch - t0, t0Abs, done: performance.now() - t0 }) + "\n");
process.exit(0);
