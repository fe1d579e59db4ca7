#!/usr/bin/env bash
# Data-loading benchmark: FAS (bench_data) and the torchaudio peer on the same generated WAV files.
# Usage: bench/data/run.sh [BUILD_DIR] [SECONDS_OF_AUDIO_PER_RATE]   (default build/, 600 s)
# Prints audio seconds decoded per wall-clock second per core (x real time per core).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${FAS_BUILD_DIR:-$root/build}}
seconds=${2:-600}
out=${FAS_BENCH_OUT:-$root/bench/out/data}
bin=$build/bin/bench_data
[ -x "$bin" ] || cmake --build "$build" --target bench_data
mkdir -p "$out"
results=$out/results.tsv
"$bin" "$out" "$seconds" "$(nproc)" >"$results"
/usr/bin/python3 "$root/bench/data/peer_torchaudio.py" "$out" >>"$results"
printf '%-6s %-30s %8s %8s %16s\n' who stage "rate" threads "x realtime/core"
sort -t$'\t' -k3,3n -k2,2 -k1,1 "$results" | awk -F'\t' '{printf "%-6s %-30s %8s %8s %16s\n", $1, $2, $3, $4, $5}'
