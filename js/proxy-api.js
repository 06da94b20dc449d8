// The surface of `hf-inference-wasm/proxy`, shared by its entries (proxy-node.mjs,
// proxy-workerd.js, proxy.js). The proxy is its own wasm module: the client entry, what a
// browser downloads, carries none of it. Nothing here calls into wasm while it is
// evaluated.

import { Proxy } from "./hf_inference_proxy.js";
import { InferenceError } from "__ERRORS_MODULE__";
import { ProxyState, durableStore } from "./proxy-state.js";
export { InferenceError, ProxyState };

/**
 * The auth proxy as a module Worker / fetch handler: `export default createProxy({...})`.
 * Options are checked now (a bad one throws); the token may instead come from
 * `env.HF_TOKEN` on each request.
 */
export function createProxy(options) {
  // `durableState` (a Durable Object namespace bound to ProxyState) makes the rate limit,
  // budgets and ledger global; without it they live in this isolate / process.
  const durable = options?.durableState;
  const store = durable === undefined || durable === null ? undefined : durableStore(durable, options);
  const proxy = new Proxy(options, store);
  return {
    fetch(request, env, ctx) {
      return proxy.fetch(request, env, ctx);
    },
    /** What the proxy (no key) or one client spent in the current budget window. */
    ledger(clientKey) {
      return proxy.ledger(clientKey);
    },
  };
}
export const version = "__VERSION__";
