#!/usr/bin/env bash
# The positive-unlabeled proposal classifier of an archive (docs/harvest.md, "A classifier that learns from what
# readers did not mark"), from seeds, with the shipped models (lens-ulb 0.5.0, lens-fpr 0.2.0):
#   1. a development archive (seed 8121, 200 studies) harvested, its classifier set written with every unmatched
#      candidate of the partly annotated studies as a negative;
#   2. two classifiers trained on it: uniform negatives, and half the negatives from those the detector scored
#      >= 0.4 (--hard-fraction 0.5), each epoch chosen on the archive's completely annotated studies;
#   3. the choice: three other development archives (seeds 8021-8023, 40 studies) harvested with lens-fpr 0.2.0 and
#      with each classifier (the bench prints precision/recall against the generator's truth);
#   4. the chosen one, once, on the benchmark archives of issue 13 (seed 8001, 40 studies; seed 8101, 200 studies).
#   models/training/reproduce-archive-pu.sh      # about 1 h on 2 CPU cores
#   STAGE=choice ... stops after step 3
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${D:-models/training/data/archive-pu}
PY=/usr/bin/python3   # Debian's python with torch
mkdir -p "$D"
bench() { node -r tsx/cjs bench/harvest-precision.ts "$@"; }

[ -d "$D/8121/dataset/studies" ] || bench --studies 200 --seed 8121 --keep "$D/8121" > "$D/8121.txt"
[ -d "$D/set" ] || node bin/lens.js model classifier-set --harvest "$D/8121/dataset" --out "$D/set" --unlabeled-as-negatives > "$D/set.log"
T="--train $D/set/train --val $D/set/calibration --epochs 30 --iters-per-epoch 150 --threads 1 --seed 0"
$PY models/training/train_classifier.py $T --out "$D/runs/pu" > "$D/pu.log" &
$PY models/training/train_classifier.py $T --hard-fraction 0.5 --hard-score 0.4 --out "$D/runs/pu-hard" > "$D/pu-hard.log" &
wait
for m in pu pu-hard; do
  $PY models/training/export_classifier.py --checkpoint "$D/runs/$m/best.pt" --record "$D/runs/$m/record.json" \
    --out "$D/models/$m" --name lens-archive-fpr --version "0.2.0-$m-8121" > /dev/null
done

for s in 8021 8022 8023; do
  bench --studies 40 --seed $s > "$D/dev-$s-lens-fpr.txt"
  for m in pu pu-hard; do bench --studies 40 --seed $s --classifier "$D/models/$m" > "$D/dev-$s-$m.txt"; done
done
for f in "$D"/dev-*.txt; do echo "$(basename "$f" .txt): $(grep HARVESTED "$f" | cut -c 12-) | $(grep 'combined:' "$f" | sed 's/^ *//')"; done
[ "${STAGE:-}" = choice ] && exit 0

bench --studies 40 --seed 8001 --classifier "$D/models/pu-hard" | tee "$D/test-8001-pu-hard.txt"
bench --studies 200 --seed 8101 --classifier "$D/models/pu-hard" | tee "$D/test-8101-pu-hard.txt"
