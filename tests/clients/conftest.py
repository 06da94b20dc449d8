"""Starts tests/clients/serve.mjs (the fixture server and one proxy per scenario) once per
session, and prints each real client's version in the report header."""

import json
import subprocess
from pathlib import Path

import huggingface_hub
import openai
import pytest

HERE = Path(__file__).resolve().parent


def pytest_report_header(config):
    return [
        f"client versions: openai (python) {openai.__version__}, "
        f"huggingface_hub {huggingface_hub.__version__}"
    ]


@pytest.fixture(scope="session")
def env():
    proc = subprocess.Popen(
        ["node", str(HERE / "serve.mjs")],
        cwd=HERE.parent.parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("tests/clients/serve.mjs did not start (is pkg/ built?)")
        yield json.loads(line)
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
