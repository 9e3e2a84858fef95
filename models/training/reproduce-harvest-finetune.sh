#!/usr/bin/env bash
# One more step of Lesion Harvester's loop (docs/harvest.md, "The proposal generator fine-tuned on the harvest"):
# lens-ulb 0.5.0 fine-tuned on the harvest of development archives 8122 and 8123 (their readers' labels and
# harvested lesions as positives, hard negatives pushed down: train_harvest.py), then used as the proposal generator
# of the harvest with the pooled positive-unlabeled classifier. Needs models/training/reproduce-archive-pu.sh's
# archives, harvests and classifier (same D).
#   1. training sets of the two archives' harvests (lens model training-set);
#   2. two candidates: 1500 and 3000 iterations from stage 6b's iteration 3000 (lens-ulb 0.5.0), lr 3e-4;
#   3. the choice on development archives 8021-8023 (40 studies), against lens-ulb 0.5.0 with the same classifier;
#   4. the chosen one, once, on the benchmark archives 8001 and 8101 (CHOSEN=ft1500|ft3000). In session 10 neither
#      candidate beat lens-ulb 0.5.0 on 8021-8023, so this step was not run.
#   STAGE=choice models/training/reproduce-harvest-finetune.sh     # steps 1-3, about 45 min on 2 CPU cores
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${D:-models/training/data/archive-pu}
PY=/usr/bin/python3   # Debian's python with torch
source models/training/stage-lib.sh

for s in 8122 8123; do
  [ -d "$D/tset-$s" ] || node bin/lens.js model training-set --harvest "$D/$s/dataset" --out "$D/tset-$s" > "$D/tset-$s.log"
done
T=(--data "$D/tset-8122,$D/tset-8123" --init models/training/runs/stage6b/it-3000.pt --lr 3e-4 --threads 1 --seed 1)
ft() { [ -f "$D/det/ft$1/model.json" ] || $PY models/training/train_harvest.py "${T[@]}" --iters "$1" --version "0.5.0-harvest-ft$1" --out "$D/det/ft$1" > "$D/det-ft$1.log"; }
ft 1500 & a=$!
ft 3000 & b=$!
wait $a; wait $b

C="$D/models/pu-hard-pool"
for s in 8021 8022 8023; do
  for v in ft1500 ft3000; do harvest_figure "$D/dev-$s-$v.txt" --studies 40 --seed $s --detector "$D/det/$v" --classifier "$C"; done
done
for f in "$D"/dev-*-ft*.txt "$D"/dev-*-pu-hard-pool.txt; do echo "$(basename "$f" .txt): $(grep HARVESTED "$f" | cut -c 12-) | $(grep 'combined:' "$f" | sed 's/^ *//')"; done
[ "${STAGE:-}" = choice ] && exit 0

CHOSEN=${CHOSEN:?the candidate chosen on 8021-8023: ft1500 or ft3000}
harvest_bench --studies 40 --seed 8001 --detector "$D/det/$CHOSEN" --classifier "$C" | tee "$D/test-8001-$CHOSEN.txt"
harvest_bench --studies 200 --seed 8101 --detector "$D/det/$CHOSEN" --classifier "$C" | tee "$D/test-8101-$CHOSEN.txt"
