#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time:  scripts/fuzz.sh TARGET SECONDS
#   TARGET: config | safetensors | hf_config | manifest | audio   (or `all`, each for SECONDS)
# Builds with clang, -fsanitize=fuzzer,address,undefined, in build-fuzz/. New inputs that raise coverage are
# kept in build-fuzz/corpus/TARGET; a crash is written to build-fuzz/crashes/ and the script exits non-zero —
# copy it into tests/fuzz/corpus/fuzz_TARGET/ once fixed, so the ordinary test suite replays it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
build=${FAS_FUZZ_BUILD_DIR:-$root/build-fuzz}
targets=(config safetensors hf_config manifest audio torch_pickle)
[ "$target" = all ] && run=("${targets[@]}") || run=("$target")
for t in "${run[@]}"; do
  [[ " ${targets[*]} " == *" $t "* ]] || { echo "error: unknown fuzz target '$t' (one of: ${targets[*]}, all)" >&2; exit 1; }
done
export CCACHE_BASEDIR=$root CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
torch_prefix=$("$root/scripts/torch_prefix.sh")
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DFAS_TORCH_PREFIX="$torch_prefix" -DFAS_FUZZ=ON -DFAS_SANITIZE=ON >/dev/null
build_targets=()
for t in "${run[@]}"; do build_targets+=("fuzz_$t"); done
cmake --build "$build" -j "${FAS_JOBS:-$(nproc)}" --target "${build_targets[@]}" >"$build/fuzz-build.log" 2>&1 ||
  { echo "error: fuzz build failed; see $build/fuzz-build.log" >&2; exit 1; }
for t in "${run[@]}"; do
  bin="$build/tests/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "error: $bin was not built (is its module there?)" >&2; exit 1; }
  mkdir -p "$build/corpus/$t" "$build/crashes"
  # A finding is this run's: libFuzzer's exit status, or a new file in crashes/ (earlier ones stay there until
  # someone deletes them, and must not fail later runs).
  before=$(ls "$build/crashes" | grep "^$t-" || true)
  echo "fuzz: $t for ${seconds}s"
  rc=0
  # halt_on_error: undefined behaviour is a finding (its input saved), not a line lost in the log.
  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$build/crashes/${t}-" "$build/corpus/$t" "$root/tests/fuzz/corpus/fuzz_$t" 2>&1 |
    { grep -E "^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)|runtime error" || true; } ||
    rc=$?
  [ "$rc" = 0 ] && [ "$(ls "$build/crashes" | grep "^$t-" || true)" = "$before" ] ||
    { echo "error: fuzz_$t found a crash (exit $rc): $build/crashes" >&2; exit 1; }
done
