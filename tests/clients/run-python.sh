#!/usr/bin/env bash
# The Python half of the real-client layer: pinned openai and huggingface_hub through the
# proxy (needs pkg/ built). Creates the venv first if it is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tests/clients/venv.sh
tests/clients/.venv/bin/python -c 'import openai, huggingface_hub, pytest; print(f"client versions: openai (python) {openai.__version__}, huggingface_hub {huggingface_hub.__version__}, pytest {pytest.__version__}")'
exec tests/clients/.venv/bin/python -m pytest -q -p no:cacheprovider tests/clients "$@"
