// Browser and bundler entry: the wasm module is embedded in a JS module (deflated, base64,
// written by scripts/embed-wasm.mjs) and instantiated before the importer runs (top-level await), so
// no init call is needed and no bundler needs a rule for `.wasm` files. Shipped bundled and
// minified by scripts/build-pkg.sh (with the glue, its snippets and api.js).
import init from "./hf_inference_wasm.js";
import wasmBytes from "./hf_inference_wasm_bg.inline.js";

await init({ module_or_path: await wasmBytes() });

export * from "./api.js";
