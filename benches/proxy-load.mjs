// Section 6: the auth proxy under load.
//
// Upstream: the loopback stream server in its own process, answering every chat request with
// a role chunk, CHUNKS content chunks GAP_MS apart, a finish chunk and [DONE]. Proxies, each
// in a fresh process per level (lib/proxy-child.mjs), warmed up before it is measured:
// hf-inference-wasm's `serveNode(createProxy(…))` and a plain Node pass-through proxy
// (node:http + fetch) as the peer; plus the upstream hit directly as the baseline, measured
// at each level right before the proxies. Load: a fresh load-generator process per run
// (lib/load-child.mjs) that starts N streams at a steady STARTS_PER_S; a stream lasts longer
// than the ramp, so all N are open at once (the generator reports the peak it held). Every
// stream must arrive complete and byte-identical to one read straight from the upstream.
// Reported beside latency: each proxy's RSS growth per open stream and CPU time per stream
// (process.cpuUsage in the proxy), the figure a shared machine moves least.
//
// Why the old harness "broke" at N=1000 (plain Node too): it started all N streams within
// 100 ms and each stream asked for 22 chunks in 1 s, so N=1000 meant 1000 connection set-ups
// in a burst plus 22,000 chunks/s through one proxy process on a shared 2-core machine. The
// proxies did not fail (no errors, no fd or socket limit: `ulimit -n` is 20000 here and the
// generator's agent has no socket cap); they queued on CPU until the p99 TTFT passed the
// "2 s over direct" rule. That measured burst throughput, not concurrent streams.
//
// Run alone: node benches/proxy-load.mjs [--quick]
// Knobs (env): BENCH_PROXY_LEVELS=1000,3000  BENCH_PROXY_RATE=150  BENCH_PROXY_CHUNKS=30
//              BENCH_PROXY_GAP_MS=1000  BENCH_PROXY_TARGETS=direct,plain,ours (add `adapter`:
//              serveNode with a forwarding fetch handler, the adapter's own cost)

import path from "node:path";
import { fork } from "node:child_process";
import { BENCH_DIR, runChild, startHelper, median, percentile, ms, num, table } from "./lib/common.mjs";

