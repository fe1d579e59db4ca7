#!/usr/bin/env bash
# Installs every Debian package FAS needs. Idempotent: packages already present are skipped quickly.
# Works as root or through sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  libtorch-dev libopenblas0-openmp libgloo-dev
  libsentencepiece-dev sentencepiece
  libsndfile1-dev libsoxr-dev
  libyaml-cpp-dev libspdlog-dev libcli11-dev nlohmann-json3-dev libgtest-dev
  flite flite1-dev espeak-ng libespeak-ng-dev
  festival festival-dev festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  libpocketsphinx-dev pocketsphinx-en-us
  python3-torch python3-torchaudio python3-numpy python3-sklearn python3-matplotlib
  clang libclang-rt-14-dev sox
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

# LibTorch links libblas.so.3; make sure the alternative points at OpenBLAS (trap 2 in environment.md).
blas=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/{print $2}')
case "$blas" in
  *openblas*) ;;
  *)
    cand=$(update-alternatives --list libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep openblas | head -n1 || true)
    [ -n "$cand" ] && "${sudo_cmd[@]}" update-alternatives --set libblas.so.3-x86_64-linux-gnu "$cand" >/dev/null
    ;;
esac
echo "setup: all Debian packages present"
