// Section 6: the auth proxy under load.
//
// Upstream: the loopback stream server in its own process, answering every chat request with
// a role chunk, 20 content chunks 50 ms apart, a finish chunk and [DONE] (about 1 s per
// stream). Proxies, each in its own process (lib/proxy-child.mjs): hf-inference-wasm's
// `createProxy()` served from node:http through a small adapter (lib/fetch-adapter.mjs), and a
// plain Node pass-through proxy (node:http + fetch) as the peer; plus the upstream hit
// directly as the baseline. Load: a fresh load-generator process per level
// (lib/load-child.mjs) holding N concurrent streams, N = 100, 300, 1000, 2000, 3000, stopping
// at the first level that breaks (over 1 % errors, or a p99 time to first token more than 2 s
// above the direct baseline's at the same N).
//
// Run alone: node benches/proxy-load.mjs [--quick]

import path from "node:path";
import { fork } from "node:child_process";
import { BENCH_DIR, runChild, startHelper, median, percentile, ms, num, table, verdict } from "./lib/common.mjs";

const CHUNKS = 20;
const GAP_MS = 50;
const BREAK_P99_MS = 2000;

function startProxy(kind, upstream) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(BENCH_DIR, "lib/proxy-child.mjs"), [kind, upstream], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${kind} proxy did not start within 20 s`));
    }, 20_000);
    child.once("message", (m) => {
      clearTimeout(timer);
      if (m.skip) {
        child.kill();
        return resolve({ skip: m.skip });
      }
      const ask = (cmd) =>
        new Promise((res) => {
          if (!child.connected) return res(null);
          const t = setTimeout(() => res(null), 5_000);
          child.once("message", (msg) => {
            clearTimeout(t);
            res(msg.stats ?? null);
          });
          child.send({ cmd });
        });
      resolve({
        url: m.url,
        reset: () => child.connected && child.send({ cmd: "reset" }),
        stats: () => ask("stats"),
        async stop() {
          if (child.exitCode !== null) return;
          const gone = new Promise((r) => child.once("exit", r));
          child.disconnect();
          const t = setTimeout(() => child.kill("SIGKILL"), 3_000);
          await gone;
          clearTimeout(t);
        },
      });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} proxy exited (${code}) before it was ready`));
    });
  });
}

