# The two commands of the README, and the steps they are made of.
.PHONY: demo demo-worker demo-cli demo-usage loadtest test setup pkg pkg-fresh bench clean

# Run the demo: the auth proxy and the chat page on http://127.0.0.1:8080/www/ (PORT= to
# change). Offline (the local simulator) without HF_TOKEN; live (the Hugging Face router, or
# HF_ROUTER_URL) with it.
demo: setup pkg-fresh
	node scripts/demo-server.mjs --port $${PORT:-8080}

# The same page with the proxy as a Cloudflare Worker, run locally on workerd (Miniflare).
demo-worker: setup pkg-fresh
	node worker/dev.mjs --port $${PORT:-8080}

# pkg/ only when something it is built from changed since the last build (`make pkg`
# always rebuilds). pkg/package.json is written last by build-pkg.sh: it dates the build.
PKG_SOURCES := $(shell find src js -type f 2>/dev/null) Cargo.toml Cargo.lock build.rs scripts/build-pkg.sh
pkg-fresh: pkg/package.json
pkg/package.json: $(wildcard $(PKG_SOURCES))
	bash scripts/build-pkg.sh

# Stream one reply in the terminal (simulator, or the router with HF_TOKEN).
demo-cli: setup pkg-fresh
	node examples/stream-node.mjs

# A batch of 20 requests against the local simulator: per-request usage, cost, latency table.
demo-usage: setup pkg-fresh
	node examples/usage-batch.mjs

# Load-test the demo's offline stack (simulator behind the proxy): steps of concurrency 1-16,
# a table, target/loadtest/report.{json,html}. More options: make loadtest ARGS="--requests 32".
loadtest: setup pkg
	node scripts/loadtest-demo.mjs $(ARGS)

# Run every test layer; ends with "N passed, N failed".
test:
	bash scripts/setup.sh --browser
	bash scripts/test-all.sh

setup:
	bash scripts/setup.sh

# Build the npm package into pkg/ (installing the toolchain first on a fresh machine).
pkg: setup
	bash scripts/build-pkg.sh

# Benchmarks (benches/README.md): a Markdown report on stdout, figures only, never a
# pass/fail. Builds pkg/ only if it is missing, installs the benchmark-only peers.
bench: setup
	@[ -f pkg/hf_inference_wasm_bg.wasm ] || bash scripts/build-pkg.sh
	@[ -e node_modules/hf-inference-wasm ] || ln -sfn ../pkg node_modules/hf-inference-wasm
	@{ [ -d benches/node_modules/eventsource-parser ] && [ ! benches/package-lock.json -nt benches/node_modules/.package-lock.json ]; } \
		|| npm ci --prefix benches --no-audit --no-fund
	node benches/run.mjs

clean:
	rm -rf pkg target
