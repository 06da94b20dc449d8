// Any other runtime with fetch and top-level await (Deno, a bundler): fetch and
// instantiate the proxy's module next to this file before the importer runs. Shipped
// bundled and minified by scripts/build-pkg.sh (with the glue, its snippets and
// proxy-api.js), like browser.js.
import init from "./hf_inference_proxy.js";

await init({ module_or_path: new URL("./hf_inference_proxy_bg.wasm", import.meta.url) });

export * from "./proxy-api.js";
