#!/usr/bin/env bash
# The positive-unlabeled proposal classifier of an archive (docs/harvest.md, "A classifier that learns from what
# readers did not mark"), from seeds, with the shipped models (lens-ulb 0.5.0, lens-fpr 0.2.0):
#   1. development archives (seeds 8121, and in session 10 8122 and 8123; 200 studies each) harvested, each one's
#      classifier set written with every unmatched candidate of the partly annotated studies as a negative;
#   2. classifiers: on 8121 alone, uniform negatives and half the negatives from those the detector scored >= 0.4
#      (--hard-fraction 0.5); in session 10, the latter on the three archives pooled, 30 and 60 epochs; in session
#      11, the pooled one at widths 18 and 24, then widths 12 and 18 with seed 1 and two ensembles of them; in
#      session 12, width 18 (seeds 0 and 1, and their ensemble) on crops longer along z; each epoch chosen on the
#      completely annotated studies of the archives it learned from;
#   3. the choice: three other development archives (seeds 8021-8023, 40 studies) harvested with lens-fpr 0.2.0 and
#      with each classifier (the bench prints precision/recall against the generator's truth);
#   4. the chosen one, once, on the benchmark archives of issue 13 (seed 8001, 40 studies; seed 8101, 200 studies).
#   models/training/reproduce-archive-pu.sh      # about 3.5 h on 2 CPU cores
#   STAGE=choice ... stops after step 3
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${D:-models/training/data/archive-pu}
PY=/usr/bin/python3   # Debian's python with torch
mkdir -p "$D"
source models/training/stage-lib.sh

for s in 8121 8122 8123; do
  [ -d "$D/$s/dataset/studies" ] || harvest_bench --studies 200 --seed $s --keep "$D/$s" > "$D/$s.txt"
  [ -d "$D/set-$s" ] || node bin/lens.js model classifier-set --harvest "$D/$s/dataset" --out "$D/set-$s" --unlabeled-as-negatives > "$D/set-$s.log"
done
# The arguments after the name come last, so that a --seed there overrides seed 0.
train() { [ -f "$D/runs/$1/best.pt" ] || $PY models/training/train_classifier.py --iters-per-epoch 150 --threads 1 --seed 0 "${@:2}" --out "$D/runs/$1" > "$D/$1.log"; }
HARD=(--hard-fraction 0.5 --hard-score 0.4)
POOL=(--train "$D"/set-812{1,2,3}/train --val "$D"/set-812{1,2,3}/calibration "${HARD[@]}")
# Two trainings at a time, one core each; `wait PID` so that a failed one stops the script.
train pu --train "$D/set-8121/train" --val "$D/set-8121/calibration" --epochs 30 & a=$!
train pu-hard --train "$D/set-8121/train" --val "$D/set-8121/calibration" --epochs 30 "${HARD[@]}" & b=$!
wait $a; wait $b
train pu-hard-pool "${POOL[@]}" --epochs 30 & a=$!
train pu-hard-pool-60 "${POOL[@]}" --epochs 60 & b=$!
wait $a; wait $b
# Session 11: wider networks (the false candidates the pooled classifier ranks high are mostly gallbladders and
# lung vessels seen end-on, which it scores like lesions: is width 12 too small to tell them apart?).
train pu-hard-pool-w18 "${POOL[@]}" --epochs 30 --width 18 & a=$!
train pu-hard-pool-w24 "${POOL[@]}" --epochs 30 --width 24 & b=$!
wait $a; wait $b
# Session 11, after the test run (development archives only): how much of width 18's gain a second seed keeps.
train pu-hard-pool-seed1 "${POOL[@]}" --epochs 30 --seed 1 & a=$!
train pu-hard-pool-w18-seed1 "${POOL[@]}" --epochs 30 --width 18 --seed 1 & b=$!
wait $a; wait $b
# Session 12: crops longer along the normal (models/training/crop-specs/z64.json: the fixed scale 64 mm deep instead
# of 32, both scales 16 samples deep): a gallbladder (50-80 mm long) and a vessel seen end-on run through a 32 mm
# crop like a lesion would, but not through 64 mm. New classifier sets of the same harvests, width 18, seeds 0 and 1.
for s in 8121 8122 8123; do
  [ -d "$D/set-$s-z64" ] || node bin/lens.js model classifier-set --harvest "$D/$s/dataset" --out "$D/set-$s-z64" --unlabeled-as-negatives \
    --crop-spec models/training/crop-specs/z64.json > "$D/set-$s-z64.log"
