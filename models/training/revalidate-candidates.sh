#!/usr/bin/env bash
# The detector candidates after stage 5 scored within a few lesions of each other on the 58-lesion validation set
# (docs/model.md "Stage 6": one lesion = 0.017), too small to choose between them. Three of them, declared before this
# ran, on a validation set three times as large (phantom seed 7001 x 30 at 256 + acrin-flt-breast-013 with lesions
# inserted by seed 8301 x 15; it contains the small set): lens-ulb 0.4.0 (the shipped model), stage 6b's last
# checkpoint (the steadiest run) and soup A. VALIDATION only; two evaluations at a time (2 cores). Then the pick is
# exported as lens-ulb 0.5.0 and reported once (STAGE=choice: only the comparison).
set -euo pipefail
cd "$(dirname "$0")/../.."
source models/training/stage-lib.sh
R=models/training/runs
M=$R/lens-ulb-0.4.0
model_from_git 1929100 "$M"   # the last commit that shipped 0.4.0
validate_model "$M" 30 15 &
validate_model "$R/stage6b-it3000" 30 15
wait
validate_model "$R/soup-a" 30 15
[ "${STAGE:-}" = choice ] && exit 0

# The pick (stage 6b's iteration 3000: 0.639, against 0.619 and 0.612) shipped as lens-ulb 0.5.0; its operating point
# at 1 FP per volume on the same larger validation set; then the figures reported once: the phantom test seed 9001,
# real CT and the held-out style (lung-dx-a0001, lidc-idri-0314: validation only, never chosen on).
# (in this order: --write-manifest replaces the manifest's evaluation, --record adds to it)
/usr/bin/python3 models/training/export.py --checkpoint "$R/stage6b/it-3000.pt" --out models/lens-ulb --version 0.5.0 --head-threshold 0.05 \
  --summary "$R/stage6b/summary.json" --record models/training/lens-ulb-record.json \
  --selection "iteration 3000 of stage 6b: best average sensitivity of the detector's ranking on the larger validation set (phantom seed 7001 x 30 at --size 256 + acrin-flt-breast-013 with lesions inserted by seed 8301 x 15, 182 lesions: 0.639, against 0.619 for lens-ulb 0.4.0 and 0.612 for soup A; models/training/revalidate-candidates.sh); docs/model.md stage 6"
node -r tsx/cjs scripts/evaluate-proposal-classifier.ts --model models/lens-ulb --fpr models/lens-fpr --phantom-seed 7001 --phantoms 30 \
  --phantom-size 256 --backgrounds ../shared/data/ct/backgrounds/acrin-flt-breast-013 --insert-seed 8301 --inserted 15 --set-detector-operating-point 1
node -r tsx/cjs scripts/evaluate-model.ts --studies 50 --seed 9001 --threshold 0.05 --cache models/training/data/eval-cache --write-manifest
node -r tsx/cjs scripts/evaluate-real-ct.ts --model models/lens-ulb --fpr none --record real-ct-detector-only --record-manifest models/lens-ulb/model.json
