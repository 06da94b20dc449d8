// Browser and bundler entry: fetch and instantiate the module next to this file before
// the importer runs (top-level await), so no init call is needed.
import init from "./hf_inference_wasm.js";

await init({ module_or_path: new URL("./hf_inference_wasm_bg.wasm", import.meta.url) });

export * from "./api.js";
