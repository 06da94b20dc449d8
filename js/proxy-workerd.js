// Cloudflare Workers entry of `hf-inference-wasm/proxy`: workerd imports a `.wasm` file as
// a compiled WebAssembly.Module (compiling from bytes at run time is refused there).
import wasm from "./hf_inference_proxy_bg.wasm";
import { initSync } from "./hf_inference_proxy.js";

initSync({ module: wasm });

export * from "./proxy-api.js";
