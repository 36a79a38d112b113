#!/usr/bin/env bash
# Download, here (where the package registry is reachable), the files that
# bench/device/run.sh installs on the GPU device, which has no network: the
# wheels and source archives of what its image lacks, pinned by environment.yml
# (the list and why each is carried: bench/device/recipe.py, CARRIED).
#
#   bash bench/device/fetch.sh                       # -> build/device-wheels (Python 3.12)
#   bash bench/device/fetch.sh --python 3.11 --dest build/device-wheels-py311
#
# Then name the folder in the device call's carry: run(carry=['build/device-wheels'], ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || command -v python3 )}
exec "$PY" bench/device/recipe.py fetch "$@"