const envList = (v) => (v ? v.split(",").map(Number).filter((n) => n > 0) : undefined);
const CHUNKS = Number(process.env.BENCH_PROXY_CHUNKS) || 30;
const GAP_MS = Number(process.env.BENCH_PROXY_GAP_MS) || 1000;
const STARTS_PER_S = Number(process.env.BENCH_PROXY_RATE) || 150;
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
  const levels = envList(process.env.BENCH_PROXY_LEVELS) ?? (quick ? [300] : [1000, 3000]);
  const upstream = await startHelper(path.join(BENCH_DIR, "lib/stream-server.mjs"), [], { env: { BENCH_DEFAULT_ROUTE: `paced/${CHUNKS}/${GAP_MS}` } });
  const all = [
    { id: "direct", label: "direct to upstream (no proxy)" },
    { id: "plain", label: "plain Node pass-through proxy (node:http + fetch)" },
    { id: "adapter", label: "`serveNode` + a forwarding fetch handler (no proxy, no wasm)" },
    { id: "ours", label: "hf-inference-wasm `serveNode(createProxy())`" },
  ];
  const wanted = (process.env.BENCH_PROXY_TARGETS ?? "direct,plain,ours").split(",");
  const targets = all.filter((t) => t.id === "direct" || wanted.includes(t.id));
  const results = Object.fromEntries(targets.map((t) => [t.id, {}]));
  const skipped = {};
  try {
    // Level by level, each target in a fresh process right after the others at the same
    // N: the baseline and the two proxies it is compared with are measured minutes apart
    // at most, not a whole run apart, so a shared machine's drift weighs less on the ratio.
    for (const n of levels) {
      for (const t of targets) {
        if (skipped[t.id]) continue;
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
          // A fresh process: warm it up first, so the RSS the level starts from is a warm
          // proxy's, not a cold one's (its JIT and heap growth would count as per stream).
          if (proxy) await runChild(path.join(BENCH_DIR, "lib/load-child.mjs"), [proxy.url, "0", "10000", String(STARTS_PER_S), upstream.url], { timeoutMs: 60_000 });
          proxy?.reset();
          const before = proxy ? await proxy.stats() : null;
          const url = proxy ? proxy.url : upstream.url;
          const rampMs = (n / STARTS_PER_S) * 1000;
          const timeoutMs = rampMs + CHUNKS * GAP_MS + 30_000;
          const r = await runChild(path.join(BENCH_DIR, "lib/load-child.mjs"), [url, String(n), String(timeoutMs), String(STARTS_PER_S), upstream.url], { timeoutMs: timeoutMs + 60_000, nodeArgs: ["--max-old-space-size=2048"] });
          const stats = proxy ? await proxy.stats() : null;
          results[t.id][n] = { ...r, stats, rssBefore: before?.rss };
          const errs = r.ok ? Object.values(r.errors).reduce((a, b) => a + b, 0) + (r.ok - r.identical) : n;
          // Breaking: over 1 % errors, or a p99 first token over 2 s later than the direct
          // baseline's at the same N (for the baseline itself: over 2 s).
          const directP99 = t.id === "direct" ? 0 : percentile(results.direct?.[n]?.ttft ?? [], 99) || 0;
          const broken = !r.ok || errs > n * 0.01 || percentile(r.ttft ?? [], 99) - directP99 > BREAK_P99_MS;
          log(`proxy-load: ${t.id} N=${n}: ${Array.isArray(r.ttft) ? `${r.ok} ok (${r.identical} byte-identical, peak ${r.peakOpen} open), ${errs} errors, p99 TTFT ${ms(percentile(r.ttft, 99))}${stats?.cpuMs ? `, ${num(stats.cpuMs / 1000, 1)} CPU-s` : ""}` : r.error}`);
          // A level over the rule is marked, and the next level still runs: where and how a
          // target degrades at N = 3000 is the figure this section exists for.
          if (broken) results[t.id][n].broken = true;
        } finally {
          await proxy?.stop();
        }
        // Let sockets in TIME_WAIT settle between runs.
        await new Promise((r2) => setTimeout(r2, 500));
      }
    }
  } finally {
    await upstream.stop();
  }

  const rows = [];
  for (const t of targets) {
    if (skipped[t.id]) {
      rows.push([t.label, "–", `skipped: ${skipped[t.id]}`, "", "", "", "", "", "", "", "", ""]);
      continue;
    }
    for (const n of levels) {
      const r = results[t.id][n];
      if (!r) continue;
      if (r.ok === false || !Array.isArray(r.ttft)) {
        rows.push([t.label, String(n), `failed: ${r.error}`, "", "", "", "", "", "", "", "", ""]);
        continue;
      }
      const d = results.direct?.[n];
      const p50 = median(r.ttft);
      const p99 = percentile(r.ttft, 99);
      const errs = Object.entries(r.errors);
      const nErr = errs.reduce((a, [, c]) => a + c, 0);
      const perStream = r.stats && r.rssBefore ? `${num((r.stats.peakRss - r.rssBefore) / 1024 / Math.max(1, r.peakOpen), 1)} KB` : "";
      rows.push([
        t.label,
        String(n),
        `${r.identical}/${n} identical, peak ${r.peakOpen} open`,
        `${ms(p50)} / ${ms(p99)}`,
        t.id === "direct" || !d?.ttft ? "" : `${ms(p50 - median(d.ttft))} / ${ms(p99 - percentile(d.ttft, 99))}`,
        ms(median(r.total)),
        `${num(r.ok / (r.wallMs / 1000), 0)} streams/s, ${num(r.chunks / (r.wallMs / 1000), 0)} chunks/s`,
        nErr ? `${nErr} (${errs.map(([k, c]) => `${k} ×${c}`).join(", ")})` : "0",
        r.stats ? `${num(r.stats.peakRss / 1024 / 1024, 0)} MB` : "",
        perStream,
        r.stats?.cpuMs ? `${num(r.stats.cpuMs / 1000, 1)} s, ${num(r.stats.cpuMs / Math.max(1, r.ok), 2)} ms/stream` : "",
        r.broken ? "over the breaking rule" : "",
      ]);
    }
  }
  const ratios = [];
  const goals = [];
  for (const n of levels) {
    const d = results.direct?.[n];
    const p = results.plain?.[n];
    const o = results.ours?.[n];
    if (!d?.ttft?.length || !p?.ttft?.length || !o?.ttft?.length) continue;
    const add = (r, q) => percentile(r.ttft, q) - percentile(d.ttft, q);
    const perStream = (r) => (r.stats && r.rssBefore ? (r.stats.peakRss - r.rssBefore) / Math.max(1, r.peakOpen) : NaN);
    const cpu = (r) => (r.stats?.cpuMs ? r.stats.cpuMs / Math.max(1, r.ok) : NaN);
    // Below half a millisecond the plain proxy's added latency is within the noise of the
    // baseline (a negative one has been seen: a direct run's p99 above the proxies'), and a
    // ratio of two such figures says nothing: then both must simply stay under it.
    const NOISE_MS = 0.5;
    const judge = (q) => {
      const a = add(o, q);
      const b = add(p, q);
      if (!Number.isFinite(a) || !Number.isFinite(b)) return { text: "–", ok: null };
      if (b <= NOISE_MS) return { text: `${ms(a)} vs ${ms(b)} (plain within the noise)`, ok: a <= NOISE_MS, ratio: NaN };
      return { text: `${num(a / b, 2)}× (${ms(a)} vs ${ms(b)})`, ok: a / b <= 1.2, ratio: a / b };
    };
    const j50 = judge(50);
    const j99 = judge(99);
    ratios.push(`N=${n}: added TTFT ours / plain = ${j50.text} at p50, ${j99.text} at p99; RSS per stream ${num(perStream(o) / perStream(p), 2)}× (${num(perStream(o) / 1024, 1)} vs ${num(perStream(p) / 1024, 1)} KB); proxy CPU per stream ${num(cpu(o) / cpu(p), 2)}× (${num(cpu(o), 2)} vs ${num(cpu(p), 2)} ms)`);
    const missed = [
      [j50, "p50"],
      [j99, "p99"],
    ].filter(([j]) => j.ok === false);
    goals.push({
      target: `proxy at N=${n}: added TTFT ≤ 1.2× the plain Node proxy's (p50 and p99)`,
      ours: `p50 ${j50.text}; p99 ${j99.text}`,
      verdict:
        j50.ok === null || j99.ok === null
          ? "not measured"
          : missed.length === 0
            ? "met"
            : `missed: ${missed.map(([j, q]) => (Number.isFinite(j.ratio) ? `${q} by ${num(j.ratio - 1.2, 2)}×` : `${q} over ${NOISE_MS} ms`)).join(", ")}`,
    });
  }
  const lines = [
    `Upstream: every request gets a role chunk, ${CHUNKS} content chunks ${GAP_MS} ms apart, a finish chunk and \`[DONE]\` (≈ ${((CHUNKS - 1) * GAP_MS) / 1000} s per stream). ` +
      `Level by level, each target runs in a fresh process of its own right after the others (warmed up with 100 streams dropped at their first delta), against a fresh load-generator process that starts N streams at ${STARTS_PER_S} a second (node:http, keep-alive, no socket limit), so all N are open at once ("peak open" is what it held). ` +
      "Every stream is compared with one read straight from the upstream: \"identical\" counts the complete, byte-identical ones (a differing one counts as an error). " +
      "TTFT = request start → first content delta at the load generator; \"added\" subtracts the direct baseline at the same N; throughput counts completed streams and data events over the level's wall time; " +
      "RSS is the proxy process's peak during the level; per stream = (peak − RSS before the level) / peak open streams; proxy CPU is the proxy process's user + system CPU time over the level (and per completed stream): on a shared machine the steadiest figure of the table, since latency only grows once a proxy runs out of CPU. A level is marked \"over the breaking rule\" at over 1 % errors, or a p99 TTFT more than 2 s above the direct baseline's at the same N (the baseline: over 2 s); the next level still runs. " +
      `All processes share the machine's ${(await import("node:os")).cpus().length} cores with each other and with whatever else runs on it (figures from a shared machine wobble).`,
    "",
    table(["target", "N", "complete", "TTFT p50 / p99", "added p50 / p99", "stream time p50", "throughput", "errors", "proxy peak RSS", "RSS per stream", "proxy CPU", ""], rows, "lrlrrrrrrrrl"),
    "",
    ...(ratios.length ? ratios.map((r) => `- ${r}`) : ["- (no level with all three targets)"]),
  ];
  return { sections: [{ title: "6. Proxy under load", body: lines.join("\n") }], targets: goals, raw: { results, skipped } };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const r = await run({ quick: process.argv.includes("--quick"), log: (s) => process.stderr.write(s + "\n") });
  for (const s of r.sections) console.log(`## ${s.title}\n\n${s.body}\n`);
}
