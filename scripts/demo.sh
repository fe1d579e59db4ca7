#!/usr/bin/env bash
# The main job on the embedded default data: set up, build, then run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
fas="${FAS_BUILD_DIR:-$root/build}/bin/fas"
"$fas" doctor
