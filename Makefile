# The two commands of the README, and the steps they are made of.
.PHONY: demo demo-cli demo-usage test setup pkg bench clean

# Run the demo: the auth proxy and the chat page on http://127.0.0.1:8080/www/. Offline
# (the local simulator) without HF_TOKEN; live (the Hugging Face router) with it.
demo: setup pkg
	node scripts/demo-server.mjs --port $${PORT:-8080}

# Stream one reply in the terminal (simulator, or the router with HF_TOKEN).
demo-cli: setup pkg
	node examples/stream-node.mjs

# A batch of 20 requests against the local simulator: per-request usage, cost, latency table.
demo-usage: setup pkg
	node examples/usage-batch.mjs

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
