#!/usr/bin/env bash
# Remake the synthetic captures of this folder with the shipped default model (see README.md here).
# Run from anywhere after ./install.sh; each capture's metadata records how it was made.
set -euo pipefail
cd "$(dirname "$0")/.."
ota=.venv/bin/ota
make() {  # name, then the simulate options that make it
  local name=$1
  shift
  "$ota" simulate --channel ofdm --out "out/captures/$name" --save-capture "captures/$name.sigmf-meta" "$@"
}
make awgn-10db --profile awgn --snr 10 --seed 1
make lab-10db-ci16 --profile lab --snr 10 --seed 2 --capture-datatype ci16_le
make lab-20db --profile lab --snr 20 --seed 3
make tdl-c-15db-frame-lost --profile tdl-c --snr 15 --seed 4 --frame-symbols 40 --drop-frame 4
