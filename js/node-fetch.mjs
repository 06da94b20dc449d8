// The proxy's upstream `fetch` on Node (the default of `createProxy` in the Node entry,
// js/proxy-node.mjs): node:http / node:https with a keep-alive agent, answering a WHATWG
// `Response` whose body streams the upstream's bytes as they arrive, read on demand.
//
// Why not the global `fetch`: Node's fetch (undici) runs the whole WHATWG fetch algorithm
// for every call (a Request, a clone of it with a tee of its body, the spec's header and
// redirect steps, a body stream behind a Node stream). Measured with the proxy benchmark
// (benches/proxy-load.mjs), it was most of what the proxy cost per request beyond a plain
// Node pass-through. Operators who want the global one pass `fetch` themselves.
//
// It implements what the proxy's calls use, the way Node's fetch behaves for them: a URL
// string; `method`; `headers` as a plain object; a string body (sent with its
// Content-Length); `redirect: "manual"` (a redirect is answered as it is, never
// followed; this fetch follows none); `signal` (aborting rejects the call or errors the
// body with the signal's reason). Failures reject with `TypeError("fetch failed")` whose
// `cause` is the socket error, and a body cut short errors with `TypeError("terminated")`,
// as Node's fetch does. It sends `accept: */*` and `user-agent: node` when the caller did
// not, like Node's fetch, but no `accept-encoding` (a relayed event stream is best
// uncompressed); a body the upstream compresses anyway (gzip, deflate, br) is decoded, as
// Node's fetch would. Any other call (a Request, another body type or scheme) goes to the
// global `fetch`.

import http from "node:http";
import https from "node:https";
import zlib from "node:zlib";

const agents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true }),
};
/** Statuses whose response has no body (the `Response` constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

const abortReason = (signal) => signal.reason ?? new DOMException("This operation was aborted", "AbortError");

/** `fetch(url, init)` for the proxy's upstream calls. */
export function upstreamFetch(input, init = {}) {
  const body = init.body;
  const plainHeaders = init.headers === undefined || (typeof init.headers === "object" && init.headers !== null && Object.getPrototypeOf(init.headers) === Object.prototype);
  if (typeof input !== "string" || !(body === undefined || body === null || typeof body === "string") || !plainHeaders) return globalThis.fetch(input, init);
  let url;
  try {
    url = new URL(input);
  } catch (err) {
    return Promise.reject(new TypeError(`Failed to parse URL from ${input}`, { cause: err }));
  }
  const agent = agents[url.protocol];
  if (!agent) return globalThis.fetch(input, init);
  const signal = init.signal ?? null;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const method = (init.method ?? "GET").toUpperCase();
  const headers = { ...init.headers };
  const has = (name) => Object.keys(headers).some((k) => k.toLowerCase() === name);
  if (!has("accept")) headers.accept = "*/*";
  if (!has("user-agent")) headers["user-agent"] = "node";

  return new Promise((resolve, reject) => {
    let res = null;
    let settled = false;
    // Errors the body, once the response is out.
    let fail = null;
    let req;
    const onAbort = () => {
      const reason = abortReason(signal);
      if (!settled) {
        settled = true;
        reject(reason);
      } else fail?.(reason);
      req.destroy();
      res?.destroy();
    };
    const done = () => signal?.removeEventListener("abort", onAbort);
    try {
      req = (url.protocol === "https:" ? https : http).request(url, { method, headers, agent });
    } catch (err) {
      // A header name or value node:http refuses.
      reject(new TypeError("fetch failed", { cause: err }));
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (err) => {
      done();
      if (!settled) {
        settled = true;
        reject(new TypeError("fetch failed", { cause: err }));
      } else fail?.(err);
    });
    req.on("response", (response) => {
      res = response;
      try {
        settled = true;
        resolve(respond(res, method, () => done(), (f) => (fail = f)));
      } catch (err) {
        done();
        res.destroy();
        reject(new TypeError("fetch failed", { cause: err }));
      }
    });
    req.end(body ?? undefined);
  });
}

/** The `Response` for node:http's `res`. `done()` is called once the body ended or
 *  failed; `onFail(f)` receives the function that errors the body (for an abort). */
function respond(res, method, done, onFail) {
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 599) throw new Error(`the upstream answered with status ${status}`);
  const pairs = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
  let headers;
  try {
    headers = new Headers(pairs);
  } catch {
    headers = new Headers();
    for (const [n, v] of pairs) {
      try {
        headers.append(n, v);
      } catch {
        // A header WHATWG Headers refuses is dropped.
      }
    }
  }
  const init = { status, headers };
  if (method === "HEAD" || NULL_BODY.has(status)) {
    res.resume();
    res.once("end", done);
    return new Response(null, init);
  }
  const source = decoded(res);
  let ended = false;
  let error = null;
  let wake = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const onError = (err) => {
    if (ended || error) return;
    error = err?.name === "AbortError" ? err : new TypeError("terminated", { cause: err });
    done();
    notify();
  };
  onFail(onError);
  source.on("readable", notify);
  source.on("end", () => {
    ended = true;
    done();
    notify();
  });
  source.on("error", onError);
  res.on("close", () => {
    if (!res.complete) onError(new Error("the upstream closed the connection before the body ended"));
  });
  const pull = (controller) => {
    if (error) return controller.error(error);
    const chunk = source.read();
    if (chunk !== null) return controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (ended) return controller.close();
    return new Promise((r) => {
      wake = r;
    }).then(() => pull(controller));
  };
  const stream = new ReadableStream(
    {
      pull,
      cancel() {
        done();
        res.destroy();
        if (source !== res) source.destroy();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(stream, init);
}

/** The response's bytes, decoded when the upstream compressed them anyway. */
function decoded(res) {
  const encoding = String(res.headers["content-encoding"] ?? "")
    .toLowerCase()
    .trim();
  // As Node's fetch: partial input is flushed as it comes, a truncated tail is no error.
  const z_ = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  const br_ = { flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH };
  const make = {
    gzip: () => zlib.createGunzip(z_),
    "x-gzip": () => zlib.createGunzip(z_),
    deflate: () => zlib.createInflate(z_),
    br: () => zlib.createBrotliDecompress(br_),
  }[encoding];
  if (!make) return res;
  const z = make();
  res.on("error", (err) => z.destroy(err));
  return res.pipe(z);
}
