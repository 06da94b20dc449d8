// Node entry of `hf-inference-wasm/proxy`: compile the proxy's module from the file next
// to this one, synchronously, so importing it is all there is to do.
import { readFileSync } from "node:fs";
import { initSync } from "./hf_inference_proxy.js";

initSync({ module: readFileSync(new URL("./hf_inference_proxy_bg.wasm", import.meta.url)) });

export * from "./proxy-api.js";
