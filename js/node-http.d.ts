// "hf-inference-wasm/node": serve any WHATWG fetch handler (such as `createProxy(...)`) from node:http.
// Node's own types are not required: the listener accepts node:http's request and response.

export interface FetchHandler {
  fetch(request: Request, env?: Record<string, unknown>, ctx?: unknown): Promise<Response>;
}

export interface NodeListenerOptions {
  /** Passed to the handler as `env` on every request (e.g. `{ HF_TOKEN }`). */
  env?: Record<string, unknown>;
}

/** The parts of a node:http `Server` that `serveNode` promises. */
export interface NodeServer {
  address(): { port: number; address: string; family: string } | string | null;
  close(callback?: (err?: Error) => void): unknown;
  closeAllConnections?(): void;
}

/** A `(req, res)` listener for `http.createServer`: each request becomes a `Request` (its
 *  signal aborts when the client disconnects; `ctx.clientIp` is the socket address), each
 *  `Response` is streamed back. */
export declare function toNodeListener(handler: FetchHandler, options?: NodeListenerOptions): (req: unknown, res: unknown) => void;

/** Start a node:http server on `host:port` (default 127.0.0.1:8787; port 0 picks one). */
export declare function serveNode(handler: FetchHandler, options?: NodeListenerOptions & { port?: number; host?: string }): Promise<NodeServer>;
