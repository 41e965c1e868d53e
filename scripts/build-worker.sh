#!/usr/bin/env bash
# Builds the proxy worker into build/worker/: the crate with the `worker`
# feature, bound by wasm-bindgen (with a state reset so the entry can recover
# from a trap), optimised by the npm binaryen's wasm-opt, and the entry module.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

mkdir -p build
cargo build --release --target wasm32-unknown-unknown --features worker --quiet
rm -rf build/worker
wasm-bindgen --target web --no-typescript --experimental-reset-state-function \
  --out-dir build/worker --out-name hf_inference_worker \
  target/wasm32-unknown-unknown/release/hf_inference_wasm.wasm
. scripts/wasm-features.sh
# shellcheck disable=SC2086 # WASM_FEATURES is a list of flags
node_modules/.bin/wasm-opt -Oz $WASM_FEATURES \
  build/worker/hf_inference_worker_bg.wasm -o build/worker/hf_inference_worker_bg.wasm
cp src/worker/entry.js build/worker/entry.js
echo "build: build/worker/ ready ($(wc -c < build/worker/hf_inference_worker_bg.wasm) bytes of wasm)"
