#!/usr/bin/env bash
# Stage 6b of the detector (docs/model.md "Stage 6"): stage 5 again, the same data, start (lens-ulb 0.3.0), seed and
# schedule, plus scale augmentation (train.py --scale-aug 0.25: half of the crops rescaled by up to 1.25x either way).
# The A/B of one change: stage 5's validation peaked at iteration 1500 and fell after, as if the four training
# patients' anatomy were being memorised; rescaling multiplies the body sizes the detector sees.
# lung-dx-a0001 and lidc-idri-0314 are never used here. Needs reproduce-stage5.sh's data and recovered 0.3.0 checkpoint.
set -euo pipefail
cd "$(dirname "$0")/../.."
D=models/training/data/s5
R5=models/training/runs/stage5
R=models/training/runs/stage6b
S=../shared/data/ct
PY=/usr/bin/python3   # Debian's python with torch
[ -f "$R5/lens-ulb-0.3.0.pt" ] || { echo "reproduce-stage6b: run models/training/reproduce-stage5.sh first (needs $R5/lens-ulb-0.3.0.pt)" >&2; exit 1; }
mkdir -p "$R"
source models/training/stage-lib.sh
nice -n 10 "$PY" models/training/train.py --train "$D/phantom-4" --real "$D/train-ins,$D/train-ins-lung" --val "$D/val-ins" \
  --seed 5 --init "$R5/lens-ulb-0.3.0.pt" --freeze-bn --augment --domain-rand 1 --scale-aug 0.25 \
  --real-fraction 0.5 --real-pos-fraction 0.45 --proposal-fraction 0.3 \
  --iters 3000 --lr 4e-4 --batch 16 --crop 128 --val-every 750 --keep-checkpoints --threads 1 \
  --cache "$D/cache" --version 0.5.0 --out "$R/export" --runs "$R" \
  --data-note "stage 6b: stage 5's data (lens synth seed 4, 64 phantoms + insertions 8401/8402/8403 into the four training backgrounds, mined by lens-ulb 0.3.0) with --scale-aug 0.25; validation acrin-flt-breast-013 (insertion seed 8301 x5)"
# Choice on VALIDATION only, as stage 5 (lens-ulb 0.4.0 = stage 5's iteration 1500 scored 0.697 there).
# Tried, not shipped: 0.653 / 0.680 / 0.670 / 0.680 at iterations 750 / 1500 / 2250 / 3000 (docs/model.md).
validate_checkpoints "$R" 0.5.0 750 1500 2250 3000
