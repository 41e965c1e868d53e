# hf-inference-wasm: `make demo` and `make test` do all the set-up themselves.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

TARBALL := build/hf-inference-wasm.tgz
NODE_TEST := node --test --test-concurrency=1

.PHONY: setup build build-worker pack lint unit test-upstream test-js test-browser test-vite test-worker size test demo bench bench-soak bench-proxy clean

setup:
	@bash scripts/setup.sh

build: setup
	@bash scripts/build.sh

build-worker: setup
	@bash scripts/build-worker.sh

pack: build
	@rm -f build/hf-inference-wasm-*.tgz
	@npm pack ./pkg --pack-destination build --silent >/dev/null
	@mv build/hf-inference-wasm-*.tgz $(TARBALL)

lint: setup
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings
	cargo clippy --all-targets --features worker -- -D warnings
	cargo clippy --all-targets --target wasm32-unknown-unknown --features worker -- -D warnings

unit: setup
	cargo test --features worker

test-upstream: setup
	$(NODE_TEST) tests/upstream/

test-js: pack
	HF_PKG_TARBALL=$(CURDIR)/$(TARBALL) $(NODE_TEST) tests/js/

test-browser: build
	$(NODE_TEST) tests/browser/

test-vite: pack
	HF_PKG_TARBALL=$(CURDIR)/$(TARBALL) $(NODE_TEST) tests/vite/

test-worker: pack build-worker
	HF_PKG_TARBALL=$(CURDIR)/$(TARBALL) $(NODE_TEST) tests/worker/

size: build
	@node scripts/size.mjs

test: lint unit test-upstream test-js test-browser test-vite test-worker size

# Benchmarks print figures and write them under build/; they are not tests.
bench: bench-soak bench-proxy

bench-soak: build
	@node scripts/bench-soak.mjs

bench-proxy: build-worker
	@node scripts/bench-proxy.mjs

demo: build
	@node scripts/demo.mjs

clean:
	rm -rf build pkg target
