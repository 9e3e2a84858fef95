# Sourced by the reproduce-stage*.sh and harvest reproduce scripts (from the repository root): idempotent generation
# of their raw training data (a marker file per finished set, so that a rerun skips what is complete), the validation
# of kept checkpoints, and the harvest benchmark's figures.

# The real studies the detector trains on (lesions inserted; their own detections mined): never lung-dx-a0001 or
# lidc-idri-0314 (validation only), nor acrin-flt-breast-013 (the validation background).
TRAINING_BACKGROUNDS="../shared/data/ct/backgrounds/cmb-crc-msb-01068 ../shared/data/ct/backgrounds/acrin-flt-breast-001 ../shared/data/ct/backgrounds/lungfcp-01-0001 ../shared/data/ct/pancreas-ct-cb-001"

# model_from_git COMMIT DIR: models/lens-ulb as it was at COMMIT (an earlier shipped version), into DIR, so that a
# rerun mines or compares with that version whatever models/lens-ulb holds now.
model_from_git() {
  mkdir -p "$2"
  git show "$1:models/lens-ulb/model.onnx" > "$2/model.onnx"
  git show "$1:models/lens-ulb/model.json" > "$2/model.json"
}

# ins BACKGROUND OUT SEED STUDIES [lens synth options]: synthetic lesions inserted into a real background.
ins() {
  local bg=$1 out=$2 seed=$3 n=$4; shift 4
  local done="$out/.complete-$(basename "$bg")-$seed"
  [ -f "$done" ] && return
  nice -n 10 node bin/lens.js synth --insert-into "$bg" --out "$out" --seed "$seed" --studies "$n" --format raw "$@"
  touch "$done"
}

# phantoms OUT SEED STUDIES: lens synth phantoms at 256 x 256.
phantoms() {
  local out=$1 seed=$2 n=$3
  [ -f "$out/.complete" ] && return
  nice -n 10 node bin/lens.js synth --out "$out" --seed "$seed" --studies "$n" --format raw --size 256
  touch "$out/.complete"
}

# validate_model MODEL_DIR [PHANTOMS INSERTED]: an exported detector on the detector's VALIDATION set (phantom seed
# 7001 x PHANTOMS at 256 + acrin-flt-breast-013 with lesions inserted by seed 8301 x INSERTED, default 10 and 5; the
# detector ranking its >= 0.15 candidates), into MODEL_DIR/eval-validation.txt (eval-validation-PxI.txt for other
# sizes; skipped when it is there). Never a test set.
validate_model() {
  local dir=$1 phantoms=${2:-10} inserted=${3:-5}
  local out="$dir/eval-validation.txt"
  [ "$phantoms/$inserted" = 10/5 ] || out="$dir/eval-validation-${phantoms}x${inserted}.txt"
  [ -f "$out" ] && return
  nice -n 5 node -r tsx/cjs scripts/evaluate-proposal-classifier.ts --model "$dir" --fpr models/lens-fpr \
    --phantom-seed 7001 --phantoms "$phantoms" --phantom-size 256 --backgrounds ../shared/data/ct/backgrounds/acrin-flt-breast-013 \
    --insert-seed 8301 --inserted "$inserted" > "$out.part"
  mv "$out.part" "$out"
}

# validate_checkpoints RUNS VERSION ITERATION...: each kept checkpoint RUNS/it-N.pt exported to RUNS-itN and validated.
validate_checkpoints() {
  local runs=$1 version=$2; shift 2
  local it
  for it in "$@"; do
    [ -f "$runs/it-$it.pt" ] || continue
    [ -f "$runs-it$it/model.onnx" ] || /usr/bin/python3 models/training/export.py --checkpoint "$runs/it-$it.pt" --out "$runs-it$it" --version "$version-it$it" --head-threshold 0.05
    validate_model "$runs-it$it"
  done
}

# harvest_bench [bench/harvest-precision.ts options]: the harvest benchmark, its figures on stdout.
harvest_bench() { node -r tsx/cjs bench/harvest-precision.ts "$@"; }

# harvest_figure FILE [options]: a development figure made once: kept in FILE, made again only when FILE is missing.
harvest_figure() {
  local out=$1; shift
  [ -f "$out" ] || { harvest_bench "$@" > "$out.part" && mv "$out.part" "$out"; }
}
