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

dir=$profile; [ "$profile" = dev ] && dir=debug
. scripts/wasm-opt.sh
rm -rf pkg && mkdir -p pkg

# entry FEATURE OUT [PROFILE]: one wasm entry, built with only its own cargo feature (so the
# client's wasm holds no proxy code and the other way round), its wasm-bindgen glue named
# OUT; with the cargo profile PROFILE in a release build (default: release).
entry() {
  local feature=$1 out=$2 cargo_profile=$profile cargo_dir=$dir
  if [ "$profile" = release ] && [ -n "${3:-}" ]; then cargo_profile=$3 cargo_dir=$3; fi
  cargo build --lib --target wasm32-unknown-unknown --profile "$cargo_profile" --quiet \
    --no-default-features --features "$feature"
  # --omit-default-module-path: every entry hands init its module (bytes, a URL or a
  # compiled Module), so the glue's `new URL("…_bg.wasm", import.meta.url)` fallback would
  # only make Vite and webpack copy a file nobody fetches.
  wasm-bindgen --target web --weak-refs --omit-default-module-path --out-dir pkg --out-name "$out" \
    "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/$cargo_dir/$name.wasm"
  if [ "$profile" = release ]; then optimize "pkg/${out}_bg.wasm"; fi
  rm -f "pkg/${out}.d.ts" "pkg/${out}_bg.wasm.d.ts"
}
entry client "$name"
# Its imports, exports and import module renamed to the shortest names, and its glue to
# match (scripts/minify-wasm-names.mjs says why): 107 exports and 76 imports, 1.5 KB gzip
# of the release wasm (1.9 KB of the size build's) and 1.3 KB of glue.
if [ "$profile" = release ]; then
  node scripts/minify-wasm-names.mjs "pkg/${name}_bg.wasm" "pkg/$name.js"
fi
# The proxy compiled for size throughout (the `size` profile: the wire crate at z too): 1.5 KB
# less gzip of its wasm, for about 5 % more CPU time relaying a stream's chunks (in-process,
# a 10k-chunk body from memory: 21.0 → 22.2 ms; over a network a stream's chunks come far
# apart, and the proxy does not decode them, it only looks for the usage).
entry proxy hf_inference_proxy size
# One more round of wasm-opt (scripts/wasm-opt.sh's optimize_again), then its imports,
# exports and import module renamed to the shortest names, and its glue to match
# (scripts/minify-wasm-names.mjs says why: 1.6 KB gzip of the wasm).
# Both need wasm-opt (without it, optimize has said so and the names stay).
if [ "$profile" = release ] && [ -x node_modules/.bin/wasm-opt ]; then
  optimize_again pkg/hf_inference_proxy_bg.wasm
  node scripts/minify-wasm-names.mjs pkg/hf_inference_proxy_bg.wasm pkg/hf_inference_proxy.js
fi

# --- the browser entry's wasm, embedded (issue 12 point 5): base64 in a JS module, so
# esbuild, Rollup, Vite and webpack bundle it with no rule for .wasm files. One call per
# wasm file (scripts/embed-wasm.mjs works for any).
# The browser's is the client compiled for size throughout (the `size` profile: the wire
# and chunk crates at z too; Node and workerd load the release build, those two crates
# for speed): 4.6 KB less gzip of wasm where a stream comes at the network's pace. Its glue differs from the
# release build's only in closure symbols' hashes (the profile is in them) and, once
# renamed, in the short names; browser.js is bundled with it below.
small=""
if [ "$profile" = release ]; then
  small=$(mktemp -d)
  trap 'rm -rf "$small"' EXIT
  cargo build --lib --target wasm32-unknown-unknown --profile size --quiet \
    --no-default-features --features client
  wasm-bindgen --target web --weak-refs --omit-default-module-path --out-dir "$small" \
    --out-name "$name" "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/size/$name.wasm"
  # The same snippets (errors.js above all: `instanceof InferenceError` across entries).
  (cd "$small" && find snippets -type f) | while read -r f; do
    cmp -s "$small/$f" "pkg/$f" || { echo "build-pkg: the size build's $f differs from pkg's" >&2; exit 1; }
  done
  optimize "$small/${name}_bg.wasm"
  # Renamed as the release build is, against its own glue (the short names are the same
  # only where the two wasms' imports and exports come in the same order).
  node scripts/minify-wasm-names.mjs "$small/${name}_bg.wasm" "$small/$name.js"
  node scripts/embed-wasm.mjs "$small/${name}_bg.wasm" "pkg/${name}_bg.inline.js"
  browser_wasm=$(wc -c < "$small/${name}_bg.wasm"); browser_gz=$(gzip -9 -c "$small/${name}_bg.wasm" | wc -c)
else
  node scripts/embed-wasm.mjs "pkg/${name}_bg.wasm" "pkg/${name}_bg.inline.js"
fi
# --- end of the embedded wasm

# The error class is a wasm-bindgen snippet; the entry must re-export that very module
# so `instanceof InferenceError` holds for errors the wasm side creates.
errors=$(cd pkg && find snippets -path '*/js/errors.js' | head -n1)
[ -n "$errors" ] || { echo "build-pkg: errors.js snippet not found" >&2; exit 1; }
# Both glues import the one snippet (same crate, same path), so the class is shared too.
grep -q "$errors" pkg/hf_inference_proxy.js || { echo "build-pkg: the proxy glue does not share $errors" >&2; exit 1; }
for api in api proxy-api; do
  sed -e "s#__ERRORS_MODULE__#./$errors#" -e "s#__VERSION__#$version#" "js/$api.js" > "pkg/$api.js"
