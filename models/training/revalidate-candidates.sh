#!/usr/bin/env bash
# The detector candidates after stage 5 scored within a few lesions of each other on the 58-lesion validation set
# (docs/model.md "Stage 6": one lesion = 0.017), too small to choose between them. Three of them, declared before this
# ran, on a validation set three times as large (phantom seed 7001 x 30 at 256 + acrin-flt-breast-013 with lesions
# inserted by seed 8301 x 15; it contains the small set): lens-ulb 0.4.0 (the shipped model), stage 6b's last
# checkpoint (the steadiest run) and soup A. VALIDATION only; two evaluations at a time (2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
source models/training/stage-lib.sh
R=models/training/runs
M=$R/lens-ulb-0.4.0
mkdir -p "$M" && cp models/lens-ulb/model.onnx models/lens-ulb/model.json "$M/"
validate_model "$M" 30 15 &
validate_model "$R/stage6b-it3000" 30 15
wait
validate_model "$R/soup-a" 30 15
