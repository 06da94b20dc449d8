// One client streaming a ~100 MiB response, in a fresh process started with --expose-gc.
// Started by memory.mjs as `node --expose-gc lib/memory-child.mjs <client> <url> <MiB>`.
//
// The consumer keeps no text (it counts pieces), so what grows is the client's own. Every
// 25 ms a timer samples process.memoryUsage() (peaks); at each 5 % of progress a full GC runs
// and the post-GC heap and RSS are recorded against the MiB streamed so far (growth per MiB
// is the slope over those points from 10 % on). Progress is known exactly: the server sends
// memPlan(MiB).tokens content events, and each client reports each piece of text it delivers (progress counts its characters).
//
// Prints one JSON line: { seconds, points: [{ mib, heap, rss, external, arrayBuffers, wasm }],
//   peak: { rss, heap }, maxRssKb, baseline: {...}, pieces, wasmBytes }

import { loopbackOnly } from "./common.mjs";
import { memPlan } from "./bodies.mjs";
import { makeClient } from "./clients.mjs";

const [id, url, mibArg] = process.argv.slice(2);
const MIB = Number(mibArg);
const plan = memPlan(MIB);
loopbackOnly();

// Note the wasm instance our package creates, to report its linear memory (a bench-only
// hook: it wraps the constructor the package's glue calls, and changes nothing else).
let wasmMemory = null;
if (id.startsWith("ours")) {
  const Original = WebAssembly.Instance;
  const Hooked = function Instance(module, imports) {
    const inst = new Original(module, imports);
    // Found by type: build-pkg.sh renames the exports (scripts/minify-wasm-names.mjs).
    const memory = Object.values(inst.exports).find((v) => v instanceof WebAssembly.Memory);
    if (memory) wasmMemory = memory;
    return inst;
  };
  Hooked.prototype = Original.prototype;
  WebAssembly.Instance = Hooked;
}

const client = await makeClient(id);
const wasmBytes = () => (wasmMemory ? wasmMemory.buffer.byteLength : 0);
const sample = () => {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers, wasm: wasmBytes() };
};

globalThis.gc();
const baseline = sample();
const peak = { rss: baseline.rss, heap: baseline.heap };
const timer = setInterval(() => {
  const m = process.memoryUsage();
  peak.rss = Math.max(peak.rss, m.rss);
  peak.heap = Math.max(peak.heap, m.heapUsed);
}, 25);

const points = [];
let pieces = 0;
let chars = 0;
let bytes = 0;
let nextMark = 0.05;
// By text delivered, not by pieces: a client may hand over one read's text at once.
const progress = () => (id === "raw" ? bytes / plan.bytes : chars / plan.textChars);
const mark = () => {
  while (progress() >= nextMark - 1e-9 && nextMark <= 1.0001) {
    globalThis.gc();
    points.push({ mib: MIB * nextMark, ...sample() });
    nextMark += 0.05;
  }
};

const t0 = performance.now();
const result = await client.consume(`${url}/mem/${MIB}/v1`, "text", {
  signal: AbortSignal.timeout(180_000),
  keepText: false,
  onDelta(delta) {
    pieces++;
    chars += typeof delta === "string" ? delta.length : 0;
    if (progress() >= nextMark) mark();
  },
  onBytes(n) {
    bytes += n;
    if (progress() >= nextMark) mark();
  },
});
const seconds = (performance.now() - t0) / 1000;
clearInterval(timer);
globalThis.gc();
const end = sample();

process.stdout.write(
  JSON.stringify({
    seconds,
    points,
    peak,
    baseline,
    end,
    maxRssKb: process.resourceUsage().maxRSS,
    pieces: id === "raw" ? result.reads : chars,
    expectedPieces: id === "raw" ? null : plan.textChars,
    bytes: plan.bytes,
    wasmBytes: wasmBytes(),
  }) + "\n",
);
process.exit(0);
