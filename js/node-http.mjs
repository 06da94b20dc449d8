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
 * The next chunk of `req` (a Buffer), or null at its end; rejects when the client went
 * away before the end. Reads with `read()` and waits on the stream's own events: no async
 * iterator (whose set-up and `finished()` hooks cost more than the one or two reads a
 * request body takes).
 */
function nextChunk(req) {
  const chunk = req.read();
  if (chunk !== null) return Promise.resolve(chunk);
  if (req.readableEnded) return Promise.resolve(null);
  if (req.destroyed) return Promise.reject(req.errored ?? new Error("the request was aborted before its body ended"));
  return new Promise((resolve, reject) => {
    const settle = (fn, v) => {
      req.off("readable", onReadable);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      fn(v);
    };
    const onReadable = () => {
      const c = req.read();
      if (c !== null) settle(resolve, c);
    };
    const onEnd = () => settle(resolve, null);
    const onError = (err) => settle(reject, err);
    const onClose = () => (req.readableEnded ? settle(resolve, null) : settle(reject, req.errored ?? new Error("the request was aborted before its body ended")));
    req.on("readable", onReadable);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/**
 * The request body as a web `ReadableStream` read on demand (nothing is buffered ahead
 * of the handler), whose `cancel` lets go of it without destroying the socket, and
 * `drain()`, which reads and discards the rest within the bounds above.
 */
function bodyOf(req) {
  let ended = false;
  let draining = false;
  const next = async () => {
    const chunk = await nextChunk(req);
    if (chunk === null) ended = true;
    return chunk;
  };
  const stream = new ReadableStream(
    {
      async pull(controller) {
        try {
          const chunk = await next();
          if (chunk === null) controller.close();
          else controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
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
        const chunk = await next();
        if (chunk === null) break;
        bytes += chunk.byteLength;
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

/** The request's headers for `new Request`: node:http's raw pairs as they are (the fast
 *  path), or, when WHATWG `Headers` refuses one of them, a `Headers` without it. */
function headersOf(req) {
  const pairs = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    // HTTP/2 pseudo-headers and hop-by-hop headers are not the application's.
    if (raw[i].charCodeAt(0) !== 58 /* ":" */) pairs.push([raw[i], raw[i + 1]]);
  }
  try {
    return new Headers(pairs);
  } catch {
    const headers = new Headers();
    for (const [name, value] of pairs) {
      try {
        headers.append(name, value);
      } catch {
        // A header value WHATWG Headers refuses is dropped, as a browser would.
      }
    }
    return headers;
  }
}

async function serveOne(handler, env, req, res) {
  const controller = new AbortController();
  let finished = false;
  res.on("close", () => {
    if (!finished) controller.abort();
  });
  const headers = headersOf(req);
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
  if (!response.body) {
    finished = true;
    res.end();
    return;
  }
  // The status line and headers go out with the first body bytes when those are already
  // there (one write, not two: a syscall and a packet per request saved), and on their
  // own as soon as the first read turns out to wait (before the next turn of the event
  // loop), so a client never waits longer for the headers than the upstream makes it.
  let flush = setImmediate(() => {
    flush = null;
    if (!res.headersSent && !res.destroyed) res.flushHeaders();
  });
  const reader = response.body.getReader();
  res.on("close", () => {
    if (flush) clearImmediate(flush);
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
    if (flush) {
      clearImmediate(flush);
      flush = null;
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
