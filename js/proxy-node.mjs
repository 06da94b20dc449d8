// Node entry of `hf-inference-wasm/proxy`: compile the proxy's module from the file next
// to this one, synchronously, so importing it is all there is to do. On Node the proxy
// reaches its upstream with `upstreamFetch` (node:http, node-fetch.mjs) unless the
// options name a `fetch`.
//
// Shipped bundled, for the reason js/node.mjs gives: one module, errors.js apart.
import { initSync } from "./hf_inference_proxy.js";
import { createProxy as createWithFetch } from "./proxy-api.js";
import { upstreamFetch } from "./node-fetch.mjs";

const { readFileSync } = process.getBuiltinModule?.("node:fs") ?? (await import("node:fs"));
initSync({ module: readFileSync(new URL("./hf_inference_proxy_bg.wasm", import.meta.url)) });

export * from "./proxy-api.js";

/** `createProxy` of proxy-api.js, with Node's upstream `fetch` by default. */
export function createProxy(options) {
  const plain = typeof options === "object" && options !== null && !Array.isArray(options);
  return createWithFetch(plain && options.fetch === undefined ? { ...options, fetch: upstreamFetch } : options);
}
