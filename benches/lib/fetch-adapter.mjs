// Serve a WHATWG fetch handler (`{ fetch(request, env, ctx) => Promise<Response> }`, the
// shape of a Workers module and of `createProxy()`) from node:http, the way a Node user
// would: the request (body read, small) becomes a `Request`; the `Response` body is piped
// back chunk by chunk with backpressure; a client that goes away aborts the request's
// signal and cancels the response body.

import http from "node:http";

const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer"]);

export function serveFetchHandler(handler, { env = {}, host = "127.0.0.1" } = {}) {
  const server = http.createServer({ keepAliveTimeout: 5_000, requestTimeout: 120_000 }, async (req, res) => {
    const controller = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    let reader;
    try {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (HOP.has(k) || v === undefined) continue;
        for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
      }
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      const request = new Request(`http://${req.headers.host ?? host}${req.url}`, {
        method: req.method,
        headers,
        body: hasBody && chunks.length ? Buffer.concat(chunks) : undefined,
        signal: controller.signal,
      });
      const pending = [];
      const ctx = { waitUntil: (p) => pending.push(Promise.resolve(p).catch(() => {})), passThroughOnException() {} };
      const response = await handler.fetch(request, env, ctx);
      const out = {};
      response.headers.forEach((v, k) => {
        if (!HOP.has(k) && k !== "content-length") out[k] = v;
      });
      res.writeHead(response.status, out);
      res.flushHeaders();
      if (response.body) {
        reader = response.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (res.destroyed) break;
          if (!res.write(value)) {
            await new Promise((resolve) => {
              const go = () => {
                res.off("drain", go);
                res.off("close", go);
                resolve();
              };
              res.on("drain", go);
              res.on("close", go);
            });
          }
        }
      }
      res.end();
    } catch (e) {
      if (!res.headersSent) {
        res.writeHead(502, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `adapter: ${e?.message ?? e}`, type: "bench_adapter" } }));
      } else res.destroy();
    } finally {
      if (controller.signal.aborted) reader?.cancel().catch(() => {});
    }
  });
  server.maxConnections = 20_000;
  server.on("clientError", (_e, s) => s.destroy());
  return server;
}
