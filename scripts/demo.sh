#!/usr/bin/env bash
# The main job on the embedded default data: set up (Debian packages and the venv with LibTorch), build `fas`,
# synthesise the default conflict corpus (skipped when a complete one is there), train and evaluate FAS and its
# baselines (configs/suites/synth.yaml, one seed), then print the conflict table and the main table and say where
# the plots and runs are.
#   scripts/demo.sh                 everything
#   FAS_DEMO_SKIP_SETUP=1           skip scripts/setup.sh (packages already installed)
#   FAS_DEMO_CORPUS=DIR             corpus folder (default corpus/synth); FAS_DEMO_RUNS=DIR runs folder (runs/synth)
# A second run skips the corpus and every finished model, so an interrupted demo continues where it stopped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ "${FAS_DEMO_SKIP_SETUP:-0}" != 1 ]; then
  "$root/scripts/setup.sh"
fi
# Only the binary the demo runs; the tests, fuzzers and benchmarks build with scripts/test.sh and bench/.
FAS_TARGETS=fas "$root/scripts/build.sh"
fas="${FAS_BUILD_DIR:-$root/build}/bin/fas"
"$fas" doctor

corpus=${FAS_DEMO_CORPUS:-corpus/synth}
runs=${FAS_DEMO_RUNS:-runs/synth}
start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start )) s"; }

# fas synth writes synth_report.json after every WAV and manifest: its presence means the corpus is complete.
if [ -f "$corpus/synth_report.json" ]; then
  echo "== corpus: $corpus is complete; not synthesised again"
else
  echo "== corpus: synthesising the default conflict corpus into $corpus (about 10 minutes on 2 cores)"
  rm -rf "$corpus"
  "$fas" synth --config configs/data/synth.yaml --out "$corpus"
  echo "== corpus done after $(elapsed)"
fi

echo "== training and evaluating the synth suite into $runs"
# One intra-op thread a training process: the models are small, and with 2 threads on 2 busy cores OpenMP waits
# for the other thread at every op (measured: 35 s instead of 3 s for 44 steps of semantic_only under load).
"$fas" reproduce configs/suites/synth.yaml --runs-dir "$runs" --set "data.root=$corpus" --train-threads "${FAS_DEMO_THREADS:-1}"
echo
echo "== demo finished in $(elapsed) after set-up and build"
echo "tables: $runs/tables/ (md, tex, csv); plots: $runs/plots/*.png; one run folder a model: $runs/<model>/seed42/"
echo "next: fas predict --run $runs/fas/seed42 some.wav   |   fas eval --run $runs/fas/seed42 --manifest M.jsonl"
