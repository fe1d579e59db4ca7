#!/usr/bin/env bash
# The prepared GPU check (docs/gpu.md): one run on a GPU machine that has python3 with torch 2.11 (the CUDA 13
# wheel), transformers, numpy and safetensors, and nothing to build with or download from.
#
#   scripts/gpu-check.sh --pack   here: builds fas and bench_encoder, then writes gpu-bundle/fas-gpu.tar.xz with
#                                 both binaries, the shared libraries they load other than LibTorch, CUDA's and
#                                 glibc's own (the GPU machine's torch wheel provides LibTorch and CUDA), and a
#                                 24-utterance slice of the tiny corpus (build/fixtures/tiny_corpus) to train on
#   scripts/gpu-check.sh          there, from the repository root: unpacks the bundle to /tmp and runs the
#                                 sections below, each under its own time limit, the whole within
#                                 FAS_GPU_CHECK_BUDGET seconds (450); a section that fails or runs out of time is
#                                 a row of the table, the others still run. Prints the table last and writes it,
#                                 the log and the raw timings under $OUT (default gpu-out/).
# FAS_GPU_CHECK_SECTIONS="a b" runs only those sections.
# Sections: doctor (fas doctor runs; the bf16 matmul ceiling), units (the unit tests that skip without a GPU:
# device placement, AdamW on CUDA against the CPU, CUDA generator states, a one-rank NCCL group), throughput (WavLM-base-plus and Whisper-large-v3
# encoders, fas against transformers, bf16), parity (every encoder family, CPU against GPU), train (a short run,
# and the same run stopped and resumed, compared), nccl (fas train --nproc 2, on a machine with 2 GPUs).
# Without a GPU the sections that need one say "skipped: no GPU" and the rest run on the CPU.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bundle=$root/gpu-bundle/fas-gpu.tar.xz
self=$root/scripts/gpu-check.sh

# ---------------------------------------------------------------- --pack (the build machine)
pack() {
  set -e
  flock /tmp/fas-ninja.lock ninja -C "$root/build" fas bench_encoder
  local stage
  stage=$(mktemp -d)
  trap "rm -rf '$stage'" EXIT
  mkdir -p "$stage/fas-gpu/bin" "$stage/fas-gpu/lib" "$stage/fas-gpu/corpus"
  flock /tmp/fas-ninja.lock ninja -C "$root/build" test_core test_engine bench_feature_store
  local bins=("$root/build/bin/fas" "$root/build/bin/bench_encoder" "$root/build/bin/bench_feature_store"
    "$root/build/bin/libfas_spm_shim.so"
    "$root/build/tests/unit/core/test_core" "$root/build/tests/unit/engine/test_engine")
  cp "${bins[@]}" "$stage/fas-gpu/bin/"
  # LibTorch, CUDA and the GPU driver come from the GPU machine (same torch version); glibc's core is the
  # machine's own (it is newer there, and a process cannot mix two).
  ldd "${bins[@]}" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
    grep -Ev '^(libtorch|libc10|libgomp|libcu|libnv|libnccl|libcudnn|libshm)' |
    grep -Ev '^(libc|libm|libpthread|libdl|librt|libutil|libresolv|ld-linux[^ ]*)\.so' |
    while read -r soname path; do cp -L "$path" "$stage/fas-gpu/lib/$soname"; done
  local corpus=$root/build/fixtures/tiny_corpus
  [ -f "$corpus/train.jsonl" ] || { echo "error: $corpus missing: build the tiny_corpus test fixture first" >&2; exit 1; }
  head -n 16 "$corpus/train.jsonl" >"$stage/fas-gpu/corpus/train.jsonl"
  head -n 8 "$corpus/dev.jsonl" >"$stage/fas-gpu/corpus/dev.jsonl"
  cat "$stage/fas-gpu/corpus/"*.jsonl | python3 -c '
import json, sys
for l in sys.stdin: print(json.loads(l)["audio"])' | while read -r wav; do
    mkdir -p "$stage/fas-gpu/corpus/$(dirname "$wav")"
    cp "$corpus/$wav" "$stage/fas-gpu/corpus/$wav"
  done
  mkdir -p "$root/gpu-bundle"
  tar -C "$stage" -cf - fas-gpu | xz -T2 -6 >"$bundle"
  local mib=$(($(stat -c %s "$bundle") / 1048576))
  echo "wrote $bundle: $mib MiB ($(ls "$stage/fas-gpu/lib" | wc -l) libraries, $(du -sm "$stage/fas-gpu" | cut -f1) MiB unpacked)"
  [ "$mib" -lt 45 ] || { echo "error: the bundle is over 45 MiB; it must travel with the working tree (64 MiB)" >&2; exit 1; }
}

