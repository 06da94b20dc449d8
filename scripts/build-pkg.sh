#!/usr/bin/env bash
# Builds pkg/, the npm package: release wasm, wasm-bindgen glue, wasm-opt when the
# npm `binaryen` package is installed (it is a dev dependency), and the hand-written
# entries and type declarations from js/. Needs the wasm32 target and a wasm-bindgen
# CLI of the crate's version (scripts/setup.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-release}
name=hf_inference_wasm
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

cargo build --lib --target wasm32-unknown-unknown --profile "$profile" --quiet
dir=$profile; [ "$profile" = dev ] && dir=debug
rm -rf pkg && mkdir -p pkg
wasm-bindgen --target web --weak-refs --out-dir pkg --out-name "$name" \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/$dir/$name.wasm"

if [ -x node_modules/.bin/wasm-opt ] && [ "$profile" = release ]; then
  # -Oz, then flatten and re-run the relooper over every function's control flow, then
  # -Oz twice more: about 1.7 KB less gzip than one -Oz, for a few seconds more.
  node_modules/.bin/wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -Oz --flatten --rereloop -Oz -Oz \
    "pkg/${name}_bg.wasm" -o "pkg/${name}_bg.wasm.opt"
  mv "pkg/${name}_bg.wasm.opt" "pkg/${name}_bg.wasm"
else
  echo "build-pkg: wasm-opt not found (run npm ci); the module is not size-optimized" >&2
fi

# The error class is a wasm-bindgen snippet; the entry must re-export that very module
# so `instanceof InferenceError` holds for errors the wasm side creates.
errors=$(cd pkg && find snippets -path '*/js/errors.js' | head -n1)
[ -n "$errors" ] || { echo "build-pkg: errors.js snippet not found" >&2; exit 1; }
sed -e "s#__ERRORS_MODULE__#./$errors#" -e "s#__VERSION__#$version#" js/api.js > pkg/api.js
cp js/node.mjs js/node-http.mjs js/browser.js js/workerd.js js/proxy-state.js pkg/
cp js/index.d.ts pkg/index.d.ts
cp js/node-http.d.ts pkg/node-http.d.ts
rm -f pkg/.gitignore pkg/package.json "pkg/${name}.d.ts" "pkg/${name}_bg.wasm.d.ts"

cat > pkg/package.json <<JSON
{
  "name": "hf-inference-wasm",
  "version": "$version",
  "description": "Streaming client for Hugging Face Inference Providers and OpenAI-compatible servers, in WebAssembly: Node, browsers, bundlers, Cloudflare Workers.",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "types": "./index.d.ts",
  "main": "./node.mjs",
  "browser": "./browser.js",
  "exports": {
    ".": {
      "types": "./index.d.ts",
      "workerd": "./workerd.js",
      "node": "./node.mjs",
      "browser": "./browser.js",
      "import": "./browser.js",
      "default": "./browser.js"
    },
    "./node": {
      "types": "./node-http.d.ts",
      "node": "./node-http.mjs"
    },
    "./package.json": "./package.json"
  },
  "files": ["*.js", "*.mjs", "*.wasm", "*.d.ts", "snippets/"],
  "sideEffects": ["./node.mjs", "./browser.js", "./workerd.js", "./api.js"],
  "engines": { "node": ">=20" }
}
JSON

# Tests and examples import the package by name, as users do.
mkdir -p node_modules
ln -sfn ../pkg node_modules/hf-inference-wasm

wasm="pkg/${name}_bg.wasm"
raw=$(wc -c < "$wasm"); gz=$(gzip -9 -c "$wasm" | wc -c)
echo "build-pkg: pkg/ built ($wasm: $raw bytes raw, $gz gzip)"
