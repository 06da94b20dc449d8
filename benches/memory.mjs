// Section 5: memory while streaming a 100 MiB response through each client.
//
// Each client runs alone in a fresh `node --expose-gc` process (lib/memory-child.mjs) against
// the loopback server's /mem/100 route (a 10k-token-shaped chat stream of 435,750 content
// chunks, ~100 MiB, generated on the fly). Reported: peak RSS (the kernel's maxRSS), peak
// JS heap (sampled every 25 ms), and growth per MiB streamed: the least-squares slope of the
// post-GC heap and RSS against MiB streamed, over 19 points from 10 % to 100 %.
//
// Run alone: node benches/memory.mjs [--quick]

import path from "node:path";
import { CLIENTS } from "./lib/clients.mjs";
import { memPlan } from "./lib/bodies.mjs";
import { BENCH_DIR, runChild, startHelper, slope, num, table, verdict } from "./lib/common.mjs";

const ORDER = ["raw", "esp", "openai", "hf", "ours", "oursCb", "oursFlat"];
const KB = 1024;
const MB = 1024 * 1024;

export async function run({ quick = false, log = () => {} } = {}) {
  const mib = quick ? 25 : 100;
  const plan = memPlan(mib);
  const server = await startHelper(path.join(BENCH_DIR, "lib/stream-server.mjs"));
  const res = {};
  try {
    for (const id of ORDER) {
      const t0 = Date.now();
      res[id] = await runChild(path.join(BENCH_DIR, "lib/memory-child.mjs"), [id, server.url, String(mib)], { nodeArgs: ["--expose-gc"], timeoutMs: 200_000 });
      log(`memory: ${CLIENTS[id].short} done in ${((Date.now() - t0) / 1000).toFixed(1)} s${res[id].ok ? "" : ` (${res[id].error})`}`);
    }
  } finally {
    await server.stop();
  }

  const growth = {};
  const rows = ORDER.map((id) => {
    const r = res[id];
    if (!r.ok) return [CLIENTS[id].short, `error: ${r.error}`, "", "", "", "", "", ""];
    const pts = r.points.filter((p) => p.mib >= mib * 0.1 - 1e-9);
    const heapSlope = slope(pts.map((p) => p.mib), pts.map((p) => p.heap)) / KB; // KB per MiB
    const rssSlope = slope(pts.map((p) => p.mib), pts.map((p) => p.rss)) / KB;
    const wasmSlope = slope(pts.map((p) => p.mib), pts.map((p) => p.wasm)) / KB;
    growth[id] = { heap: heapSlope, rss: rssSlope, wasm: wasmSlope };
    const first = pts[0];
    const last = pts[pts.length - 1];
    return [
      CLIENTS[id].short,
      `${num(r.maxRssKb / 1024, 1)} MB`,
      `${num(r.peak.heap / MB, 1)} MB`,
      `${num((last.heap - first.heap) / MB, 2)} MB`,
      `${num(heapSlope, 1)} KB`,
      `${num(rssSlope, 1)} KB`,
      id.startsWith("ours") ? `${num(r.wasmBytes / MB, 1)} MB (${num(wasmSlope, 1)} KB per MiB)` : "",
      `${num(r.bytes / MB / r.seconds, 1)} MB/s${r.expectedPieces && r.pieces !== r.expectedPieces ? ` (WRONG: ${r.pieces} of ${r.expectedPieces} characters of text)` : ""}`,
    ];
  });
  const lines = [
    `Each client alone in a fresh \`node --expose-gc\` process, streaming a ${mib} MiB chat stream (${num(plan.tokens, 0)} content chunks, ${num(plan.bytes / MB, 1)} MiB; memPlan in lib/bodies.mjs) from the loopback server as fast as it reads. ` +
      "The consumer keeps no text, so what grows is the client's. \"post-GC heap 10 %→100 %\" is the JS heap after a full GC at 10 % and at 100 % of the stream; " +
      "\"per MiB\" columns are least-squares slopes of the post-GC heap and RSS over 19 points from 10 % to 100 % (KB retained per MiB streamed; flat ≈ 0). " +
      "\"wasm memory\" is our module's linear memory at the end and its slope (it never shrinks; its touched pages are part of RSS). RSS slopes are noisy (allocator and heap-space growth); the verdict uses heap + wasm. The stream's text alone is " +
      `${num(plan.textChars / MB, 1)} MB (${num(plan.textChars / mib / KB, 1)} KB per MiB), which a client that assembles the final message must keep.`,
    "",
    table(["client", "peak RSS", "peak heap", "post-GC heap 10 %→100 %", "heap per MiB", "RSS per MiB", "wasm memory (per MiB)", "speed"], rows, "lrrrrrrl"),
  ];
  const g = growth.ours;
  const kept = (x) => (x ? x.heap + (x.wasm || 0) : NaN);
  const targets = [
    {
      target: "flat memory while streaming (JS heap after GC + wasm memory, growth per MiB streamed, for await)",
      ours: g
        ? `${num(kept(g), 1)} KB/MiB (heap ${num(g.heap, 1)} + wasm ${num(g.wasm, 1)}; onContent: ${num(kept(growth.oursCb), 1)}); the text itself is ${num(plan.textChars / mib / KB, 1)} KB/MiB`
        : "not measured",
      // "Flat" taken as under 1 % of the bytes streamed: 10 KB retained per MiB.
      verdict: g ? verdict(kept(g), 10, "lower", " KB/MiB (flat taken as < 10 KB kept per MiB streamed)", (x) => num(x, 1)) : "not measured",
    },
    {
      target: "flat memory with onContent and `accumulate: false` (heap after GC + wasm memory per MiB)",
      ours: growth.oursFlat ? `${num(kept(growth.oursFlat), 1)} KB/MiB (heap ${num(growth.oursFlat.heap, 1)} + wasm ${num(growth.oursFlat.wasm, 1)})` : "not measured",
      verdict: growth.oursFlat ? verdict(kept(growth.oursFlat), 10, "lower", " KB/MiB (flat taken as < 10 KB kept per MiB streamed)", (x) => num(x, 1)) : "not measured",
    },
    {
      target: "default (accumulating) growth is the text itself and no more (onContent, heap + wasm per MiB ≤ 1.5× the text's)",
      ours: growth.oursCb ? `${num(kept(growth.oursCb), 1)} KB/MiB against ${num(plan.textChars / mib / KB, 1)} KB/MiB of text` : "not measured",
      verdict: growth.oursCb ? verdict(kept(growth.oursCb), 1.5 * (plan.textChars / mib / KB), "lower", " KB/MiB", (x) => num(x, 1)) : "not measured",
    },
  ];
  return { sections: [{ title: "5. Memory", body: lines.join("\n") }], targets, raw: res };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const r = await run({ quick: process.argv.includes("--quick"), log: (s) => process.stderr.write(s + "\n") });
  for (const s of r.sections) console.log(`## ${s.title}\n\n${s.body}\n`);
  console.log(table(["target", "ours", "verdict"], r.targets.map((t) => [t.target, t.ours, t.verdict])));
}