export async function run({ quick = false, log = () => {} } = {}) {
  const levels = quick ? [100, 1000] : [100, 300, 1000, 2000, 3000];
  const upstream = await startHelper(path.join(BENCH_DIR, "lib/stream-server.mjs"), [], { env: { BENCH_DEFAULT_ROUTE: `paced/${CHUNKS}/${GAP_MS}` } });
  const targets = [
    { id: "direct", label: "direct to upstream (no proxy)" },
    { id: "plain", label: "plain Node pass-through proxy (node:http + fetch)" },
    { id: "ours", label: "hf-inference-wasm `createProxy()` via node:http adapter" },
  ];
  const results = {};
  const skipped = {};
  try {
    for (const t of targets) {
      results[t.id] = {};
      let proxy = null;
      if (t.id !== "direct") {
        try {
          proxy = await startProxy(t.id, upstream.url);
        } catch (e) {
          skipped[t.id] = `did not start: ${e.message}`;
          continue;
        }
        if (proxy.skip) {
          skipped[t.id] = proxy.skip;
          log(`proxy-load: ${t.id} skipped (${proxy.skip})`);
          continue;
        }
      }
      try {
        for (const n of levels) {
          proxy?.reset();
          const url = proxy ? proxy.url : upstream.url;
          const timeoutMs = 30_000;
          const r = await runChild(path.join(BENCH_DIR, "lib/load-child.mjs"), [url, String(n), String(timeoutMs)], { timeoutMs: timeoutMs + 30_000, nodeArgs: ["--max-old-space-size=2048"] });
          const stats = proxy ? await proxy.stats() : null;
          results[t.id][n] = { ...r, stats };
          const errs = r.ok ? Object.values(r.errors).reduce((a, b) => a + b, 0) : n;
          // Breaking: over 1 % errors, or a p99 first token over 2 s later than the direct
          // baseline's at the same N (for the baseline itself: over 2 s).
          const directP99 = t.id === "direct" ? 0 : percentile(results.direct?.[n]?.ttft ?? [], 99) || 0;
          const broken = !r.ok || errs > n * 0.01 || percentile(r.ttft ?? [], 99) - directP99 > BREAK_P99_MS;
          log(`proxy-load: ${t.id} N=${n}: ${r.ok ? `${r.ok} ok, ${errs} errors, p99 TTFT ${ms(percentile(r.ttft, 99))}` : r.error}`);
          if (broken) {
            results[t.id][n].broken = true;
            break;
          }
          // Let sockets in TIME_WAIT and the proxy's pools settle between levels.
          await new Promise((r2) => setTimeout(r2, 500));
        }
      } finally {
        await proxy?.stop();
      }
    }
  } finally {
    await upstream.stop();
  }

  const rows = [];
  for (const t of targets) {
    if (skipped[t.id]) {
      rows.push([t.label, "–", `skipped: ${skipped[t.id]}`, "", "", "", "", "", ""]);
      continue;
    }
    for (const n of levels) {
      const r = results[t.id][n];
      if (!r) continue;
      if (r.ok === false || !Array.isArray(r.ttft)) {
        rows.push([t.label, String(n), `failed: ${r.error}`, "", "", "", "", "", ""]);
        continue;
      }
      const d = results.direct?.[n];
      const p50 = median(r.ttft);
      const p99 = percentile(r.ttft, 99);
      const errs = Object.entries(r.errors);
      const nErr = errs.reduce((a, [, c]) => a + c, 0);
      rows.push([
        t.label,
        String(n),
        `${ms(p50)} / ${ms(p99)}`,
        t.id === "direct" || !d?.ttft ? "" : `${ms(p50 - median(d.ttft))} / ${ms(p99 - percentile(d.ttft, 99))}`,
        ms(median(r.total)),
        `${num(r.ok / (r.wallMs / 1000), 0)} streams/s, ${num(r.chunks / (r.wallMs / 1000), 0)} chunks/s`,
        nErr ? `${nErr} (${errs.map(([k, c]) => `${k} ×${c}`).join(", ")})` : "0",
        r.stats ? `${num(r.stats.peakRss / 1024 / 1024, 0)} MB` : "",
        r.broken ? "breaking point: stopped here" : "",
      ]);
    }
  }
  const lines = [
    `Upstream: every request gets a role chunk, ${CHUNKS} content chunks ${GAP_MS} ms apart, a finish chunk and \`[DONE]\` (≈ ${((CHUNKS - 1) * GAP_MS) / 1000} s per stream). ` +
      "Each proxy runs alone in its own process; each level is a fresh load-generator process holding N concurrent streams (node:http, keep-alive, no socket limit, started 100 per 10 ms). " +
      "TTFT = request start → first content delta at the load generator; \"added\" subtracts the direct baseline at the same N; throughput counts completed streams and data events over the level's wall time; " +
      "RSS is the proxy process's peak during the level. Levels stop at the first that breaks: over 1 % errors, or a p99 TTFT more than 2 s above the direct baseline's at the same N (the baseline: over 2 s). " +
      `All three processes share the machine's ${(await import("node:os")).cpus().length} cores with the load generator.`,
    "",
    table(["target", "N", "TTFT p50 / p99", "added p50 / p99", "stream time p50", "throughput", "errors", "proxy peak RSS", ""], rows, "lrrrrrrrl"),
  ];
  return { sections: [{ title: "6. Proxy under load", body: lines.join("\n") }], targets: [], raw: { results, skipped } };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const r = await run({ quick: process.argv.includes("--quick"), log: (s) => process.stderr.write(s + "\n") });
  for (const s of r.sections) console.log(`## ${s.title}\n\n${s.body}\n`);
}
