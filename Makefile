# The two commands of the README, and the steps they are made of.
.PHONY: demo test setup pkg bench clean

# Run the demo: stream a reply from the local OpenAI-compatible simulator (or, with
# HF_TOKEN set, from the Hugging Face router).
demo: setup pkg
	node examples/stream-node.mjs

# Run every test layer; ends with "N passed, N failed".
test:
	bash scripts/setup.sh --browser
	bash scripts/test-all.sh

setup:
	bash scripts/setup.sh

pkg:
	bash scripts/build-pkg.sh

clean:
	rm -rf pkg target
