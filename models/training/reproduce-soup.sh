#!/usr/bin/env bash
# Model soups of the stage-5 and stage-6b checkpoints (docs/model.md "Stage 6"): uniform weight averages of
# detectors fine-tuned from the same start (lens-ulb 0.3.0) with the same seed. Two candidates, declared before any
# was validated: A = stage 5's iterations 1500, 2250, 3000 (the tail of one run); B = A + stage 6b's 1500, 2250, 3000.
# Choice on VALIDATION only (lens-ulb 0.4.0 = stage 5's iteration 1500 scored 0.697). Needs both runs' checkpoints
# (models/training/reproduce-stage5.sh, models/training/reproduce-stage6b.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
R=models/training/runs
source models/training/stage-lib.sh
soup() { # name checkpoints...
  local name=$1; shift
  local out="$R/soup-$name"
  mkdir -p "$out"
  [ -f "$out/soup.pt" ] || /usr/bin/python3 models/training/average_checkpoints.py --out "$out/soup.pt" "$@"
  [ -f "$out/model.onnx" ] || /usr/bin/python3 models/training/export.py --checkpoint "$out/soup.pt" --out "$out" --version "0.5.0-soup-$name" --head-threshold 0.05
  validate_model "$out"
}
S5="$R/stage5/it-1500.pt $R/stage5/it-2250.pt $R/stage5/it-3000.pt"
S6B="$R/stage6b/it-1500.pt $R/stage6b/it-2250.pt $R/stage6b/it-3000.pt"
soup a $S5
soup b $S5 $S6B
