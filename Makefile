# The two commands of the README, and the steps they are made of.
.PHONY: demo demo-cli demo-usage loadtest test setup pkg bench clean

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

pkg:
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
