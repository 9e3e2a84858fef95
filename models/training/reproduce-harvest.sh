#!/usr/bin/env bash
# The Lesion Harvester's figures of docs/harvest.md ("Retraining: the held-out figure", "The proposal classifier of the
# archive"), from seeds: a synthetic archive of 200 studies (seed 8101, DeepLesion-like partial labels in readers'
# SRs, every 10th study completely annotated) harvested by the shipped models; the harvest as a training set; the
# baseline trained on the archive's labels alone and the candidate trained on the harvest (same volumes, seed,
# iterations, from scratch); each evaluated once on the held-out test seed 9003 (50 studies, never used here for
# training or choice); then a proposal classifier trained on the archive's own labels and the harvest measured again.
#   models/training/reproduce-harvest.sh            # about 2 h on 2 CPU cores
#   ITERS=500 models/training/reproduce-harvest.sh  # shorter runs (not the recorded ones)
set -euo pipefail
cd "$(dirname "$0")/../.."
H=${H:-models/training/data/harvest}
PY=/usr/bin/python3   # Debian's python with torch
ITERS=${ITERS:-4000}
mkdir -p "$H"

# 1. The archive and its harvest with lens-ulb 0.4.0 + lens-fpr 0.2.0 (prints precision/recall vs the full truth).
[ -d "$H/bench/dataset/studies" ] || node -r tsx/cjs bench/harvest-precision.ts --studies 200 --seed 8101 --complete-every 10 --keep "$H/bench" | tee "$H/bench.txt"
# 2. The harvest as a training set (raw volumes; readers' labels + harvested lesions; hard negatives; uncertain).
node bin/lens.js model training-set --harvest "$H/bench/dataset" --out "$H/set" > /dev/null
# 3. Baseline (the archive's labels alone) and candidate (the harvest), concurrently, one core each.
T="--data $H/set --cache $H/cache --iters $ITERS --seed 1 --threads 1 --batch 16 --crop 128 --log-every 100"
$PY models/training/train_harvest.py $T --labels-only --version 0.4.0-labels-only --out "$H/models/labels-only" > "$H/labels-only.log" &
$PY models/training/train_harvest.py $T --version 0.4.0-harvest --out "$H/models/harvest" > "$H/harvest.log" &
wait
for m in labels-only harvest; do
  node -r tsx/cjs scripts/evaluate-model.ts --model "$H/models/$m" --studies 50 --seed 9003 \
    --cache models/training/data/eval-cache-9003 > "$H/models/$m/evaluation-9003.txt" 2> /dev/null
  echo "$m: $(grep -m1 -i 'average' "$H/models/$m/evaluation-9003.txt")"
done
# 4. The proposal classifier of the archive: trained on the partly annotated studies' labels and known negatives,
#    its epoch chosen on the completely annotated ones (which also choose the harvest's thresholds).
[ -d "$H/classifier-set" ] || node bin/lens.js model classifier-set --harvest "$H/bench/dataset" --out "$H/classifier-set" > /dev/null
$PY models/training/train_classifier.py --train "$H/classifier-set/train" --val "$H/classifier-set/calibration" \
  --out "$H/runs/archive-fpr" --epochs 30 --iters-per-epoch 150 --threads 1 --seed 0
$PY models/training/export_classifier.py --checkpoint "$H/runs/archive-fpr/best.pt" --record "$H/runs/archive-fpr/record.json" \
  --out "$H/models/archive-fpr" --name lens-archive-fpr --version 0.1.0-8101
node -r tsx/cjs bench/harvest-precision.ts --studies 200 --seed 8101 --complete-every 10 --keep "$H/bench-archive-fpr" \
  --classifier "$H/models/archive-fpr" | tee "$H/bench-archive-fpr.txt"
