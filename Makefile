# The two commands of the README, and the steps they are made of.
.PHONY: demo demo-web test setup pkg bench clean

# Run the demo: stream a reply from the local OpenAI-compatible simulator (or, with
# HF_TOKEN set, from the Hugging Face router).
demo: setup pkg
	node examples/stream-node.mjs

# The chat page (www/) against the local simulator, until the proxy serves it.
demo-web: setup pkg
	node tests/browser/server.mjs --port 8080

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
