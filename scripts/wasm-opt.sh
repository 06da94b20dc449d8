# Sourced by build-pkg.sh and build-core-wasm.sh: `optimize FILE` runs binaryen's wasm-opt
# (the npm `binaryen` dev dependency) over FILE in place, the one set of passes every
# built wasm gets. Without wasm-opt it says so and leaves FILE as it is.
optimize() {
  if [ -x node_modules/.bin/wasm-opt ]; then
    # -Oz, then flatten and re-run the relooper over every function's control flow, then
    # -Oz twice more: about 1.7 KB less gzip than one -Oz, for a few seconds more.
    node_modules/.bin/wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
      -Oz --flatten --rereloop -Oz -Oz "$1" -o "$1.opt"
    mv "$1.opt" "$1"
  else
    echo "wasm-opt not found (run npm ci); $1 is not size-optimized" >&2
  fi
}
