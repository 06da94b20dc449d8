// The load generator of the proxy benchmark: holds N concurrent streaming chat requests
// against one URL, in a fresh process per level. Started by proxy-load.mjs as
//   node lib/load-child.mjs <url> <N> <timeoutMs> <startsPerSecond> <referenceUrl>
//
// node:http with a keep-alive agent and no socket limit. One reference stream is read
// straight from the upstream (<referenceUrl>, not measured, alongside the level): every
// stream through the target must be byte-identical to it. After 10 warm-up streams (each
// dropped at its first content delta), the N requests start at
// <startsPerSecond> (in batches every 20 ms): a steady arrival rate, so what is measured is
// N streams open at once, not how fast one process can accept a burst of N connections.
// For each stream: time to the first content delta (`"content":"` followed by a character),
// total time, data events, whether `[DONE]` arrived, and its bytes' SHA-256. Every request is
// destroyed at `timeoutMs`.
// Prints one JSON line: { ttft: [ms…], total: [ms…], ok, errors: { reason: count }, chunks,
// wallMs, peakOpen, identical, rss }. With N = 0 it only warms the target up (see below).
import http from "node:http";

import { createHash } from "node:crypto";

const [url, nArg, timeoutArg, rateArg, refArg] = process.argv.slice(2);
const N = Number(nArg);
const TIMEOUT = Number(timeoutArg);
const RATE = Number(rateArg) || 200;
let open = 0;
let peakOpen = 0;
const target = new URL(url);
if (target.hostname !== "127.0.0.1") throw new Error("load: loopback only");

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: N, timeout: TIMEOUT });
const body = JSON.stringify({ model: "bench/model", messages: [{ role: "user", content: "Say this is a test" }], stream: true });
const FIRST = /"content":"[^"]/;

function one(base = target, { warmUp = false, counted = true } = {}) {
  return new Promise((resolve) => {
    const hash = createHash("sha256");
    const t0 = performance.now();
    let ttft = NaN;
    let chunks = 0;
    let done = false;
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (counted) open--;
      resolve({ ttft, total: performance.now() - t0, chunks, sha: hash.digest("hex"), error: error ?? (done ? null : "no [DONE]") });
    };
    if (counted) open++;
    peakOpen = Math.max(peakOpen, open);
    const req = http.request(
      { host: base.hostname, port: base.port, path: `${base.pathname.replace(/\/$/, "")}/v1/chat/completions`, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return finish(`HTTP ${res.statusCode}`);
        }
        res.setEncoding("utf8");
        let buf = "";
        res.on("data", (s) => {
          hash.update(s);
          buf += s;
          for (let at = buf.indexOf("\n\n"); at !== -1; at = buf.indexOf("\n\n")) {
            const ev = buf.slice(0, at);
            buf = buf.slice(at + 2);
            if (!ev.startsWith("data:")) continue;
            if (ev.endsWith("[DONE]")) done = true;
            else {
              chunks++;
              if (Number.isNaN(ttft) && FIRST.test(ev)) {
                ttft = performance.now() - t0;
                if (warmUp) {
                  req.destroy();
                  return finish("warm-up");
                }
              }
            }
          }
        });
        res.on("end", () => finish(null));
        res.on("error", (e) => finish(e.code ?? e.message));
        res.on("aborted", () => finish("aborted"));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error("timeout"));
      finish("timeout");
    }, TIMEOUT);
    req.on("error", (e) => finish(e.code ?? e.message));
    req.end(body);
  });
}

// N = 0: only warm the target up (WARM streams, each dropped at its first content delta),
// so a fresh proxy process has compiled its hot paths and grown its heap before its RSS is
// taken as the level's starting point.
if (N === 0) {
  const WARM = 100;
  for (let i = 0; i < WARM; i += 10) await Promise.all(Array.from({ length: 10 }, () => one(target, { warmUp: true })));
  agent.destroy();
  process.stdout.write(JSON.stringify({ warmed: WARM }) + "\n");
  process.exit(0);
}

// The reference body, straight from the upstream, read while the level runs (it does not
// go through the target, so it adds no load there).
const reference = one(new URL(refArg ?? url), { counted: false });

// Warm-up (not measured): a few streams, until each has sent its first content delta (then
// they are dropped), so the first measured requests do not pay this process's JIT and the
// target's first-connection costs.
await Promise.all(Array.from({ length: Math.min(N, 10) }, () => one(target, { warmUp: true })));
peakOpen = 0;

const started = performance.now();
const all = [];
const perBatch = Math.max(1, Math.round((RATE * 20) / 1000));
for (let i = 0; i < N; i += perBatch) {
  for (let j = i; j < Math.min(N, i + perBatch); j++) all.push(one());
  if (i + perBatch < N) await new Promise((r) => setTimeout(r, 20));
}
const results = await Promise.all(all);
const ref = await reference;
if (ref.error) throw new Error(`the reference stream failed: ${ref.error}`);
const wallMs = performance.now() - started;
const errors = {};
for (const r of results) if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
const ok = results.filter((r) => !r.error);
agent.destroy();
// Exit once the line is out: at N = 12000 it is ~0.5 MB, and exiting right after the write
// cut it short.
process.stdout.write(
  JSON.stringify({
    ttft: ok.map((r) => r.ttft),
    total: ok.map((r) => r.total),
    ok: ok.length,
    errors,
    chunks: results.reduce((a, r) => a + r.chunks, 0),
    wallMs,
    peakOpen,
    identical: results.filter((r) => !r.error && r.sha === ref.sha).length,
    rss: process.memoryUsage().rss,
  }) + "\n",
  () => process.exit(0),
);
