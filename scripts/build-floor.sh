#!/usr/bin/env bash
# Builds the per-call floor probe (bench/floor/, a measuring instrument for
# `make bench`) for Node into build/floor/, with the client's release profile.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
CARGO_TARGET_DIR=target/floor cargo build --quiet --release --target wasm32-unknown-unknown \
  --manifest-path bench/floor/Cargo.toml
rm -rf build/floor
wasm-bindgen --target web --no-typescript --out-dir build/floor \
  target/floor/wasm32-unknown-unknown/release/hf_inference_floor.wasm
. scripts/wasm-features.sh
# shellcheck disable=SC2086 # WASM_FEATURES is a list of flags
node_modules/.bin/wasm-opt -Oz --converge $WASM_FEATURES \
  build/floor/hf_inference_floor_bg.wasm -o build/floor/hf_inference_floor_bg.wasm
echo "build: build/floor/ ready"
