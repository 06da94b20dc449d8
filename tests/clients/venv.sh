#!/usr/bin/env bash
# Creates tests/clients/.venv with the exact pins of tests/clients/requirements.txt, once:
# it does nothing when the venv already holds them (a stamp keeps the requirements' hash).
set -euo pipefail
cd "$(dirname "$0")"
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat .venv/.requirements-sha256 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "setup: creating tests/clients/.venv (pinned openai, huggingface_hub, pytest)"
python3 -m venv --clear .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
echo "$want" > .venv/.requirements-sha256
