// The Node adapter for the proxy (and any WHATWG fetch handler): node:http requests in,
// `Request` objects to the handler, its `Response` streamed back without buffering. A
// client that disconnects aborts the `Request`'s signal (the proxy cancels the upstream
// call with it) and cancels the response body. Imported as "hf-inference-wasm/node" (Node
// only; it loads no wasm).
import http from "node:http";

/**
 * A request body the handler did not read (refused from its `Content-Length`, or read
 * only up to the limit) is drained after the answer was sent, up to these bounds: a
 * client such as httpx writes its whole body before it reads the answer, so a server
 * that neither reads nor closes leaves it blocked until its write timeout, and one that
 * closes with unread bytes resets the connection, losing the answer. Past either bound
 * the connection is closed.
 */
export const DRAIN_MAX_BYTES = 32 * 1024 * 1024;
export const DRAIN_MAX_MS = 10_000;

/**
 * A `(req, res)` listener for `http.createServer` that serves `handler.fetch`.
 * `ctx.clientIp` is the socket's address (what the proxy rate-limits by by default).
 */
export function toNodeListener(handler, { env = {} } = {}) {
  return (req, res) => {
    serveOne(handler, env, req, res).catch((err) => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `adapter error: ${err?.message ?? err}`, type: "api_error", code: "adapter_error" } }));
      } else {
        res.destroy();
      }
    });
  };
}

/** Start a node:http server for `handler` on `host:port` (port 0 picks one); resolves to the server. */
export async function serveNode(handler, { port = 8787, host = "127.0.0.1", env } = {}) {
  const server = http.createServer(toNodeListener(handler, { env }));
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

/**
 * The request body as a web `ReadableStream` read on demand (nothing is buffered ahead
 * of the handler), whose `cancel` lets go of it without destroying the socket, and
 * `drain()`, which reads and discards the rest within the bounds above.
 */
function bodyOf(req) {
  const chunks = req[Symbol.asyncIterator]();
  let ended = false;
  let draining = false;
  const next = async () => {
    const step = await chunks.next();
    if (step.done) ended = true;
    return step;
  };
  const stream = new ReadableStream(
    {
      async pull(controller) {
        try {
          const step = await next();
          if (step.done) controller.close();
          else controller.enqueue(new Uint8Array(step.value.buffer, step.value.byteOffset, step.value.byteLength));
        } catch (err) {
          controller.error(err);
        }
      },
      cancel() {},
    },
    { highWaterMark: 0 },
  );
  async function drain() {
    if (ended || draining || req.destroyed) return;
    draining = true;
    let bytes = 0;
    const timer = setTimeout(() => req.socket?.destroy(), DRAIN_MAX_MS);
    try {
      for (;;) {
        const step = await next();
        if (step.done) break;
        bytes += step.value.byteLength;
        if (bytes > DRAIN_MAX_BYTES) {
          req.socket?.destroy();
          break;
        }
      }
    } catch {
      // The client went away while we drained: nothing left to do.
    } finally {
      clearTimeout(timer);
    }
  }
  return { stream, drain };
}

async function serveOne(handler, env, req, res) {
  const controller = new AbortController();
  let finished = false;
  res.on("close", () => {
    if (!finished) controller.abort();
  });
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    // HTTP/2 pseudo-headers and hop-by-hop headers are not the application's.
    if (name.startsWith(":")) continue;
    try {
      headers.append(name, req.rawHeaders[i + 1]);
    } catch {
      // A header value WHATWG Headers refuses is dropped, as a browser would.
    }
  }
  const host = req.headers.host && /^[\w.:[\]-]+$/.test(req.headers.host) ? req.headers.host : "localhost";
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  const body = hasBody ? bodyOf(req) : null;
  const request = new Request(`http://${host}${req.url}`, {
    method: req.method,
    headers,
    body: body?.stream,
    duplex: hasBody ? "half" : undefined,
    signal: controller.signal,
  });
  // Once the answer is out, whatever the handler left of the body is drained (bounded).
  if (body) res.on("finish", () => body.drain());
  const ctx = { clientIp: req.socket.remoteAddress ?? "unknown", waitUntil() {}, passThroughOnException() {} };
  const response = await handler.fetch(request, env, ctx);
  const out = {};
  response.headers.forEach((value, name) => {
    out[name] = name in out ? `${out[name]}, ${value}` : value;
  });
  res.writeHead(response.status, out);
  res.flushHeaders();
  if (!response.body) {
    finished = true;
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.on("close", () => {
    if (!finished) reader.cancel().catch(() => {});
  });
  for (;;) {
    let step;
    try {
      step = await reader.read();
    } catch {
      // The upstream failed mid-body: end the connection abruptly, as the upstream did.
      res.destroy();
      return;
    }
    if (step.done) break;
    if (!res.write(step.value)) {
      await new Promise((resolve) => {
        const done = () => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      });
      if (res.destroyed) return;
    }
  }
  finished = true;
  res.end();
}
