// Node entry: compile the module from the file next to this one, synchronously, so
// `import { InferenceClient } from "hf-inference-wasm"` needs no init call.
import { readFileSync } from "node:fs";
import { initSync } from "./hf_inference_wasm.js";

initSync({ module: readFileSync(new URL("./hf_inference_wasm_bg.wasm", import.meta.url)) });

export * from "./api.js";