# ---------------------------------------------------------------- helpers (the run)
json_escape() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/ /g' | tr '\n' ' '; }

# row SECTION CHECK RESULT VALUE GOAL: one row of the table.
row() {
  printf '{"section": "%s", "check": "%s", "result": "%s", "value": "%s", "goal": "%s"}\n' \
    "$(printf %s "$1" | json_escape)" "$(printf %s "$2" | json_escape)" "$(printf %s "$3" | json_escape)" \
    "$(printf %s "$4" | json_escape)" "$(printf %s "$5" | json_escape)" >>"$WORK/rows.jsonl"
}

log() { echo "$*" | tee -a "$LOG" >&2; }

# ---------------------------------------------------------------- sections (each its own process, under timeout)
section_doctor() {
  local out=$OUT/doctor.txt rc=0
  "$FAS" doctor >"$out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    row doctor "fas doctor" fail "exit $rc (doctor.txt)" "runs"
    return
  fi
  row doctor "fas doctor" pass "$(grep -E '^(libtorch|gpus|gpu 0|cuda runtime|cudnn|nccl):' "$out" | tr -s ' ' |
    paste -sd ';')" "runs"
  # The bf16 matmul ceiling: fas doctor's figure where it prints one, else the same product through torch.
  local peak
  peak=$(grep -E '^gpu matmul:' "$out" | grep -oE '[0-9]+(\.[0-9]+)? *TFLOP/s' | head -n1 | grep -oE '^[0-9.]+')
  if [ -n "$peak" ]; then
    echo "$peak" >"$WORK/peak_tflops"
    row doctor "bf16 matmul rate" info "$peak TFLOP/s (fas doctor)" ""
  elif [ "$GPUS" -gt 0 ]; then
    peak=$("$PY" "$GPU_BENCH/throughput.py" matmul) && echo "$peak" >"$WORK/peak_tflops"
    row doctor "bf16 matmul rate" info "${peak:-?} TFLOP/s (8192^3 through torch: fas doctor prints no bf16 figure)" ""
  else
    row doctor "bf16 matmul rate" "skipped: no GPU" "" ""
  fi
}

# The unit tests that need a GPU (each skips without one): what each binary ran, passed, failed and skipped.
section_units() {
  local t
  for t in "test_core Device.*" "test_engine FusedAdamW.*:RngState.*:DataParallel.*:GradScaler.*"; do
    read -r bin filter <<<"$t"
    local out=$WORK/$bin.txt rc=0
    FAS_SOURCE_DIR=$root "$WORK/fas-gpu/bin/$bin" --gtest_filter="$filter" >"$out" 2>&1 || rc=$?
    cat "$out" >>"$LOG"
    local passed failed skipped
    # One line a test ends with its time, "(12 ms)"; gtest's summary repeats the names without it.
    passed=$(grep -c '^\[       OK \] .* ms)$' "$out" || true)
    failed=$(grep -c '^\[  FAILED  \] .* ms)$' "$out" || true)
    skipped=$(grep -c '^\[  SKIPPED \] .* ms)$' "$out" || true)
    local names
    names=$(grep '^\[  FAILED  \] .* ms)$' "$out" | awk '{print $4}' | paste -sd ' ')
    row units "$bin $filter" "$([ "$rc" -eq 0 ] && echo pass || echo fail)" \
      "$passed passed, $failed failed, $skipped skipped${names:+: $names}" "all pass, none skipped on a GPU"
  done
}

