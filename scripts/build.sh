#!/usr/bin/env bash
# Builds the npm package into pkg/: the crate with its JS API (feature `js`)
# through wasm-pack (release, stable Rust), optimised with the npm binaryen's
# wasm-opt (Debian's breaks wasm-bindgen output), one minified module
# (esbuild) of the wasm-bindgen glue, its JS snippets (the InferenceError and
# InferenceStream classes) and the public API, and the entries, types and
# docs from pkg-template/.
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
rm -rf "$out"
# Panic locations name source files: with the registry's path remapped, no
# path of the build machine goes into the package. Its own target directory
# keeps the flags from invalidating the test builds' caches.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
export RUSTFLAGS="--remap-path-prefix=$cargo_home/registry/src=crates --remap-path-prefix=$PWD=hf-inference-wasm"
CARGO_TARGET_DIR=target/pkg wasm-pack build --release --target web --no-typescript --no-pack \
  --out-dir "$out" --out-name hf_inference_wasm . -- --features js >/dev/null 2>build/wasm-pack.log \
  || { cat build/wasm-pack.log >&2; exit 1; }

rm -rf pkg
mkdir -p pkg
# The imports from the glue and the exports under short names (in the glue,
# in place, and in a copy of the wasm: the wasm-pack one keeps its names for
# twiggy).
node scripts/short-names.mjs "$out/hf_inference_wasm_bg.wasm" "$out/hf_inference_wasm.js" "$out/short-names.wasm"
. scripts/wasm-features.sh
# -ocimfs=10: a function with one caller is inlined only when it is small.
# wasm-opt's default inlines every such function, however large, and gzip
# compresses the large functions that makes less well: 3.3 KB more of the
# gzipped client than 10 (docs/architecture.md, "Where the bytes go").
wasm_opt() {
  # shellcheck disable=SC2086 # WASM_FEATURES and the extra flags are lists
  node_modules/.bin/wasm-opt -Oz -ocimfs=10 --converge --low-memory-unused $WASM_FEATURES "$@"
}
# Twice, with the functions ordered for gzip in between (order-functions.mjs):
# the second run writes the reordered code as the first did. The first keeps
# the target features section, which tells the second (and the reordering)
# that the wasm uses multi-value.
wasm_opt "$out/short-names.wasm" -o "$out/optimised.wasm"
node scripts/order-functions.mjs "$out/optimised.wasm" "$out/ordered.wasm"
wasm_opt --strip-producers --strip-target-features "$out/ordered.wasm" -o pkg/hf_inference_wasm_bg.wasm

# The glue imports the classes as wasm-bindgen snippets; the public API
# re-exports those very modules, so `instanceof InferenceError` holds.
snippets=$(cd "$out" && find snippets -name inference_error.js -path '*pkg-template*' | head -n 1)
[ -n "$snippets" ] || { echo "build: no inference_error.js snippet in $out" >&2; exit 1; }
snippets=$(dirname "$snippets")
sed "s#@SNIPPETS@#./${snippets}#g" pkg-template/api.js > "$out/api.js"
node_modules/.bin/esbuild "$out/api.js" --bundle --format=esm --minify --target=es2022 \
  --legal-comments=none --sourcemap --log-level=warning --outfile=pkg/hf_inference_wasm.js
cp pkg-template/index.*.js pkg-template/index.d.ts pkg-template/package.json pkg-template/README.md pkg/
cp LICENSE pkg/
echo "build: pkg/ ready ($(wc -c < pkg/hf_inference_wasm_bg.wasm) bytes of wasm)"
