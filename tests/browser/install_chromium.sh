#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the report's browser test, when it is missing.
# Called by .ci/run (as tests/cluster/slurm_local.sh installs SLURM); safe to run twice.
set -euo pipefail
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "install_chromium: not root or no apt-get; the browser test will be skipped" >&2
  exit 0
fi
echo "install_chromium: installing Debian's chromium with apt-get" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
