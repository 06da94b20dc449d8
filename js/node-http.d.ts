// "hf-inference-wasm/node": serve any WHATWG fetch handler (such as `createProxy(...)`) from node:http.
import type { IncomingMessage, ServerResponse, Server } from "node:http";

export interface FetchHandler {
  fetch(request: Request, env?: unknown, ctx?: unknown): Promise<Response>;
}

export interface NodeListenerOptions {
  /** Passed to the handler as `env` on every request (e.g. `{ HF_TOKEN }`). */
  env?: Record<string, unknown>;
}

/** A `(req, res)` listener: each request becomes a `Request` (its signal aborts when the
 *  client disconnects; `ctx.clientIp` is the socket address), each `Response` is streamed back. */
export declare function toNodeListener(
  handler: FetchHandler,
  options?: NodeListenerOptions,
): (req: IncomingMessage, res: ServerResponse) => void;

/** Start a node:http server on `host:port` (default 127.0.0.1:8787; port 0 picks one). */
export declare function serveNode(
  handler: FetchHandler,
  options?: NodeListenerOptions & { port?: number; host?: string },
): Promise<Server>;
