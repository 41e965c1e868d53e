# The toolchain of the browser wasm's release build, sourced by setup.sh and
# build.sh. A pinned nightly: rebuilding core and alloc for size with
# `-Z build-std` and `-C panic=immediate-abort` drops the panic and
# formatting machinery the precompiled standard library keeps (1.5 KB of the
# gzipped budget; docs/architecture.md). Everything else (tests, clippy, the
# proxy) builds with stable.
BROWSER_TOOLCHAIN=nightly-2026-10-29
