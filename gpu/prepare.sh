#!/usr/bin/env bash
# Prepare the one GPU run (gpu/train.sh) here, in git-ignored folders that the device tool carries:
#   gpu/pack/train_pack_small.tar   the training pack without its bsds500/val images (the validation split
#                                   is never trained on, so it does not travel: 4.0 MB less)
#   gpu/wheels/                     the wheels of gpu/wheels.txt (packages the GPU image lacks)
#   gpu/weights/alexnet_features.pth  the LPIPS trunk in float16 (4.9 MB instead of 9.9, loaded into
#                                   float32 layers: the 64 MiB tree has no room for the float32 file)
# then check that the tree that would travel stays under 64 MiB (gpu/travel_size.py; exit status 1 if not).
#   bash gpu/prepare.sh [PACK.tar] [WEIGHTS_DIR]
#   (defaults ../shared/packs/train_pack_small.tar and $JSCC_WEIGHTS_DIR, else ../shared/weights)
# Environment: PREPARE_INTO (default gpu; the folders are made under it), NO_DOWNLOAD=1 (use the wheels
# already there: no PyPI), PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "gpu/prepare.sh: error: $*" >&2; exit 2; }
pack=${1:-../shared/packs/train_pack_small.tar}
weights=${2:-${JSCC_WEIGHTS_DIR:-../shared/weights}}
into=${PREPARE_INTO:-gpu}
PY=${PYTHON:-.venv/bin/python}
[ -f "$pack" ] || die "$pack: no such training pack (expected ../shared/packs/train_pack_small.tar)"
tar tf "$pack" >/dev/null 2>&1 || die "$pack: not a tar archive"
[ -f "$weights/alexnet_features.pth" ] || die "$weights/alexnet_features.pth: no such file (the LPIPS trunk)"
mkdir -p "$into/pack" "$into/wheels" "$into/weights"
cp "$pack" "$into/pack/train_pack_small.tar"
chmod u+w "$into/pack/train_pack_small.tar"
if tar tf "$into/pack/train_pack_small.tar" | grep '/bsds500/val/' >/dev/null; then
  tar --delete -f "$into/pack/train_pack_small.tar" --wildcards '*/bsds500/val/*' '*/bsds500/val/'
fi
if [ "${NO_DOWNLOAD:-0}" != 1 ]; then
  grep -v '^#' gpu/wheels.txt | xargs "$PY" -m pip download --quiet --no-deps --only-binary=:all: \
      --python-version 3.12 --implementation cp --platform manylinux2014_x86_64 -d "$into/wheels"
fi
"$PY" - "$weights/alexnet_features.pth" "$into/weights/alexnet_features.pth" <<'PYTHON'
import sys

import torch

state = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
torch.save({name: tensor.half() for name, tensor in state.items()}, sys.argv[2])
PYTHON
"$PY" gpu/travel_size.py --carry "$into/pack" "$into/wheels" "$into/weights"
echo "prepared; on the GPU machine: run(command='bash gpu/train.sh CONFIG MINUTES', carry=['gpu/pack', 'gpu/wheels', 'gpu/weights'])"
