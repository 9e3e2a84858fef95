# Sourced by the reproduce-stage*.sh scripts: idempotent generation of their raw training data (a marker file per
# finished set, so that a rerun skips what is complete).

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
