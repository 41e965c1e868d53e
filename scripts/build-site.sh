#!/usr/bin/env bash
# Assembles build/site/, the static assets the proxy worker serves: the demo
# page from www/, the built package as build/site/pkg/, and the sample image.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f pkg/index.browser.js ] || { echo "build-site: pkg/ is missing: run make build" >&2; exit 1; }
rm -rf build/site
mkdir -p build/site
cp -r www/. build/site/
cp -r pkg build/site/pkg
rm -f build/site/pkg/package.json build/site/pkg/README.md build/site/pkg/LICENSE build/site/pkg/index.node.js build/site/pkg/index.workerd.js build/site/pkg/index.d.ts
cp examples/cat.jpg build/site/cat.jpg
echo "build: build/site/ ready"
