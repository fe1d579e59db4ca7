#!/usr/bin/env bash
# The benchmark suite: FAS against PyTorch 2.11 / transformers 5.25 (the project's venv, the wheel whose LibTorch FAS
# links) doing the same work on this machine in the same run, the two sides alternating, each with the same thread
# count, shapes and weights (one model folder written by transformers' save_pretrained, read by both). Prints the table (medians, ratio PyTorch / FAS, peak memory, FLOPs
# and the fraction of this CPU's matmul throughput that `fas doctor` measures) and writes bench/out/results.md.
#   1 encoder     wav2vec2-base forward, 1 s / 10 s, batch 1 / 8 (bench/encoder/run.sh; peer transformers, SDPA)
#   2 head        FAS head training step on cached features, batch 256 (bench/head; peer torch.nn)
#   3 train_step  training step of configs/models/fas.yaml, batch 16 (bench/train_step; peer torch.nn + transformers)
#   4 extract     `fas extract` over a manifest, audio seconds per second, decoding included (bench/extract)
#   5             peak resident memory of 1-3 (and 4)
#   data          decode / resample / batch (bench/data/run.sh), shown as it reports itself
# Builds nothing: uses the binaries in $FAS_BUILD_DIR/bin (default build/bin); build them first with
#   cmake --build build --target fas bench_encoder bench_head bench_train_step bench_data
# Knobs (environment): THREADS (2), ROUNDS (3 alternations), STEPS (10 timed steps a round), WARMUP (2),
# EXTRACT_SECONDS (120), ONLY (comma list of encoder,head,train_step,extract,data; default all),
# PEER_MALLOC=tuned (run the peers with the allocator settings FAS applies itself, for comparison).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${FAS_BUILD_DIR:-$root/build}
bin=$build/bin
out=${FAS_BENCH_OUT:-$here/out}
threads=${THREADS:-2} rounds=${ROUNDS:-3} steps=${STEPS:-10} warmup=${WARMUP:-2}
extract_seconds=${EXTRACT_SECONDS:-120} only=${ONLY:-encoder,head,train_step,extract,data}
py=${FAS_VENV:-$root/.venv}/bin/python
export HF_HUB_OFFLINE=1

wanted() { [[ ",$only," == *",$1,"* ]]; }
for b in fas bench_encoder bench_head bench_train_step bench_data; do
  [ -x "$bin/$b" ] || { echo "error: $bin/$b not found; build it first (see the top of $0)" >&2; exit 1; }