section_throughput() {
  if [ "$GPUS" -eq 0 ]; then
    row throughput "WavLM-base-plus and Whisper-large-v3, fas vs transformers" "skipped: no GPU" "" ">= 1.3x"
    return
  fi
  local models=$WORK/models raw=$OUT/throughput.jsonl
  "$PY" "$GPU_BENCH/throughput.py" make "$models" || { row throughput "random weights" fail "see the log" ""; return; }
  local b=${FAS_GPU_BATCH:-16} reps=(--warmup 3 --repeats 10)
  # model input seconds
  local cases=("wavlm waveform 20" "whisper waveform 30" "whisper features 30")
  for c in "${cases[@]}"; do
    read -r model input seconds <<<"$c"
    local m=$models/$model
    log "throughput: $model ($input, $b x $seconds s): fas"
    # bf16 weights (as the transformers side), then float32 weights under autocast (fas extract's route)
    for cast in "" --autocast; do
      "$BENCH" --config "$m/config.json" --weights "$m/model.safetensors" --device cuda --precision bf16 $cast \
        --input "$input" --seconds "$seconds" --batch "$b" --threads 8 "${reps[@]}" |
        sed "s/^{/{\"model\": \"$model\", /" | tee -a "$raw"
    done
    log "throughput: $model ($input, $b x $seconds s): transformers"
    "$PY" "$GPU_BENCH/throughput.py" time --model "$m" --input "$input" --seconds "$seconds" --batch "$b" "${reps[@]}" |
      sed "s/^{/{\"model\": \"$model\", /" | tee -a "$raw"
  done
  "$PY" "$GPU_BENCH/throughput.py" summarize "$raw" "$(cat "$WORK/peak_tflops" 2>/dev/null || echo 0)" "$models" \
    >>"$WORK/rows.jsonl"
}

