#!/usr/bin/env bash
# Installs what is missing (Debian packages), builds, and runs the whole test suite.
#   scripts/test.sh             Release build in build/
#   scripts/test.sh --sanitize  address + undefined-behaviour sanitizers, in build-sanitize/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    *) echo "error: unknown option $arg (use --sanitize or nothing)" >&2; exit 1 ;;
  esac
done
"$root/scripts/setup.sh"
if [ "$sanitize" = 1 ]; then
  export FAS_BUILD_DIR=${FAS_BUILD_DIR:-$root/build-sanitize}
  export FAS_BUILD_TYPE=RelWithDebInfo
  "$root/scripts/build.sh" -DFAS_SANITIZE=ON
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}  # undefined behaviour fails the test
else
  export FAS_BUILD_DIR=${FAS_BUILD_DIR:-$root/build}
  "$root/scripts/build.sh"
fi
cd "$FAS_BUILD_DIR"
# One ctest entry per test binary; two at a time on two cores (a LibTorch process takes 0.65 s to start). The bounded libFuzzer
# runs (label fuzz) need their own clang + sanitizer build of the tree, too long for every run on two cores: they
# run with FAS_TEST_FUZZ=1 (or `ctest -L fuzz`); the ordinary run replays every committed fuzz input instead.
exclude=()
[ "${FAS_TEST_FUZZ:-0}" = 1 ] || exclude=(-LE fuzz)
ctest --output-on-failure -j "${FAS_TEST_JOBS:-2}" --timeout 1500 "${exclude[@]}"
