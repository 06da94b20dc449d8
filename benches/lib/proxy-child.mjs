// The proxy under load, alone in its own process so its RSS is its own. Started by
// proxy-load.mjs with fork() as `lib/proxy-child.mjs <kind> <upstream base URL>`:
//
//   plain   a plain Node pass-through proxy: node:http in, global fetch out, the body piped
//           back as it arrives (the peer: what a 20-line hand-written proxy costs)
//   ours    `createProxy({ upstream, token, allowedModels: "*", … })` from hf-inference-wasm,
//           served by the package's own Node adapter, `serveNode` from "hf-inference-wasm/node"
//   adapter `serveNode` with a fetch handler that forwards untouched through the global fetch
//           (not a proxy: what the adapter costs without the proxy's wasm; optional)
//
// Sends { url } (or { skip: reason }) to the parent once listening. Answers { cmd: "stats" }
// with { rss, peakRss, heap, cpuMs } (peak RSS and CPU time since the last { cmd: "reset" });
// exits on disconnect.

import http from "node:http";
import { loopbackOnly } from "./common.mjs";

const [kind, upstream] = process.argv.slice(2);
loopbackOnly();

/** The options the proxy benchmark gives createProxy: every model allowed, no rate limit
 *  (the load comes from one client address), the upstream and a dummy token. */
const PROXY_OPTIONS = (upstreamUrl) => ({
  upstream: upstreamUrl,
  token: "hf_bench_token_not_real",
  allowedModels: "*",
  allowedOrigins: "*",
  rateLimit: false,
  // One JSON line per request to stdout would measure the terminal, not the proxy.
  log: false,
});

let server;
if (kind === "plain") {
  server = http.createServer({ keepAliveTimeout: 5_000, requestTimeout: 120_000 }, async (req, res) => {
    const ac = new AbortController();
    res.on("close", () => ac.abort());
    try {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const up = await fetch(upstream + req.url, {
        method: req.method,
        headers: { "content-type": "application/json", authorization: "Bearer hf_bench_token_not_real" },
        body: req.method === "POST" ? Buffer.concat(chunks) : undefined,
        signal: ac.signal,
      });
      res.writeHead(up.status, { "content-type": up.headers.get("content-type") ?? "application/octet-stream" });
      for await (const c of up.body) if (!res.write(c)) await new Promise((r) => res.once("drain", r));
      res.end();
    } catch {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    }
  });
  server.maxConnections = 20_000;
} else if (kind === "ours") {
  let mod;
  try {
    // BENCH_OURS_PKG: profile.mjs --proxy points this at a copy of pkg/ whose proxy wasm
    // keeps its function names.
    mod = await import(process.env.BENCH_OURS_PKG ? `${process.env.BENCH_OURS_PKG}/proxy-node.mjs` : "hf-inference-wasm/proxy");
  } catch (e) {
    process.send({ skip: `hf-inference-wasm did not load: ${e?.message ?? e}` });
    process.exit(0);
  }
  if (typeof mod.createProxy !== "function") {
    process.send({ skip: "createProxy not exported by this build of pkg/" });
    process.exit(0);
  }
  let handler;
  try {
    handler = mod.createProxy(PROXY_OPTIONS(upstream));
  } catch (e) {
    process.send({ skip: `createProxy(options) threw: ${e?.message ?? e}` });
    process.exit(0);
  }
  const { serveNode } = await import(process.env.BENCH_OURS_PKG ? `${process.env.BENCH_OURS_PKG}/node-http.mjs` : "hf-inference-wasm/node");
  // Exactly what a Node user writes: serveNode's defaults (node:http's, backlog 511).
  server = await serveNode(handler, { port: 0, host: "127.0.0.1" });
} else if (kind === "adapter") {
  // Not a proxy: the package's Node adapter serving a five-line fetch handler that forwards
  // the body untouched through the global fetch. What `serveNode` and the WHATWG Request /
  // Response round trip cost without the proxy's wasm (BENCH_PROXY_TARGETS=…,adapter).
  const { serveNode } = await import(process.env.BENCH_OURS_PKG ? `${process.env.BENCH_OURS_PKG}/node-http.mjs` : "hf-inference-wasm/node");
  server = await serveNode(
    {
      async fetch(request) {
        const body = await request.arrayBuffer();
        const up = await fetch(upstream + new URL(request.url).pathname, {
          method: request.method,
          headers: { "content-type": "application/json", authorization: "Bearer hf_bench_token_not_real" },
          body: request.method === "POST" ? body : undefined,
          signal: request.signal,
        });
        return new Response(up.body, { status: up.status, headers: { "content-type": up.headers.get("content-type") ?? "application/octet-stream" } });
      },
    },
    { port: 0, host: "127.0.0.1" },
  );
} else {
  throw new Error(`unknown proxy kind ${kind}`);
}

server.on("clientError", (_e, s) => s.destroy());
if (!server.listening) await new Promise((resolve) => server.listen({ port: 0, host: "127.0.0.1" }, resolve));

// `process.memoryUsage.rss()`, not `process.memoryUsage()`: the latter walks the V8 heap
// spaces on every call, which at 3000 open streams cost the proxy under test measurable CPU
// (more for the one with the larger heap). Every 200 ms: RSS moves slowly (the level takes
// about a minute), and even reading /proc costs the process under test a little each time.
let peakRss = process.memoryUsage.rss();
// Reading the RSS needs a file descriptor: at the fd limit (the break point past ~10,000
// streams here) it throws EMFILE, which must not end the proxy under test.
const sampleRss = () => {
  try {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  } catch {
    // Out of descriptors: keep the last peak.
  }
};
setInterval(sampleRss, 200).unref();
let cpuFrom = process.cpuUsage();
process.on("message", (m) => {
  if (m?.cmd === "reset") {
    peakRss = 0;
    sampleRss();
    cpuFrom = process.cpuUsage();
  }
  if (m?.cmd === "stats") {
    sampleRss();
    let u = { rss: peakRss, heapUsed: NaN };
    try {
      u = process.memoryUsage();
    } catch {
      // Out of descriptors (see sampleRss).
    }
    const cpu = process.cpuUsage(cpuFrom);
    // cpuMs: user + system CPU time of this process since the last reset.
    process.send({ stats: { rss: u.rss, peakRss, heap: u.heapUsed, cpuMs: (cpu.user + cpu.system) / 1000 } });
  }
});
process.on("disconnect", () => process.exit(0));
process.send({ url: `http://127.0.0.1:${server.address().port}` });
