#!/usr/bin/env bash
# Builds the npm package into pkg/: the wasm (wasm-pack, release), optimised
# with the npm binaryen's wasm-opt (Debian's breaks wasm-bindgen output), one
# minified module (esbuild) of the wasm-bindgen glue and the JavaScript client,
# and the entries, types and docs from pkg-template/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

crate_version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
package_version=$(node -p 'require("./pkg-template/package.json").version')
if [ "$crate_version" != "$package_version" ]; then
  echo "build: Cargo.toml version $crate_version differs from pkg-template/package.json $package_version" >&2
  exit 1
fi

mkdir -p build
out=build/wasm-pack
# The browser wasm: no std, core and alloc rebuilt for size, panics trap
# without a message (scripts/browser-toolchain.sh). Its own target directory
# keeps the stable builds' caches intact.
. scripts/browser-toolchain.sh
RUSTUP_TOOLCHAIN=$BROWSER_TOOLCHAIN CARGO_TARGET_DIR=target/browser \
  RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none" \
  wasm-pack build --release --target web --no-typescript --no-pack \
  --out-dir "$out" --out-name hf_inference_wasm . -- -Zbuild-std=core,alloc >/dev/null 2>build/wasm-pack.log \
  || { cat build/wasm-pack.log >&2; exit 1; }

rm -rf pkg
mkdir -p pkg
. scripts/wasm-features.sh
# shellcheck disable=SC2086 # WASM_FEATURES is a list of flags
node_modules/.bin/wasm-opt -Oz --converge --low-memory-unused --strip-producers --strip-target-features \
  $WASM_FEATURES "$out/hf_inference_wasm_bg.wasm" -o pkg/hf_inference_wasm_bg.wasm
# The glue and the client's modules become one minified module (with a
# source map for debugging); the entries stay as written.
stage=build/js
rm -rf "$stage"
mkdir -p "$stage"
cp "$out/hf_inference_wasm.js" pkg-template/api.js pkg-template/client.js \
  pkg-template/inference_error.js pkg-template/inference_stream.js "$stage/"
node_modules/.bin/esbuild "$stage/api.js" --bundle --format=esm --minify --target=es2022 \
  --legal-comments=none --sourcemap --log-level=warning --outfile=pkg/hf_inference_wasm.js
cp pkg-template/index.*.js pkg-template/index.d.ts pkg-template/package.json pkg-template/README.md pkg/
cp LICENSE pkg/
echo "build: pkg/ ready ($(wc -c < pkg/hf_inference_wasm_bg.wasm) bytes of wasm)"
