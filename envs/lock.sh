#!/usr/bin/env bash
# Resolve envs/requirements.in into the hashed locks (needs PyPI; run from anywhere):
#   envs/requirements.lock       CPU torch (the wheel PyTorch publishes on https://download.pytorch.org/whl/cpu)
#   envs/requirements-cuda.lock  PyPI's torch, a CUDA build, with the nvidia-* and triton wheels it needs
# Existing pins are kept (each lock constrains its own regeneration); UPGRADE=1 resolves afresh.
# TORCH_CPU_WHEELS names a folder holding the CPU torch wheel; without it, PyTorch's CPU index is used.
set -euo pipefail
cd "$(dirname "$0")"
UV_VERSION=0.13.9
TOOLS=../.tools
if ! test -x "$TOOLS/bin/uv"; then
    python3 -m venv "$TOOLS" && "$TOOLS/bin/pip" install -q "uv==$UV_VERSION"
fi
target=(--python-version 3.11 --python-platform x86_64-manylinux_2_28)
common=(--generate-hashes --custom-compile-command "envs/lock.sh" --no-strip-extras "${target[@]}")

compile() {  # compile <output> <extra uv options...>
    local out=$1; shift
    local keep=()
    if test -z "${UPGRADE:-}" && test -f "$out"; then keep=(-c "$out"); fi
    "$TOOLS/bin/uv" pip compile requirements.in "${common[@]}" "${keep[@]}" "$@" -o "$out.tmp"
    mv "$out.tmp" "$out"
}

if test -n "${TORCH_CPU_WHEELS:-}"; then
    cpu_source=(--find-links "$TORCH_CPU_WHEELS")
elif test -d /opt/wheels; then
    cpu_source=(--find-links /opt/wheels)
else
    cpu_source=(--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)
fi
compile requirements.lock "${cpu_source[@]}"
# The CUDA lock keeps every CPU pin but torch's, so the two differ only in torch and its GPU libraries.
grep -E '^[A-Za-z0-9_.-]+(\[[^]]*\])?==' requirements.lock | grep -v '^torch==' | sed -E 's/\[[^]]*\]//; s/ \\$//' > cpu-pins.tmp
trap 'rm -f cpu-pins.tmp' EXIT
UPGRADE=1 compile requirements-cuda.lock -c cpu-pins.tmp
# medmnist goes in without dependencies (its torchvision requirement would replace the pinned torch)
"$TOOLS/bin/uv" pip compile requirements-nodeps.in --no-deps "${common[@]}" -o requirements-nodeps.txt.tmp
mv requirements-nodeps.txt.tmp requirements-nodeps.txt
