// Cloudflare Workers entry: workerd (and wrangler, miniflare) import a `.wasm` file as a
// compiled WebAssembly.Module; compiling from bytes at run time is refused there.
import wasm from "./hf_inference_wasm_bg.wasm";
import { initSync } from "./hf_inference_wasm.js";

initSync({ module: wasm });

export * from "./api.js";