section_parity() {
  local dir=$WORK/parity device=cpu
  [ "$GPUS" -gt 0 ] && device=cuda
  "$PY" "$GPU_BENCH/parity.py" make "$dir" --device "$device" || { row parity "models" fail "see the log" ""; return; }
  for d in "$dir"/*/; do
    d=${d%/}
    local args=(encode --encoder "$d/config.json" --weights "$d/model.safetensors" --input "$d/input.safetensors")
    log "parity: $(basename "$d")"
    "$FAS" "${args[@]}" --out "$d/fas_cpu.safetensors" --device cpu --threads 8 || true
    [ "$GPUS" -gt 0 ] || continue
    "$FAS" "${args[@]}" --out "$d/fas_cuda_fp32.safetensors" --device cuda --no-tf32 || true
    "$FAS" "${args[@]}" --out "$d/fas_cuda_tf32.safetensors" --device cuda || true
    "$FAS" "${args[@]}" --out "$d/fas_cuda_bf16.safetensors" --device cuda --precision bf16 || true
  done
  "$PY" "$GPU_BENCH/parity.py" compare "$dir" && cat "$dir/rows.jsonl" >>"$WORK/rows.jsonl"
}

# The tiny SER model on the bundled corpus: constant learning rate, no warm-up, so that a run resumed at step
# k < N must end exactly where the run that went straight to N ended.
train_args() {
  local device=cpu
  [ "$GPUS" -gt 0 ] && device=cuda
  TRAIN_ARGS=(--config "$root/configs/models/acoustic_only.yaml" --set "data.root=$CORPUS" --set data.train=train.jsonl
    --set data.dev=dev.jsonl --set "eval=[]" --set data.batch_size=8 --set train.eval_every=0
    --set train.schedule=constant --set train.warmup=0 --set "data.cache_dir=$WORK/cache" --set "device=$device"
    --set train.deterministic=true)
}

section_train() {
  train_args
  local n=10 k=5 a=$WORK/train/a b=$WORK/train/b
  local where=$([ "$GPUS" -gt 0 ] && echo cuda || echo cpu)
  log "train: A to $n steps ($where)"
  "$FAS" train "${TRAIN_ARGS[@]}" --set train.max_steps=$n --run-dir "$a" --threads 8 ||
    { row train "run A, $n steps ($where)" fail "exit $? (see the log)" "runs"; return; }
  log "train: B to $k steps, then resumed to $n"
  "$FAS" train "${TRAIN_ARGS[@]}" --set train.max_steps=$k --run-dir "$b" --threads 8 &&
    "$FAS" train --run-dir "$b" --resume --set train.max_steps=$n --threads 8 ||
    { row train "run B, $k steps + resume to $n ($where)" fail "exit $? (see the log)" "runs"; return; }
  "$PY" - "$a/checkpoints/last/model.safetensors" "$b/checkpoints/last/model.safetensors" "$where" <<'PY' >>"$WORK/rows.jsonl"
import json, sys
from safetensors.torch import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
same = a.keys() == b.keys()
diff = max(((a[k].double() - b[k].double()).abs().max().item() for k in a if k in b), default=float("inf"))
bitwise = same and all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].equal(b[k]) for k in a)
print(json.dumps({"section": "train", "check": "10 steps vs 5 + resume to 10 (%s), final weights" % sys.argv[3],
                  "result": "pass" if bitwise else "fail",
                  "value": "bitwise equal" if bitwise else "max abs diff %.3g" % diff,
                  "goal": "bitwise equal"}))
PY
}

# The FAS head's epoch over a feature store (docs/feature_store.md's benchmark) on the device: 4 h of random bf16
# patch means of the paper's two encoder shapes, batches of 32, scaled to the paper's 60 h.
section_epoch() {
  if [ "$GPUS" -eq 0 ]; then
    row epoch "FAS head epoch from the store" "skipped: no GPU" "" ""
    return
  fi
  local line
  line=$("$WORK/fas-gpu/bin/bench_feature_store" --epoch-hours 4 --out "$WORK/epoch" --device cuda --threads 8 | tail -n1) ||
    { row epoch "FAS head epoch from the store" fail "see the log" ""; return; }
  echo "$line" >>"$LOG"
  "$PY" - "$line" <<'PY' >>"$WORK/rows.jsonl"
import json, sys
j = json.loads(sys.argv[1])
print(json.dumps({"section": "epoch", "check": "FAS head epoch from the store (cuda), 60 h scaled", "result": "info",
                  "value": "%d batches of %d over %g h in %.1f s (%.1f s waiting for reads); 60 h: %.1f s"
                           % (j["batches"], j["batch"], j["audio_hours"], j["epoch_seconds"], j["read_wait_seconds"],
                              j["epoch_seconds_60h"]),
                  "goal": ""}))
PY
}

# Mixed precision on the device: the same model under bf16 autocast and under fp16 with loss scaling.
section_precision() {
  train_args
  local where=$([ "$GPUS" -gt 0 ] && echo cuda || echo cpu) p
  for p in bf16 fp16; do
    local run=$WORK/train/$p
    if "$FAS" train "${TRAIN_ARGS[@]}" --set train.max_steps=10 --set train.precision=$p --run-dir "$run" --threads 8; then
      local last
      last=$(grep '"loss"' "$run/metrics.jsonl" | grep -v '"event"' | tail -n1 | grep -oE '"loss":[^,}]*' | cut -d: -f2)
      row train "10 steps, train.precision $p ($where)" pass "last training loss ${last:-?}" "runs, finite loss"
    else
      row train "10 steps, train.precision $p ($where)" fail "see the log" "runs, finite loss"
    fi
  done
}

section_nccl() {
  local gpus
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  if [ "${gpus:-0}" -lt 2 ]; then
    row nccl "fas train --nproc 2" "skipped (${gpus:-0} GPU)" "" "runs"
    return
  fi
  train_args
  local run=$WORK/train/nccl
  if "$FAS" train "${TRAIN_ARGS[@]}" --set train.max_steps=4 --nproc 2 --run-dir "$run" --threads 4 &&
    [ -f "$run/checkpoints/last/model.safetensors" ]; then
    row nccl "fas train --nproc 2 (cuda, NCCL), 4 steps" pass "checkpoint written" "runs"
  else
    row nccl "fas train --nproc 2 (cuda, NCCL), 4 steps" fail "see the log" "runs"
  fi
}

# ---------------------------------------------------------------- the run
run_all() {
  [ -f "$bundle" ] || { echo "error: $bundle missing: run scripts/gpu-check.sh --pack on the build machine first" >&2; exit 1; }
  export OUT=${OUT:-$root/gpu-out}
  export WORK=/tmp/fas-gpu-check
  rm -rf "$WORK" && mkdir -p "$WORK" "$OUT"
  export LOG=$OUT/gpu-check.log
  : >"$LOG"
  : >"$WORK/rows.jsonl"
  tar -C "$WORK" -xJf "$bundle"
  # The python that has torch and transformers: the machine's python3, else the project's venv.
  export PY=
  for p in python3 "$root/.venv/bin/python"; do
    if "$p" -c 'import torch, transformers, safetensors' 2>/dev/null; then PY=$(command -v "$p"); break; fi
  done
  [ -n "$PY" ] || { echo "error: no python with torch, transformers and safetensors" >&2; exit 1; }
  local torch_dir
  torch_dir=$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
  local libs=$WORK/fas-gpu/lib:$torch_dir/lib
  for d in "$(dirname "$torch_dir")"/nvidia/*/lib; do [ -d "$d" ] && libs=$libs:$d; done
  export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export FAS=$WORK/fas-gpu/bin/fas BENCH=$WORK/fas-gpu/bin/bench_encoder CORPUS=$WORK/fas-gpu/corpus
  export GPU_BENCH=$root/bench/gpu PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
  export GPUS
  GPUS=$("$PY" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0)
  log "gpu-check: $GPUS GPU(s), python $PY, torch $("$PY" -c 'import torch; print(torch.__version__)')"
  local budget=${FAS_GPU_CHECK_BUDGET:-450} start=$SECONDS
  # name seconds: the most each section may take (the whole check ends within the budget)
  local plan=("doctor 40" "units 40" "throughput 180" "train 100" "precision 60" "epoch 60" "parity 200" "nccl 60")
  for p in "${plan[@]}"; do
    read -r name limit <<<"$p"
    # FAS_GPU_CHECK_SECTIONS="doctor epoch": only those (a rerun of what changed, within a lease's minutes).
    if [ -n "${FAS_GPU_CHECK_SECTIONS:-}" ] && [[ " $FAS_GPU_CHECK_SECTIONS " != *" $name "* ]]; then continue; fi
    local left=$((budget - (SECONDS - start) - 10))
    [ "$limit" -lt "$left" ] || limit=$left
    if [ "$limit" -lt 15 ]; then
      row "$name" "section" "skipped: out of time" "" "within ${budget} s"
      continue
    fi
    local before t0=$SECONDS rc=0
    before=$(wc -l <"$WORK/rows.jsonl")
    log "=== $name (at most $limit s)"
    timeout -k 5 "$limit" "$self" --section "$name" >>"$LOG" 2>&1 || rc=$?
    log "=== $name: exit $rc after $((SECONDS - t0)) s"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      row "$name" "section" fail "timed out after $limit s (rows above are what finished)" "within $limit s"
    elif [ "$rc" -ne 0 ] && [ "$(wc -l <"$WORK/rows.jsonl")" -eq "$before" ]; then
      row "$name" "section" fail "exit $rc (see gpu-check.log)" "runs"
    fi
  done
  row total "wall time" info "$((SECONDS - start)) s" "< 480 s"
  cp "$WORK/rows.jsonl" "$OUT/rows.jsonl"
  python3 "$GPU_BENCH/report.py" "$WORK/rows.jsonl" >"$OUT/gpu-check.md"
  cat "$OUT/gpu-check.md"
}

case "${1:-}" in
  --pack) pack ;;
  --section) "section_$2" ;;
  "") run_all ;;
  *) echo "usage: scripts/gpu-check.sh [--pack]" >&2; exit 2 ;;
esac
