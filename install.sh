#!/usr/bin/env bash
# Set up the project in ./.venv: the CPU/GPU PyTorch pair, then this package with its test tools.
# Usage: ./install.sh            (idempotent; re-running only installs what is missing)
#        ./install.sh --radios   also pyadi-iio with pylibiio 0.25 (the PlutoSDR backend; needs Debian's libiio0)
# Optional radios: sudo apt-get install python3-soapysdr libiio0  (see README, "Attaching a radio")
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch and torchvision are always pinned together: an unpinned torchvision drags in another torch.
.venv/bin/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
extras=test
[ "${1:-}" = --radios ] && extras=test,pluto
.venv/bin/python -m pip install --quiet -e ".[$extras]"
# Debian's SoapySDR bindings live in the system site-packages; let the venv see them if present.
for d in /usr/lib/python3/dist-packages; do
  if [ -f "$d/SoapySDR.py" ]; then
    site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$d" > "$site/debian_soapysdr.pth"
  fi
done
echo "installed into $(pwd)/.venv"
