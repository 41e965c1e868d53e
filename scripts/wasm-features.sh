# The wasm features every wasm-opt run enables, sourced by build.sh and
# build-worker.sh: those wasm-bindgen 0.2.130 output uses (DESIGN.md §6).
WASM_FEATURES="--enable-reference-types --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals"
