#!/usr/bin/env bash
# Data-loading benchmark: FAS (bench_data) and the Python peer (soundfile + soxr, the project's venv) on the same
# generated WAV files.
# Usage: bench/data/run.sh [BUILD_DIR] [SECONDS_OF_AUDIO_PER_RATE]   (default build/, 1200 s)
# Prints audio seconds processed per CPU second (x real time per core) and per wall-clock second.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${FAS_BUILD_DIR:-$root/build}}
seconds=${2:-1200}
out=${FAS_BENCH_OUT:-$root/bench/out/data}
bin=$build/bin/bench_data
[ -x "$bin" ] || cmake --build "$build" --target bench_data
mkdir -p "$out"
results=$out/results.tsv
"$bin" "$out" "$seconds" "$(nproc)" >"$results"
"${FAS_VENV:-$root/.venv}/bin/python" "$root/bench/data/peer_python.py" "$out" >>"$results"
printf '%-6s %-30s %6s %8s %18s %14s\n' who stage rate threads "x realtime per CPU" "x realtime wall"
sort -t$'\t' -k3,3n -k2,2 -k1,1 "$results" | awk -F'\t' '{printf "%-6s %-30s %6s %8s %18s %14s\n", $1, $2, $3, $4, $5, $6}'
