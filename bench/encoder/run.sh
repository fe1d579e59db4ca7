#!/usr/bin/env bash
# Forward time of a wav2vec2-base-sized encoder (random weights, one model folder written by transformers'
# save_pretrained and read by both sides): FAS (bench_encoder, C++) against transformers' Wav2Vec2Model with SDPA
# attention (peer_transformers.py, the project's venv), alternating in rounds, medians over every timed run,
# ratio = transformers / FAS (> 1: FAS is faster). Builds nothing: uses $FAS_BUILD_DIR/bin (default build/bin).
# Knobs: ROUNDS (3), REPEATS (3 a round), THREADS (2), SECONDS_LIST (1,10), BATCH (1,8).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${FAS_BUILD_DIR:-$root/build}/bin/bench_encoder
[ -x "$bin" ] || { echo "error: $bin not found; build the bench_encoder target first" >&2; exit 1; }
py=${FAS_VENV:-$root/.venv}/bin/python
export HF_HUB_OFFLINE=1
rounds=${ROUNDS:-3} repeats=${REPEATS:-3} threads=${THREADS:-2} seconds=${SECONDS_LIST:-1,10} batch=${BATCH:-1,8}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" "$here/peer_transformers.py" --model "$work/model" --make-weights  # Wav2Vec2Config's defaults: wav2vec2-base
common=(--seconds "$seconds" --batch "$batch" --threads "$threads" --repeats "$repeats" --warmup 1)
for ((r = 1; r <= rounds; ++r)); do
  echo "round $r/$rounds" >&2
  # Each case line goes to the results and, as progress, to stderr.
  "$bin" --config "$work/model/config.json" --weights "$work/model/model.safetensors" "${common[@]}" |
    tee -a "$work/results.jsonl" >&2
  "$py" "$here/peer_transformers.py" --model "$work/model" "${common[@]}" | tee -a "$work/results.jsonl" >&2
done
"$py" - "$work/results.jsonl" "$threads" <<'PY'
import json, statistics, sys
import torch, transformers
rows = [json.loads(l) for l in open(sys.argv[1])]
times = {}
for r in rows:
    times.setdefault((r["seconds"], r["batch"]), {}).setdefault(r["impl"], []).extend(r["ms"])
print("wav2vec2-base forward, %s threads, InferenceMode, median ms over every timed run" % sys.argv[2])
print("| audio | batch | FAS (C++) | transformers %s / torch %s | ratio transformers/FAS |"
      % (transformers.__version__, torch.__version__.split("+")[0]))
print("| --- | --- | --- | --- | --- |")
for (s, b), t in sorted(times.items()):
    ours, peer = statistics.median(t["fas"]), statistics.median(t["transformers"])
    print("| %g s | %d | %.1f ms | %.1f ms | %.2f |" % (s, b, ours, peer, peer / ours))
PY
