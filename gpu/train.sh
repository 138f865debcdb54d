#!/usr/bin/env bash
# The one prepared GPU run: on the lent GPU machine (the device tool's `run`), or here on the CPU.
#   bash gpu/train.sh CONFIG MINUTES [PACK.tar]
# CONFIG: a configuration file or a shipped example name (models/configs/); MINUTES: the training budget,
# counted from the start of the training process (leave a minute of a 10-minute call for the rest);
# PACK: the training pack (default gpu/pack/train_pack_small.tar, made by gpu/prepare.sh).
# Environment: OUT (where the results go; the device tool sets it; default runs/gpu), RESUME (a checkpoint
# to continue, e.g. models/weights/generative-cbr48.pt: a generative model then needs no TAEF2 files),
# PYTHON (default python3), JSCC_WEIGHTS_DIR (default gpu/weights, the LPIPS trunk gpu/prepare.sh wrote),
# BENCHMARK (default 1: on CUDA, also time the configuration with benchmarks/models.py: OUT/models.json).
# Steps: install the carried wheels (gpu/wheels/), unpack the pack, `ota train --minutes` from memory
# (bf16 autocast and channels_last on CUDA), then gpu/collect.py writes OUT/last.pt, OUT/log.csv and
# OUT/gpu_run.json; on CUDA then benchmarks/models.py (training img/s, coding times of 256x256 and 768x512
# images; about a minute) writes OUT/models.json. Bad arguments: one line on stderr, exit status 2.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "gpu/train.sh: error: $*" >&2; exit 2; }
[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: bash gpu/train.sh CONFIG MINUTES [PACK.tar]"
config=$1
minutes=$2
pack=${3:-gpu/pack/train_pack_small.tar}
out=${OUT:-runs/gpu}
py=${PYTHON:-python3}
{ [[ $minutes =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] && awk -v m="$minutes" 'BEGIN { exit !(m > 0) }'; } \
  || die "MINUTES must be a positive number of minutes, got '$minutes'"
[ -f "$config" ] || [ -f "models/configs/$config.toml" ] \
  || die "$config: no such configuration file, nor a shipped example ($(ls models/configs | sed 's/\.toml$//' | paste -sd ' ' -))"
[ -f "$pack" ] || die "$pack: no such training pack (make it with bash gpu/prepare.sh and carry gpu/pack)"
tar tf "$pack" >/dev/null 2>&1 || die "$pack: not a tar archive (expected the training pack train_pack_small.tar)"
[ -z "${RESUME:-}" ] || [ -f "$RESUME" ] || die "RESUME=$RESUME: no such checkpoint"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if compgen -G "gpu/wheels/*.whl" >/dev/null; then
  "$py" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --target "$work/site" gpu/wheels/*.whl
  export PYTHONPATH="$work/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export JSCC_WEIGHTS_DIR=${JSCC_WEIGHTS_DIR:-$PWD/gpu/weights}

mkdir -p "$work/data" "$out"
tar xf "$pack" -C "$work/data"
data=$(find "$work/data" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -n "$data" ] || die "$pack: holds no folder of images"
echo "gpu/train.sh: training $config for $minutes min on $(find "$data" -type f | wc -l) files of $pack" \
     "(bsds500/val, the validation split, left out)"
fast=()  # bf16 autocast and NHWC layout where there is a GPU; fp32 on the CPU
[ "$("$py" -c 'import torch; print(torch.cuda.is_available())')" = True ] && fast=(--precision bf16 --channels-last)
"$py" -m ota.cli train --config "$config" ${RESUME:+--resume "$RESUME"} --data "$data" --out "$work/run" \
    --minutes "$minutes" --in-memory "${fast[@]}" --no-progress
"$py" gpu/collect.py "$work/run" "$out" --pack "$pack"
if [ ${#fast[@]} -gt 0 ] && [ "${BENCHMARK:-1}" = 1 ]; then
  JSCC_TRAIN_DIR="$data" "$py" benchmarks/models.py --out "$out" --configs "$config" --devices cuda
fi
