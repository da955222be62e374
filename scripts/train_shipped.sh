#!/usr/bin/env bash
# The shipped default pair from scratch, in one command: S3TA and the pooling baseline, each clean,
# then two epochs of FGSM-RS at 8/255 and three times four more (seeds 4, 5, 6), the two chains side
# by side on one core each (about three hours on a 2-core machine); then their floors on 2,000 test
# canvases. The stages and seeds are the ones the shipped checkpoints record (docs/checkpoints.md).
#
#   bash scripts/train_shipped.sh              # trains into runs/shipped/, leaves assets/ and docs/ alone
#   bash scripts/train_shipped.sh --install    # then copies the pair into assets/ and regenerates the
#                                              # metadata, studies/shipped_evaluation/results*, the Race tab's rows, docs/checkpoints.md
#   EXTRA="--set train.train_size=256 --set train.val_size=64" N=50 bash scripts/train_shipped.sh   # a smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/shipped}
N=${N:-2000}            # test canvases of the floors
EXTRA=${EXTRA:-}        # more --set overrides for every stage (smoke runs)
INSTALL=0
case "${1:-}" in --install) INSTALL=1 ;; "") ;; *) echo "usage: $0 [--install]" >&2; exit 2 ;; esac
mkdir -p "$OUT"

stage() {  # config out [--set ...]: one training stage on one core
  local config=$1 out=$2; shift 2
  # shellcheck disable=SC2086
  $PY -m programs.train --config "configs/$config.json" "$@" $EXTRA --out "$OUT/$out" --threads 1 --no-progress \
      >> "$OUT/$out.log" 2>&1
  echo "$(date +%T) $out: $(tail -n 1 "$OUT/$out.log" | cut -c1-160)"
}
chain() {  # s3ta | baseline
  local m=$1
  stage "${m}_clean" "${m}_clean"
  stage "${m}_default" "${m}_default_1" --set train.init_from="$OUT/${m}_clean/model.safetensors"
  for k in 2 3 4; do
    stage "${m}_default" "${m}_default_$k" --set train.epochs=4 --set train.seed=$((k + 2)) \
        --set train.init_from="$OUT/${m}_default_$((k - 1))/model.safetensors"
  done
}
chain s3ta & chain baseline & wait

for m in s3ta baseline; do
  $PY -m programs.evaluate floors --checkpoint "$OUT/${m}_default_4/model.safetensors" --n "$N" --threads 2 \
      --json "$OUT/floors_${m}_default.json"
done
if [ "$INSTALL" = 0 ]; then
  echo "trained: $OUT/{s3ta,baseline}_default_4/model.safetensors; floors in $OUT/floors_*.json (--install ships them)"
  exit 0
fi
cp "$OUT/s3ta_clean/model.safetensors" assets/s3ta_clean.safetensors
for m in s3ta baseline; do
  cp "$OUT/${m}_default_4/model.safetensors" "assets/${m}_default.safetensors"
  $PY -m programs.evaluate floors --checkpoint "assets/${m}_default.safetensors" --n "$N" --write-metadata
done
$PY -m programs.evaluate grid --n 200 --glances 1 2 4 8 16 --steps 0 10 20 50 --eps 8 16 --targets random --out studies/shipped_evaluation/results
$PY -m programs.evaluate grid --n 200 --glances 1 4 16 --steps 0 10 20 50 --eps 8 --targets untargeted \
    --out studies/shipped_evaluation/results_untargeted
$PY -m scripts.store_race studies/shipped_evaluation/results/results.json studies/shipped_evaluation/results_untargeted/results.json
$PY -m scripts.checkpoint_report --history studies/shipped_history studies/judge > docs/checkpoints.md
