# Sourced by build-pkg.sh and build-core-wasm.sh: `optimize FILE` runs binaryen's wasm-opt
# (the npm `binaryen` dev dependency) over FILE in place, the one set of passes every
# built wasm gets. Without wasm-opt it says so and leaves FILE as it is.
# WASM_OPT_KEEP_NAMES=1 keeps the name section (benches/profile.mjs --named: the same code
# as shipped, with function names).
optimize() {
  if [ -x node_modules/.bin/wasm-opt ]; then
    node scripts/low-memory-check.mjs "$1"
    # -Oz, then flatten and re-run the relooper over every function's control flow, then
    # -Oz twice more: about 1.7 KB less gzip than one -Oz, for a few seconds more. The
    # flatten and relooper a second time, after the first -Oz has shrunk what they work
    # on, and -Oz repeated at the end until it changes nothing (--converge): gzip of the
    # release client 143,966 → 143,691 B, the browser's size build 139,304 → 139,059, the
    # proxy 90,605 → 89,845 (raw −0.3, −0.3, −1.2 KB), for ~25 s more per wasm.
    # --low-memory-unused lets it fold constant offsets into loads and stores (−1.8 KB
    # raw, −0.9 KB gzip of the client's wasm): Rust lays the 1 MiB stack out first,
    # growing down from 1 MiB (the stack pointer's initial value), so the low 1 KB is
    # only reached by a stack within 1 KB of overflowing; scripts/low-memory-check.mjs
    # stops the build if a module ever puts data or its stack there.
    # --one-caller-inline-max-function-size 20: wasm-opt otherwise inlines every function
    # that has one caller, however big, into it (the client's constructor became one
    # 14 KB function, the decoder's event handler 26 KB). Kept apart, they gzip ~4 KB
    # smaller (the client: 150.6 → 146.1 KB; raw +5.6 KB), and the first request
    # compiles less: Node and browsers compile each wasm function lazily, on its first
    # call, and a big function is compiled whole even for the few paths a call takes
    # (the client's first request compiled 137.7 KB of function bodies; 111.9 KB now,
    # `node --trace-wasm-compilation-times`). Decode throughput is unchanged.
    # --strip-producers --strip-target-features: the toolchain's two custom sections
    # (its versions and the features it compiled with), which no runtime reads: 265 bytes
    # raw, 0.2 KB gzip of each wasm.
    node_modules/.bin/wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
      --low-memory-unused --one-caller-inline-max-function-size 20 \
      -Oz --flatten --rereloop -Oz --flatten --rereloop -Oz -Oz --converge \
      --strip-producers --strip-target-features ${WASM_OPT_KEEP_NAMES:+-g} "$1" -o "$1.opt"
    mv "$1.opt" "$1"
  else
    echo "wasm-opt not found (run npm ci); $1 is not size-optimized" >&2
  fi
}

# `optimize_again FILE`: one more round of optimize's flatten, rereloop and -Oz twice over
# a FILE optimize has done, in place. The proxy's wasm gets it (scripts/build-pkg.sh): 0.4
# KB less gzip for a few seconds more. The client's would gain 0.3 KB, left for when its
# decode throughput is measured with it.
optimize_again() {
  if [ -x node_modules/.bin/wasm-opt ]; then
    node_modules/.bin/wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
      --low-memory-unused --one-caller-inline-max-function-size 20 \
      --flatten --rereloop -Oz -Oz --strip-producers --strip-target-features "$1" -o "$1.opt"
    mv "$1.opt" "$1"
  fi
}
