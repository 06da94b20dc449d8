// Any other runtime with fetch and top-level await (Deno, a bundler): fetch and
// instantiate the proxy's module next to this file before the importer runs.
import init from "./hf_inference_proxy.js";

await init({ module_or_path: new URL("./hf_inference_proxy_bg.wasm", import.meta.url) });

export * from "./proxy-api.js";
