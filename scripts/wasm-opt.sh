# Sourced by build-pkg.sh and build-core-wasm.sh: `optimize FILE` runs binaryen's wasm-opt
# (the npm `binaryen` dev dependency) over FILE in place, the one set of passes every
# built wasm gets. Without wasm-opt it says so and leaves FILE as it is.
optimize() {
  if [ -x node_modules/.bin/wasm-opt ]; then
    node scripts/low-memory-check.mjs "$1"
    # -Oz, then flatten and re-run the relooper over every function's control flow, then
    # -Oz twice more: about 1.7 KB less gzip than one -Oz, for a few seconds more.
    # --low-memory-unused lets it fold constant offsets into loads and stores (−1.8 KB
    # raw, −0.9 KB gzip of the client's wasm): Rust lays the 1 MiB stack out first,
    # growing down from 1 MiB (the stack pointer's initial value), so the low 1 KB is
    # only reached by a stack within 1 KB of overflowing; scripts/low-memory-check.mjs
    # stops the build if a module ever puts data or its stack there.
    node_modules/.bin/wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
      --low-memory-unused -Oz --flatten --rereloop -Oz -Oz "$1" -o "$1.opt"
    mv "$1.opt" "$1"
  else
    echo "wasm-opt not found (run npm ci); $1 is not size-optimized" >&2
  fi
}
