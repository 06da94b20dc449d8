// The surface of `hf-inference-wasm/proxy`, shared by its entries (proxy-node.mjs,
// proxy-workerd.js, proxy.js). The proxy is its own wasm module: the client entry, what a
// browser downloads, carries none of it. Nothing here calls into wasm while it is
// evaluated.

import { Proxy } from "./hf_inference_proxy.js";
import { InferenceError } from "__ERRORS_MODULE__";
export { InferenceError };

/**
 * The auth proxy as a module Worker / fetch handler: `export default createProxy({...})`.
 * Options are checked now (a bad one throws); the token may instead come from
 * `env.HF_TOKEN` on each request.
 */
export function createProxy(options) {
  const proxy = new Proxy(options);
  return {
    fetch(request, env, ctx) {
      return proxy.fetch(request, env, ctx);
    },
  };
}
export const version = "__VERSION__";