done
cp js/node.mjs js/node-http.mjs js/browser.js js/workerd.js pkg/
# The Node entry as one module (js/node.mjs says why): api.js, the glue and its snippets
# bundled; errors.js stays its own module, the one the proxy entry imports too.
# Whitespace and syntax minified, names untouched (stack traces keep every function's
# name): the bundle is 38 KB instead of 69 KB, parsed in less time at every import
# (DESIGN.md, "The first request: what a cold client compiles").
bundle_node() {
  node_modules/.bin/esbuild "pkg/$1" --bundle --format=esm --platform=node \
    --minify-whitespace --minify-syntax \
    --external:"./$errors" --log-level=warning --outfile="pkg/$1.bundled"
  mv "pkg/$1.bundled" "pkg/$1"
}
bundle_node node.mjs
# The browser entry as one minified module (names kept): what a page without a bundler
# downloads, one request instead of five and ~10 KB less gzip (the glue and the
# snippets ship with their comments). The embedded wasm and errors.js stay apart.
# With the size build's glue in place of the release one's for the time of the bundle.
if [ -n "$small" ]; then
  cp "pkg/$name.js" "$small/release-glue.js"
  cp "$small/$name.js" "pkg/$name.js"
fi
node_modules/.bin/esbuild pkg/browser.js --bundle --format=esm --platform=browser --minify \
  --keep-names --external:"./$errors" --external:./hf_inference_wasm_bg.inline.js \
  --log-level=warning --outfile=pkg/browser.bundled.js
mv pkg/browser.bundled.js pkg/browser.js
if [ -n "$small" ]; then cp "$small/release-glue.js" "pkg/$name.js"; fi
cp js/proxy-node.mjs js/node-fetch.mjs js/proxy-workerd.js js/proxy.js js/proxy-state.js pkg/
bundle_node proxy-node.mjs
# The proxy's default entry (Deno, bundlers) the same way as browser.js: one minified
# module, errors.js apart; its wasm stays a file next to it (`new URL(…, import.meta.url)`).
node_modules/.bin/esbuild pkg/proxy.js --bundle --format=esm --platform=neutral --minify \
  --keep-names --external:"./$errors" --log-level=warning --outfile=pkg/proxy.bundled.js
mv pkg/proxy.bundled.js pkg/proxy.js
cp js/index.d.ts js/proxy.d.ts js/node-http.d.ts pkg/
# The load test (`hf-inference-wasm/loadtest`) and the `hf-inference-wasm` command.
cp js/loadtest.mjs js/loadtest.d.ts js/cli.mjs pkg/ && chmod +x pkg/cli.mjs
rm -f pkg/.gitignore pkg/package.json

cat > pkg/package.json <<JSON
{
  "name": "hf-inference-wasm",
  "version": "$version",
  "description": "Streaming client for Hugging Face Inference Providers and OpenAI-compatible servers, in WebAssembly: Node, browsers, bundlers, Cloudflare Workers.",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "types": "./index.d.ts",
  "main": "./node.mjs",
  "bin": { "hf-inference-wasm": "./cli.mjs" },
  "exports": {
    ".": {
      "types": "./index.d.ts",
      "workerd": "./workerd.js",
      "node": "./node.mjs",
      "browser": "./browser.js",
      "import": "./browser.js",
      "default": "./browser.js"
    },
    "./proxy": {
      "types": "./proxy.d.ts",
      "workerd": "./proxy-workerd.js",
      "node": "./proxy-node.mjs",
      "default": "./proxy.js"
    },
    "./node": {
      "types": "./node-http.d.ts",
      "node": "./node-http.mjs"
    },
    "./loadtest": {
      "types": "./loadtest.d.ts",
      "default": "./loadtest.mjs"
    },
    "./package.json": "./package.json"
  },
  "files": ["*.js", "*.mjs", "*.wasm", "*.d.ts", "snippets/"],
  "sideEffects": ["./node.mjs", "./browser.js", "./workerd.js", "./api.js", "./proxy-node.mjs", "./proxy-workerd.js", "./proxy.js"],
  "engines": { "node": ">=20" }
}
JSON

# --- what a published package carries besides code (issue 17): the package README, the
# licence texts, and the registry metadata (scripts/pkg-metadata.mjs).
cp js/README.md pkg/README.md
cp LICENSE-MIT LICENSE-APACHE pkg/
node scripts/pkg-metadata.mjs pkg/package.json
# --- end of the publishing files

# Tests and examples import the package by name, as users do.
mkdir -p node_modules
ln -sfn ../pkg node_modules/hf-inference-wasm

for wasm in "pkg/${name}_bg.wasm" pkg/hf_inference_proxy_bg.wasm; do
  raw=$(wc -c < "$wasm"); gz=$(gzip -9 -c "$wasm" | wc -c)
  echo "build-pkg: $wasm: $raw bytes raw, $gz gzip"
done
if [ -n "${browser_wasm:-}" ]; then
  echo "build-pkg: the browser's embedded client wasm (size build): $browser_wasm bytes raw, $browser_gz gzip"
fi
