// Node entry: compile the module from the file next to this one, synchronously, so
// `import { InferenceClient } from "hf-inference-wasm"` needs no init call.
//
// scripts/build-pkg.sh ships this file bundled with esbuild: api.js, the wasm-bindgen glue
// and its snippets (pump.js, wire.js) become one module, only errors.js stays apart (the
// proxy entry imports the same file, so `InferenceError` is one class). Node's ESM loader
// costs about a millisecond per module; five modules fewer took the import from ~17 ms to
// ~12 ms (`node benches/run.mjs --only coldstart`); minifying its whitespace and syntax
// (names kept) took another ~2 ms off. `process.getBuiltinModule` (Node
// ≥ 20.16) skips the loader for node:fs as well (~1.4 ms); older Nodes import it.
import { initSync } from "./hf_inference_wasm.js";

const { readFileSync } = process.getBuiltinModule?.("node:fs") ?? (await import("node:fs"));
initSync({ module: readFileSync(new URL("./hf_inference_wasm_bg.wasm", import.meta.url)) });

export * from "./api.js";
