#!/usr/bin/env bash
# The LENS ablation of docs/model.md ("LENS: heterogeneous partial labels"), from seeds: generates the four simulated
# datasets, trains the three models, mines the missing annotations, exports the four rows and evaluates each row once on
# the fully labelled held-out test seed 9003 (50 studies, never used for training, mining or selection).
#   models/training/reproduce-lens.sh            # everything (about 3 h on 2 CPU cores)
#   ITERS=1000 models/training/reproduce-lens.sh # shorter runs (not the recorded ones)
# Checkpoints are chosen on the validation seed 35 (12 fully labelled studies) only.
set -euo pipefail
cd "$(dirname "$0")/../.."
D=models/training/data/lens
R=models/training/runs/lens
M=models/lens-ablation
PY=/usr/bin/python3   # Debian's python with torch
ITERS=${ITERS:-4000}
SETS="--set deeplesion=$D/dl-31 --set luna=$D/luna-36 --set lits=$D/lits-37 --set nihln=$D/nihln-38"
COMMON="--val $D/val-35 --iters $ITERS --val-every 1000 --batch 16 --crop 128 --seed 1 --threads 1 --cache $D/cache"

synth() { # dir seed studies [options]
  [ -f "$1/.complete" ] && return
  nice -n 5 node bin/lens.js synth --out "$1" --seed "$2" --studies "$3" --format raw --size 256 ${4:-} > /dev/null
  touch "$1/.complete"
}
mkdir -p "$D" "$R" "$M"
synth "$D/dl-31" 31 60 "--follow-up"     # DeepLesion-like: 60 patients x 2 time points, key-slice labels of ~40 %
# The single-type sets are enriched in their type (as LUNA, LiTS and NIH-LN were selected for it); their other lesions
# are outside the set's label scope.
O="bone_lesion=1,soft_tissue=1,kidney_cyst=1"
synth "$D/luna-36" 36 50 "--region chest --lesions 2-6 --mix lung_nodule=6,liver_lesion=1,lymph_node=1,$O"     # LUNA-like
synth "$D/lits-37" 37 50 "--region abdomen --lesions 2-6 --mix liver_lesion=6,lung_nodule=1,lymph_node=1,$O"  # LiTS-like
synth "$D/nihln-38" 38 50 "--lesions 3-8 --mix lymph_node=6,lung_nodule=1,liver_lesion=1,$O"                  # NIH-LN-like
synth "$D/val-35" 35 12                   # validation, fully labelled
node -r tsx/cjs scripts/evaluate-model.ts --studies 50 --seed 9003 --cache models/training/data/eval-cache-9003 --generate-only

# Row 1: the single-dataset baseline (deeplesion partial labels only, one head).
$PY models/training/train_lens.py --set deeplesion=$D/dl-31 $COMMON --out $M/1-deeplesion-only --runs $R/a \
  --version 0.1.0-row1 --name lens-ablation-1 &
# Rows 2-3: the four datasets, one head each (checkpoint chosen on the fused heads).
$PY models/training/train_lens.py $SETS $COMMON --out $M/3-heads-fused --runs $R/b --version 0.1.0-row3 --name lens-ablation-3 &
wait
# Rows 2 and 3 exported from the same checkpoint by export.py (the recorded run's training exported row 3 before
# export.py wrote the fusion rule into manifests; same weights). Row 2 is row 3's network read through its
# deeplesion head alone (no proposal fusion).
$PY models/training/export.py --checkpoint $R/b/best.pt --summary $R/b/summary.json --head-threshold 0.05 \
  --out $M/3-heads-fused --version 0.1.0-row3 --name lens-ablation-3
$PY models/training/export.py --checkpoint $R/b/best.pt --summary $R/b/summary.json --heads deeplesion --head-threshold 0.05 \
  --out $M/2-heads-deeplesion-only --version 0.1.0-row2 --name lens-ablation-2 --onnx ../3-heads-fused/model.onnx
# Mining with row 3's model, then row 4: the same training with the mined labels (all three strategies).
$PY models/training/mine_lens.py --checkpoint $R/b/best.pt --set deeplesion=$D/dl-31 --val $D/val-35 --out $D/mined --cache $D/cache
$PY models/training/train_lens.py $SETS $COMMON --mined $D/mined --mining transfer,intra-patient,propagation \
  --out $M/4-heads-fused-mined --runs $R/c --version 0.1.0-row4 --name lens-ablation-4
cp $D/mined/summary.json $M/4-heads-fused-mined/mining-summary.json
# Row 5 (added after row 4 came out below row 3, to see which strategy hurts): intra-patient matching alone.
$PY models/training/train_lens.py $SETS $COMMON --mined $D/mined --mining intra-patient \
  --out $M/5-heads-fused-intra-patient --runs $R/d --version 0.1.0-row5 --name lens-ablation-5
# Rows 6 and 7 (session 7): transfer alone, propagation alone (two runs at once, one core each).
$PY models/training/train_lens.py $SETS $COMMON --mined $D/mined --mining transfer \
  --out $M/6-heads-fused-transfer --runs $R/e --version 0.1.0-row6 --name lens-ablation-6 &
$PY models/training/train_lens.py $SETS $COMMON --mined $D/mined --mining propagation \
  --out $M/7-heads-fused-propagation --runs $R/f --version 0.1.0-row7 --name lens-ablation-7 &
wait
# Row 3c (session 7): row 3's network with each head's scores calibrated (Platt scaling on validation seed 35) before
# fusion; the manifest names row 3's graph.
$PY models/training/export.py --checkpoint $R/b/best.pt --summary $R/b/summary.json --head-threshold 0.05 \
  --out $M/3c-heads-fused-calibrated --version 0.1.0-row3c --name lens-ablation-3c --onnx ../3-heads-fused/model.onnx
$PY models/training/calibrate_heads.py --checkpoint $R/b/best.pt --val $D/val-35 --cache $D/cache \
  --manifest $M/3c-heads-fused-calibrated/model.json

for row in 1-deeplesion-only 2-heads-deeplesion-only 3-heads-fused 3c-heads-fused-calibrated 4-heads-fused-mined 5-heads-fused-intra-patient \
    6-heads-fused-transfer 7-heads-fused-propagation; do
  node -r tsx/cjs scripts/evaluate-model.ts --model $M/$row --studies 50 --seed 9003 \
    --cache models/training/data/eval-cache-9003 > $M/$row/evaluation-9003.txt 2> /dev/null
  echo "$row: $(grep -m1 -i 'average' $M/$row/evaluation-9003.txt)"
done