done
peer_env=()
if [ "${PEER_MALLOC:-}" = tuned ]; then
  # The same as FAS's InitRuntime: no mmap for large blocks, no trimming (docs/design.md, "The machine, measured").
  peer_env=(env MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=$work/results.jsonl
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
note() { echo "[$(date +%H:%M:%S) load $(loadavg)] $*" >&2; }
mark() { printf '{"bench": "%s", "event": "%s", "load": "%s"}\n' "$1" "$2" "$(loadavg)" >> "$results"; }

note "fas doctor (matmul throughput)"
"$bin/fas" doctor --threads "$threads" > "$work/doctor.txt"
gflops=$(sed -n 's/^matmul: *\([0-9.]*\) GFLOP.*/\1/p' "$work/doctor.txt")
onednn_gflops=$(sed -n 's/^onednn matmul: *\([0-9.]*\) GFLOP.*/\1/p' "$work/doctor.txt")
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
printf '{"meta": true, "threads": %s, "rounds": %s, "steps": %s, "matmul_gflops": %s, "onednn_matmul_gflops": %s, "cpu": "%s", "cores": %s, "date": "%s", "peer_malloc": "%s"}\n' \
  "$threads" "$rounds" "$steps" "${gflops:-0}" "${onednn_gflops:-0}" "$cpu" "$(nproc)" "$(date -u +%Y-%m-%dT%H:%MZ)" "${PEER_MALLOC:-default}" >> "$results"

# wav2vec2-base (random weights, HuggingFace's names and config.json) shared by benchmarks 1 and 4.
"$py" "$root/bench/encoder/peer_transformers.py" --model "$work/w2v" --make-weights

if wanted encoder; then
  note "1 encoder: bench/encoder/run.sh"
  mark encoder start
  FAS_BUILD_DIR=$build ROUNDS=$rounds THREADS=$threads "$root/bench/encoder/run.sh" > "$work/encoder.md"
  for side in fas torch; do
    note "1 encoder: peak memory ($side), 10 s x 8"
    common=(--seconds 10 --batch 8 --threads "$threads" --repeats 1 --warmup 0)
    if [ $side = fas ]; then
      "$py" "$here/common/measure.py" bench=encoder_rss impl=fas -- "$bin/bench_encoder" \
        --config "$work/w2v/config.json" --weights "$work/w2v/model.safetensors" "${common[@]}" >> "$results"
    else
      "$py" "$here/common/measure.py" bench=encoder_rss impl=torch -- "${peer_env[@]}" "$py" \
        "$root/bench/encoder/peer_transformers.py" --model "$work/w2v" "${common[@]}" >> "$results"
    fi
  done
  mark encoder end
fi

if wanted head; then
  note "2 head: preparing"
  mkdir -p "$work/head"
  "$bin/bench_head" --prepare "$work/head"
  mark head start
  for ((r = 1; r <= rounds; ++r)); do
    note "2 head: round $r/$rounds"
    "$bin/bench_head" --dir "$work/head" --threads "$threads" --warmup "$warmup" --steps "$steps" >> "$results"
    "${peer_env[@]}" "$py" "$here/head/peer_torch.py" --dir "$work/head" --threads "$threads" --warmup "$warmup" \
      --steps "$steps" >> "$results"
  done
  mark head end
fi

if wanted train_step; then
  note "3 train_step: preparing"
  "$bin/bench_train_step" --prepare "$work/train_step" --config "$root/configs/models/fas.yaml" \
    --sentences "$root/data/synth/sentences" 2> "$work/train_step_prepare.log"
  mark train_step start
  for ((r = 1; r <= rounds; ++r)); do
    note "3 train_step: round $r/$rounds"
    "$bin/bench_train_step" --dir "$work/train_step" --config "$root/configs/models/fas.yaml" --threads "$threads" \
      --warmup "$warmup" --steps "$steps" >> "$results"
    "${peer_env[@]}" "$py" "$here/train_step/peer_torch.py" --dir "$work/train_step" --threads "$threads" \
      --warmup "$warmup" --steps "$steps" >> "$results"
  done
  mark train_step end
fi

if wanted extract; then
  note "4 extract: writing ${extract_seconds} s of audio"
  "$py" "$here/extract/make_corpus.py" --dir "$work/extract" --hf-config "$work/w2v/config.json" \
    --weights "$work/w2v/model.safetensors" --seconds "$extract_seconds"
  audio=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["audio_seconds"])' "$work/extract/corpus/info.json")
  mark extract start
  for ((r = 1; r <= rounds; ++r)); do
    note "4 extract: round $r/$rounds"
    rm -rf "$work/extract/cache" "$work/extract/peer_out"
    "$py" "$here/common/measure.py" bench=extract impl=fas audio_seconds="$audio" -- \
      "$bin/fas" extract --config "$work/extract/extract.yaml" --threads "$threads" >> "$results"
    "$py" "$here/common/measure.py" bench=extract impl=torch audio_seconds="$audio" -- "${peer_env[@]}" "$py" \
      "$here/extract/peer_transformers.py" --corpus "$work/extract/corpus" --model "$work/w2v" \
      --out "$work/extract/peer_out" --threads "$threads" >> "$results"
  done
  mark extract end
fi

if wanted data; then
  note "data: bench/data/run.sh"
  mark data start
  FAS_BENCH_OUT=$out/data "$root/bench/data/run.sh" "$build" > "$work/data.txt"
  mark data end
fi

mkdir -p "$out"
"$py" "$here/summarize.py" --work "$work" --out "$out/results.md" --command "${BENCH_COMMAND:-bench/run.sh}"
