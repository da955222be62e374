#!/usr/bin/env bash
# Set up S3TA Lab on a fresh Debian/Ubuntu machine: Fashion-MNIST from apt, a .venv with the package.
#   bash scripts/setup.sh        # the app
#   bash scripts/setup.sh test   # the app and the test dependencies
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ -z "${FASHION_MNIST_DIR:-}" ]; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y dataset-fashion-mnist || { apt-get update && apt-get install -y dataset-fashion-mnist; }
  else sudo apt-get install -y dataset-fashion-mnist; fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
# torch is pinned: a looser spec pulls several GB of CUDA packages on CPU-only machines.
.venv/bin/pip install -q --disable-pip-version-check "torch==2.13.0"
if [ "${1:-}" = test ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e ".[test]"
else
  .venv/bin/pip install -q --disable-pip-version-check -e .
fi
