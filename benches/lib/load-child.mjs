// The load generator of the proxy benchmark: holds N concurrent streaming chat requests
// against one URL, in a fresh process per level. Started by proxy-load.mjs as
//   node lib/load-child.mjs <url> <N> <timeoutMs>
//
// node:http with a keep-alive agent and no socket limit; after 10 warm-up streams, the N
// requests start in batches of 100 every 10 ms (so the listen backlog is not the thing measured). For each stream: time to
// the first content delta (`"content":"` followed by a character), total time, data events, and
// whether `[DONE]` arrived. Every request is destroyed at `timeoutMs`.
// Prints one JSON line: { ttft: [ms…], total: [ms…], ok, errors: { reason: count }, chunks, wallMs }

import http from "node:http";

const [url, nArg, timeoutArg] = process.argv.slice(2);
const N = Number(nArg);
const TIMEOUT = Number(timeoutArg);
const target = new URL(url);
if (target.hostname !== "127.0.0.1") throw new Error("load: loopback only");

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: N, timeout: TIMEOUT });
const body = JSON.stringify({ model: "bench/model", messages: [{ role: "user", content: "Say this is a test" }], stream: true });
const FIRST = /"content":"[^"]/;

function one() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let ttft = NaN;
    let chunks = 0;
    let done = false;
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ttft, total: performance.now() - t0, chunks, error: error ?? (done ? null : "no [DONE]") });
    };
    const req = http.request(
      { host: target.hostname, port: target.port, path: `${target.pathname.replace(/\/$/, "")}/v1/chat/completions`, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return finish(`HTTP ${res.statusCode}`);
        }
        res.setEncoding("utf8");
        let buf = "";
        res.on("data", (s) => {
          buf += s;
          for (let at = buf.indexOf("\n\n"); at !== -1; at = buf.indexOf("\n\n")) {
            const ev = buf.slice(0, at);
            buf = buf.slice(at + 2);
            if (!ev.startsWith("data:")) continue;
            if (ev.endsWith("[DONE]")) done = true;
            else {
              chunks++;
              if (Number.isNaN(ttft) && FIRST.test(ev)) ttft = performance.now() - t0;
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

// Warm-up (not measured): a few streams, so the first measured requests do not pay this
// process's JIT and the target's first-connection costs.
await Promise.all(Array.from({ length: Math.min(N, 10) }, one));

const started = performance.now();
const all = [];
for (let i = 0; i < N; i += 100) {
  for (let j = i; j < Math.min(N, i + 100); j++) all.push(one());
  if (i + 100 < N) await new Promise((r) => setTimeout(r, 10));
}
const results = await Promise.all(all);
const wallMs = performance.now() - started;
const errors = {};
for (const r of results) if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
const ok = results.filter((r) => !r.error);
agent.destroy();
process.stdout.write(
  JSON.stringify({
    ttft: ok.map((r) => r.ttft),
    total: ok.map((r) => r.total),
    ok: ok.length,
    errors,
    chunks: results.reduce((a, r) => a + r.chunks, 0),
    wallMs,
  }) + "\n",
);
process.exit(0);
