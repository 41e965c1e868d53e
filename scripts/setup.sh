#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine that
# already has the Rust toolchain (rustup, cargo), Node 20 and npm.
#
# Idempotent: every step checks first and prints either
# "setup: X present" or "setup: installing X". Run it as root (apt-get).
#
#   bash scripts/setup.sh
set -euo pipefail

cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
# Nothing may download a browser of its own: tests use Debian's chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# Binaries installed by `cargo install`.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { printf 'setup: %s\n' "$*"; }

# Waits while another process runs the same install (e.g. a background
# `cargo install` started by someone else), instead of starting a duplicate.
# Patterns are anchored on the program name so that a shell whose command line
# merely mentions the command does not count.
wait_for_other() {
  local pattern=$1 waited=0
  while pgrep -f -- "$pattern" >/dev/null 2>&1; do
    if [ "$waited" -eq 0 ]; then
      say "waiting for a running '$pattern' to finish"
    fi
    sleep 5
    waited=$((waited + 5))
    if [ "$waited" -ge 1200 ]; then
      say "gave up waiting for '$pattern' after ${waited}s" >&2
      return 1
    fi
  done
}

# --- Rust target and components ------------------------------------------------

# Outputs are captured first: with pipefail, `cmd | grep -q` can fail on SIGPIPE.
installed_targets=$(rustup target list --installed)
if grep -qx 'wasm32-unknown-unknown' <<<"$installed_targets"; then
  say "wasm32-unknown-unknown target present"
else
  say "installing wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

installed_components=$(rustup component list --installed)
for component in rustfmt clippy; do
  if grep -q "^${component}" <<<"$installed_components"; then
    say "$component present"
  else
    say "installing $component"
    rustup component add "$component"
  fi
done

# --- wasm-bindgen-cli, same version as the wasm-bindgen crate in Cargo.lock -----

if [ ! -f Cargo.lock ]; then
  say "generating Cargo.lock"
  cargo generate-lockfile
fi

# The `version = ` line after `name = "wasm-bindgen"` in Cargo.lock.
wb_version=$(awk '
  /^\[\[package\]\]/ { found = 0 }
  /^name = "wasm-bindgen"$/ { found = 1; next }
  found && /^version = / { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock)
if [ -z "$wb_version" ]; then
  echo "setup: no wasm-bindgen package in Cargo.lock" >&2
  exit 1
fi

wait_for_other "^[^ ]*cargo install wasm-bindgen-cli"
wb_installed=$(wasm-bindgen --version 2>/dev/null || true)
if [ "$wb_installed" = "wasm-bindgen ${wb_version}" ]; then
  say "wasm-bindgen-cli ${wb_version} present"
else
  say "installing wasm-bindgen-cli ${wb_version}"
  # No --locked: the locked tree asks for a crate version the registry mirror lacks.
  cargo install wasm-bindgen-cli --version "$wb_version" --force
fi

# --- wasm-pack -------------------------------------------------------------------

wait_for_other "^[^ ]*cargo install wasm-pack"
if command -v wasm-pack >/dev/null 2>&1; then
  say "wasm-pack present"
else
  say "installing wasm-pack"
  cargo install wasm-pack
fi

# --- Chromium (Debian's; Playwright drives it through playwright-core) -------------

wait_for_other "^[^ ]*apt-get "
if command -v chromium >/dev/null 2>&1; then
  say "chromium present"
else
  say "installing chromium"
  apt-get update -o DPkg::Lock::Timeout=600
  apt-get install -y -o DPkg::Lock::Timeout=600 chromium
fi

# --- npm dev packages (binaryen's wasm-opt, playwright-core, vite) ----------------

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dev packages"
  npm ci --no-audit --no-fund
else
  say "npm dev packages present"
fi
