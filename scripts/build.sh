#!/usr/bin/env bash
# Configures and builds FAS (Release) into build/ (or $FAS_BUILD_DIR). Extra arguments go to cmake's configure step.
#   FAS_LIBTORCH=PREFIX   a LibTorch of your own (the unzipped libtorch folder, or any prefix with
#                         share/cmake/Torch); default: the torch wheel in the project's venv (scripts/setup.sh)
#   FAS_TARGETS="a b"     build only these targets (scripts/demo.sh builds just `fas`)
#   FAS_JOBS=N            parallel compile jobs (default: all cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FAS_BUILD_DIR:-$root/build}
jobs=${FAS_JOBS:-$(nproc)}
torch_prefix=$("$root/scripts/torch_prefix.sh")

launcher=()
if command -v ccache >/dev/null; then
  # Precompiled headers need these sloppiness settings to be cached (ccache manual, "Precompiled headers").
  export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
  # Paths relative to the root, so that several build folders share cache entries.
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
generator=()
command -v ninja >/dev/null && [ ! -f "$build/Makefile" ] && generator=(-G Ninja)
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE="${FAS_BUILD_TYPE:-Release}" \
  -DFAS_TORCH_PREFIX="$torch_prefix" "${launcher[@]}" "$@" >/dev/null
targets=()
for t in ${FAS_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j "$jobs" "${targets[@]}"
