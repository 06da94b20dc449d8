#!/usr/bin/env bash
# Installs what building and testing need, skipping what is already there:
#   the wasm32 target, wasm-bindgen-cli pinned to the lockfile's wasm-bindgen,
#   npm dev dependencies (npm ci), the pinned Python clients of the real-client tests
#   (tests/clients/.venv), and with --browser Debian's chromium + chromedriver.
set -euo pipefail
cd "$(dirname "$0")/.."

browser=no
[ "${1:-}" = "--browser" ] && browser=yes

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "setup: installing wasm-bindgen-cli $want (found: ${have:-none}); this takes a few minutes"
  cargo install wasm-bindgen-cli --version "$want" --force
fi

if [ ! -d node_modules/binaryen ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
  # npm ci empties node_modules, including the link build-pkg makes to pkg/.
  [ -d pkg ] && ln -sfn ../pkg node_modules/hf-inference-wasm
fi

# The real-client test layer's Python clients, pinned, in tests/clients/.venv.
bash tests/clients/venv.sh

if [ "$browser" = yes ] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v firefox-esr >/dev/null; }; then
  echo "setup: installing Debian's chromium, chromium-driver and firefox-esr"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium chromium-driver firefox-esr
fi

# geckodriver (the wasm tests' WebDriver for Firefox): Debian has none and npm's downloads
# a binary, so it is built from crates.io, pinned (about 3 minutes).
geckodriver_version=0.37.1
if [ "$browser" = yes ] && [ "$(geckodriver --version 2>/dev/null | awk 'NR==1 {print $2}')" != "$geckodriver_version" ]; then
  echo "setup: installing geckodriver $geckodriver_version (cargo install, a few minutes)"
  cargo install geckodriver --version "$geckodriver_version" --locked --force
fi
