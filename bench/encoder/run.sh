#!/usr/bin/env bash
# Forward time of a wav2vec2-base-sized encoder (random weights, one safetensors file for both sides): FAS
# (bench_encoder, C++) against torchaudio's wav2vec2_base() (peer_torchaudio.py), alternating in rounds, medians
# over every timed run, ratio = torchaudio / FAS (> 1: FAS is faster). Builds nothing: uses $FAS_BUILD_DIR/bin
# (default build/bin). Knobs: ROUNDS (3), REPEATS (3 a round), THREADS (2), SECONDS_LIST (1,10), BATCH (1,8).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${FAS_BUILD_DIR:-$root/build}/bin/bench_encoder
[ -x "$bin" ] || { echo "error: $bin not found; build the bench_encoder target first" >&2; exit 1; }
rounds=${ROUNDS:-3} repeats=${REPEATS:-3} threads=${THREADS:-2} seconds=${SECONDS_LIST:-1,10} batch=${BATCH:-1,8}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo '{"model_type": "wav2vec2"}' > "$work/config.json"  # HuggingFace's defaults = wav2vec2-base
/usr/bin/python3 "$here/peer_torchaudio.py" --weights "$work/w.safetensors" --make-weights
common=(--seconds "$seconds" --batch "$batch" --threads "$threads" --repeats "$repeats" --warmup 1)
for ((r = 1; r <= rounds; ++r)); do
  echo "round $r/$rounds" >&2
  # Each case line goes to the results and, as progress, to stderr.
  "$bin" --config "$work/config.json" --weights "$work/w.safetensors" "${common[@]}" | tee -a "$work/results.jsonl" >&2
  /usr/bin/python3 "$here/peer_torchaudio.py" --weights "$work/w.safetensors" "${common[@]}" |
    tee -a "$work/results.jsonl" >&2
done
/usr/bin/python3 - "$work/results.jsonl" "$threads" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
times = {}
for r in rows:
    times.setdefault((r["seconds"], r["batch"]), {}).setdefault(r["impl"], []).extend(r["ms"])
print("wav2vec2-base forward, %s threads, InferenceMode, median ms over every timed run" % sys.argv[2])
print("| audio | batch | FAS (C++) | torchaudio (Python) | ratio torchaudio/FAS |")
print("| --- | --- | --- | --- | --- |")
for (s, b), t in sorted(times.items()):
    ours, peer = statistics.median(t["fas"]), statistics.median(t["torchaudio"])
    print("| %g s | %d | %.1f ms | %.1f ms | %.2f |" % (s, b, ours, peer, peer / ours))
PY
