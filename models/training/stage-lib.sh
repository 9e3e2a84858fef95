# Sourced by the reproduce-stage*.sh scripts (from the repository root): idempotent generation of their raw training
# data (a marker file per finished set, so that a rerun skips what is complete) and the validation of kept checkpoints.

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

# validate_checkpoints RUNS VERSION ITERATION...: each kept checkpoint RUNS/it-N.pt exported to RUNS-itN and evaluated
# on the detector's VALIDATION set (phantom seed 7001 x 10 at 256 + acrin-flt-breast-013 with lesions inserted by
# seed 8301 x 5; the detector ranking its >= 0.15 candidates) into RUNS-itN/eval-validation.txt. Never a test set.
validate_checkpoints() {
  local runs=$1 version=$2; shift 2
  local it
  for it in "$@"; do
    [ -f "$runs/it-$it.pt" ] || continue
    [ -f "$runs-it$it/eval-validation.txt" ] && continue
    /usr/bin/python3 models/training/export.py --checkpoint "$runs/it-$it.pt" --out "$runs-it$it" --version "$version-it$it" --head-threshold 0.05
    nice -n 5 node -r tsx/cjs scripts/evaluate-proposal-classifier.ts --model "$runs-it$it" --fpr models/lens-fpr \
      --phantom-seed 7001 --phantoms 10 --phantom-size 256 --backgrounds ../shared/data/ct/backgrounds/acrin-flt-breast-013 \
      --insert-seed 8301 --inserted 5 > "$runs-it$it/eval-validation.txt"
  done
}
