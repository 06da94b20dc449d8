#!/usr/bin/env bash
# Builds the streaming decoder core alone (cargo feature `decoder`: `ChatDecoder` over
# `decode::StreamDecoder`, nothing of the client or proxy) the way build-pkg.sh builds the
# shipped wasm (wasm-bindgen, the same wasm-opt passes), compiled for size throughout (the
# `size` profile; the shipped builds compile the wire and chunk crates for speed), into
# target/core-wasm/.
# Never shipped: benches/size.mjs measures it for issue 12's "decoder core ≤ 10 KB".
# Prints one line: "build-core-wasm: PATH: N bytes raw, M gzip".
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/core-wasm
rm -rf "$out" && mkdir -p "$out"
# The `size` profile: release with the wire and chunk crates compiled for size too (Cargo.toml).
cargo build --lib --target wasm32-unknown-unknown --profile size --quiet \
  --no-default-features --features decoder
wasm-bindgen --target web --weak-refs --omit-default-module-path --out-dir "$out" \
  --out-name decoder "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/size/hf_inference_wasm.wasm"
. scripts/wasm-opt.sh
optimize "$out/decoder_bg.wasm"
raw=$(wc -c < "$out/decoder_bg.wasm"); gz=$(gzip -9 -c "$out/decoder_bg.wasm" | wc -c)
echo "build-core-wasm: $out/decoder_bg.wasm: $raw bytes raw, $gz gzip"
