#!/usr/bin/env bash
# Prints the LibTorch prefix the build uses (the folder holding share/cmake/Torch): $FAS_LIBTORCH when set, else the
# torch wheel of the project's venv ($FAS_VENV, default .venv). scripts/build.sh and scripts/fuzz.sh configure with it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${FAS_VENV:-$root/.venv}
if [ -n "${FAS_LIBTORCH:-}" ]; then
  [ -d "$FAS_LIBTORCH/share/cmake/Torch" ] ||
    { echo "error: FAS_LIBTORCH=$FAS_LIBTORCH has no share/cmake/Torch: point it at the unzipped libtorch folder" >&2; exit 1; }
  echo "$FAS_LIBTORCH"
  exit 0
fi
[ -x "$venv/bin/python" ] ||
  { echo "error: no virtual environment at $venv: run scripts/setup.sh first (or set FAS_LIBTORCH)" >&2; exit 1; }
# torch.utils.cmake_prefix_path is TORCH/share/cmake; the prefix is TORCH.
"$venv/bin/python" -c 'import os, torch.utils; print(os.path.dirname(os.path.dirname(torch.utils.cmake_prefix_path)))' 2>/dev/null ||
  { echo "error: the venv $venv has no torch: run scripts/setup.sh" >&2; exit 1; }
