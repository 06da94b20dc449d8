#!/usr/bin/env bash
# Runs every test layer (see DESIGN.md) and ends with one line: "N passed, N failed".
#   lint     cargo fmt --check, cargo clippy (native and wasm32), -D warnings
#   native   cargo test --workspace (the crate, its wire and chunk crates)
#   wasm     wasm-bindgen-test through real fetch, in Node, headless Chromium and headless Firefox
#   js       Node's test runner against pkg/, imported as users import it
#   clients  real third-party SDKs through the proxy: openai-node and the AI SDK (node
#            --test), Python openai and huggingface_hub (pytest, in tests/clients/.venv)
# Each layer's runner prints its own summary; the counts are added up at the end.
set -uo pipefail
cd "$(dirname "$0")/.."

log_dir=$(mktemp -d)
passed=0
failed=0
status=0
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$log_dir"; }
trap cleanup EXIT

# Add up "test result: ok. N passed; M failed" (cargo, wasm-bindgen-test) and
# "# pass N" / "# fail M" (node --test) from a layer's log.
count() {
  local log=$1 p f
  p=$(grep -hoE '[0-9]+ passed; [0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
  f=$(grep -hoE '[0-9]+ passed; [0-9]+ failed' "$log" | awk '{s+=$3} END {print s+0}')
  p=$((p + $(grep -hoE '^# pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')))
  f=$((f + $(grep -hoE '^# fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')))
  # pytest's last line: "3 failed, 18 passed, 1 error in 4.2s" (parts in any order).
  local py
  py=$(grep -hE '^=* ?[0-9]+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)(, [0-9]+ [a-z]+)* in [0-9.]+s' "$log" || true)
  p=$((p + $(echo "$py" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')))
  f=$((f + $(echo "$py" | grep -oE '[0-9]+ (failed|errors?)' | awk '{s+=$1} END {print s+0}')))
  passed=$((passed + p))
  failed=$((failed + f))
}

# run NAME CMD...: run a layer, show its output, count its tests; a layer that fails
# without a failed test (a build error, say) counts as one failure.
run() {
  local name=$1; shift
  local log="$log_dir/$name.log"
  echo "=== $name: $*"
  local start=$SECONDS
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local before=$failed
  count "$log"
  if [ "$rc" -ne 0 ]; then
    status=1
    [ "$failed" -eq "$before" ] && failed=$((failed + 1))
    echo "=== $name FAILED (exit $rc) in $((SECONDS - start)) s"
  else
    echo "=== $name ok in $((SECONDS - start)) s"
  fi
}

run fmt cargo fmt --all -- --check
run clippy-native cargo clippy --workspace --all-targets --quiet -- -D warnings
run clippy-wasm cargo clippy --workspace --all-targets --target wasm32-unknown-unknown --quiet -- -D warnings
# Each wasm entry is built with only its own feature (build-pkg.sh): lint those builds too.
run clippy-wasm-client cargo clippy --lib --target wasm32-unknown-unknown --quiet --no-default-features --features client -- -D warnings
run clippy-wasm-proxy cargo clippy --lib --target wasm32-unknown-unknown --quiet --no-default-features --features proxy -- -D warnings
run clippy-wasm-decoder cargo clippy --lib --target wasm32-unknown-unknown --quiet --no-default-features --features decoder -- -D warnings
run native cargo test --workspace --quiet
run build-pkg bash scripts/build-pkg.sh

# One fixture server for the wasm layer; its URL is compiled into the wasm tests.
node tests/fixture-server/server.mjs --port 0 > "$log_dir/fixture.out" 2>&1 &
server_pid=$!
for _ in $(seq 1 50); do grep -q '^FIXTURE_URL=' "$log_dir/fixture.out" && break; sleep 0.1; done
export FIXTURE_URL=$(sed -n 's/^FIXTURE_URL=//p' "$log_dir/fixture.out")
if [ -z "$FIXTURE_URL" ]; then
  echo "the fixture server did not start:"; cat "$log_dir/fixture.out"; status=1; failed=$((failed + 1))
else
  run wasm-node cargo test --target wasm32-unknown-unknown --test wasm_fetch
  # Each browser layer names its driver: with both on PATH the runner may pick either.
  if command -v chromedriver >/dev/null; then
    run wasm-chromium env WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER="$(command -v chromedriver)" \
      cargo test --target wasm32-unknown-unknown --test wasm_fetch
  else
    echo "=== wasm-chromium FAILED: chromedriver is not installed (scripts/setup.sh --browser installs it)"
    status=1; failed=$((failed + 1))
  fi
  # The runner rejects --quiet when it drives Firefox.
  if command -v geckodriver >/dev/null && command -v firefox-esr >/dev/null; then
    run wasm-firefox env WASM_BINDGEN_USE_BROWSER=1 GECKODRIVER="$(command -v geckodriver)" \
      cargo test --target wasm32-unknown-unknown --test wasm_fetch
  else
    echo "=== wasm-firefox FAILED: geckodriver or firefox-esr is not installed (scripts/setup.sh --browser installs both)"
    status=1; failed=$((failed + 1))
  fi
fi
kill "$server_pid" 2>/dev/null; server_pid=""

run js node --test --test-concurrency=1 --test-timeout=300000 tests/js/
run clients-node node --test --test-concurrency=1 --test-timeout=120000 tests/clients/node-clients.test.mjs
run clients-python bash tests/clients/run-python.sh

echo
echo "$passed passed, $failed failed"
exit $status