done
POOL_Z64=(--train "$D"/set-812{1,2,3}-z64/train --val "$D"/set-812{1,2,3}-z64/calibration "${HARD[@]}")
train pu-z64-w18 "${POOL_Z64[@]}" --epochs 30 --width 18 & a=$!
train pu-z64-w18-seed1 "${POOL_Z64[@]}" --epochs 30 --width 18 --seed 1 & b=$!
wait $a; wait $b
declare -A VERSION=([pu]=0.2.0-pu-8121 [pu-hard]=0.2.0-pu-hard-8121 [pu-hard-pool]=0.3.0-pu-hard-8121-8123 [pu-hard-pool-60]=0.3.0-pu-hard-60-8121-8123
  [pu-hard-pool-w18]=0.4.0-pu-hard-w18-8121-8123 [pu-hard-pool-w24]=0.4.0-pu-hard-w24-8121-8123
  [pu-hard-pool-seed1]=0.3.0-pu-hard-seed1-8121-8123 [pu-hard-pool-w18-seed1]=0.4.0-pu-hard-w18-seed1-8121-8123
  [pu-z64-w18]=0.6.0-pu-hard-z64-w18-8121-8123 [pu-z64-w18-seed1]=0.6.0-pu-hard-z64-w18-seed1-8121-8123)
CANDIDATES=(pu pu-hard pu-hard-pool pu-hard-pool-60 pu-hard-pool-w18 pu-hard-pool-w24 pu-hard-pool-seed1 pu-hard-pool-w18-seed1
  pu-z64-w18 pu-z64-w18-seed1)
for m in "${CANDIDATES[@]}"; do
  [ -f "$D/models/$m/model.json" ] || $PY models/training/export_classifier.py --checkpoint "$D/runs/$m/best.pt" \
    --record "$D/runs/$m/record.json" --out "$D/models/$m" --name lens-archive-fpr --version "${VERSION[$m]}" > /dev/null
done
# Session 11, after the seed check: ensembles (the mean of the members' probabilities, one ONNX graph).
ens() { local name=$1 version=$2; shift 2; local cks=() recs=(); for m in "$@"; do cks+=("$D/runs/$m/best.pt"); recs+=("$D/runs/$m/record.json"); done
  [ -f "$D/models/$name/model.json" ] || $PY models/training/export_classifier.py --checkpoint "${cks[@]}" --record "${recs[@]}" \
    --out "$D/models/$name" --name lens-archive-fpr --version "$version" > /dev/null; }
ens pu-ens-w18 0.5.0-pu-hard-ens-w18-8121-8123 pu-hard-pool-w18 pu-hard-pool-w18-seed1
ens pu-ens-all 0.5.0-pu-hard-ens-all-8121-8123 pu-hard-pool-seed1 pu-hard-pool-w18 pu-hard-pool-w18-seed1 pu-hard-pool-w24
ens pu-ens-z64 0.6.0-pu-hard-ens-z64-w18-8121-8123 pu-z64-w18 pu-z64-w18-seed1
CANDIDATES+=(pu-ens-w18 pu-ens-all pu-ens-z64)

for s in 8021 8022 8023; do
  harvest_figure "$D/dev-$s-lens-fpr.txt" --studies 40 --seed $s
  for m in "${CANDIDATES[@]}"; do harvest_figure "$D/dev-$s-$m.txt" --studies 40 --seed $s --classifier "$D/models/$m"; done
done
for f in "$D"/dev-*.txt; do echo "$(basename "$f" .txt): $(grep HARVESTED "$f" | cut -c 12-) | $(grep 'combined:' "$f" | sed 's/^ *//')"; done
[ "${STAGE:-}" = choice ] && exit 0

# Session 9 chose pu-hard (of pu, pu-hard) and ran it here; session 10 chose pu-hard-pool (of pu-hard, pu-hard-pool,
# pu-hard-pool-60: the highest mean of the best recall at precision >= 0.95 on 8021-8023) and ran it here; session 11
# chose pu-hard-pool-w18 (of pu-hard-pool, -w18, -w24, by the same rule) and ran it here, then pu-ens-all (of pu-ens-w18,
# pu-ens-all, against pu-hard-pool-w18) and ran it here. Session 12's crops longer along z (pu-z64-w18, -seed1,
# pu-ens-z64) ranked worse than the default crops on every development archive: not run here.
CHOSEN=${CHOSEN:-pu-ens-all}
harvest_bench --studies 40 --seed 8001 --classifier "$D/models/$CHOSEN" | tee "$D/test-8001-$CHOSEN.txt"
harvest_bench --studies 200 --seed 8101 --classifier "$D/models/$CHOSEN" | tee "$D/test-8101-$CHOSEN.txt"
