#!/usr/bin/env bash
# The seeds study's evaluations on the final canvases, for one family (RULE.md): clean accuracy on
# 2,000 canvases and PGD-50 towards random targets at 16/255 on 500, every seed of every model on
# the same canvases and attack seeds, each S3TA at its trained count; then the table. One thread.
# A model not trained (yet) is skipped; the clean comparisons pair the seeds both sides have.
#   bash studies/seeds/run.sh narrow        # studies/seeds/results/narrow_*, studies/seeds/narrow.md
#   bash studies/seeds/run.sh local
#   SEEDS="0 1" bash studies/seeds/run.sh narrow    # only the attacked reads of these seeds' models
# The family's step curve (seed 0; RULE.md 5; a curve already read is kept):
#   CURVE=1 bash studies/seeds/run.sh narrow
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
family=${1:?narrow or local}
case $family in narrow) p="" ;; local) p=l ;; *) echo "narrow or local" >&2; exit 2 ;; esac
C=studies/seeds/checkpoints
OUT=studies/seeds/results
E="$PY -m programs.evaluate"
F="--canvases final --threads 1"
mkdir -p $OUT
have() { [ -f "$C/${p}$1_s$2.safetensors" ]; }
both() { for s in 0 1 2; do if have "$1" $s && have "$2" $s; then echo $s; fi; done; }  # seeds trained for both
count() { case $1 in g8) echo 8 ;; *) echo 1 ;; esac; }
if [ -n "${CURVE:-}" ]; then
  for k in g1 g8 base; do
    have $k 0 || { echo "not trained: ${p}${k}_s0 (skipped)"; continue; }
    [ -f "$OUT/curve_${family}_${k}_s0/results.json" ] ||
      $E curve --checkpoints "$C/${p}${k}_s0.safetensors" --glances "$(count $k)" --eps 16 --steps 10 50 200 1000 \
          --apgdt-steps 100 --apgdt-targets 9 --n 200 $F --out "$OUT/curve_${family}_${k}_s0"
    rm -f "$OUT/curve_${family}_${k}_s0/race_random_16.html"  # one line; the family's plot is drawn below
  done
  $PY -m studies.final_split.race "$OUT"/curve_"${family}"_*_s0/results.json --out "$OUT/race_${family}_16.html"
  exit
fi
for s in ${SEEDS:-0 1 2}; do  # one model at a time, so a model is read as soon as it is trained
  for k in g1 g8 base; do
    have $k "$s" || { echo "not trained: ${p}${k}_s$s (skipped)"; continue; }
    [ -f "$OUT/${family}_${k}_s$s/results.json" ] ||
      $E curve --checkpoints "$C/${p}${k}_s$s.safetensors" --glances "$(count $k)" --eps 16 --steps 50 \
          --apgdt-steps 0 --n 500 $F --out "$OUT/${family}_${k}_s$s"
    rm -f "$OUT/${family}_${k}_s$s/race_random_16.html"  # a single point
  done
done
[ -z "${SEEDS:-}" ] || exit 0  # the clean comparisons and the table need every seed
for ab in "g1 g8" "base g1" "base g8"; do
  set -- $ab
  seeds=$(both "$1" "$2")
  [ -n "$seeds" ] || continue
  $E compare --a $(for s in $seeds; do echo "$C/${p}$1_s$s.safetensors"; done) \
      --b $(for s in $seeds; do echo "$C/${p}$2_s$s.safetensors"; done) --eps 0 --steps 0 --n 2000 $F \
      --json "$OUT/${family}_clean_$1_$2.json"
done
$PY -m studies.seeds.table $OUT "$family" > "studies/seeds/$family.md"
