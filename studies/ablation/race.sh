#!/usr/bin/env bash
# Issue 11 ablation: narrow S3TA-N (last-glance loss) for N in the arguments, clean then PGD-3 at
# 16/255, one torch thread per run (run two counts at once on a 2-core machine), then the race grid.
#   bash studies/ablation/race.sh 1 8                     # runs/abl_narrow_gN_{clean,pgd}
#   BACKBONE=local bash studies/ablation/race.sh 1 8      # the 23 px receptive field: runs/abl_local_gN_*
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
BACKBONE=${BACKBONE:-small}
if [ "$BACKBONE" = small ]; then
  name=narrow; arch=()
else
  name=$BACKBONE; arch=(--set "model.backbone=$BACKBONE" --set "model.backbone_widths=null")
fi
for n in "$@"; do
  g=(--set "model.glances=$n" --set "train.glances_min=$n" --set "train.glances_max=$n" "${arch[@]}")
  (
    $PY -m programs.train --config studies/ablation/configs/narrow_clean.json "${g[@]}" \
        --out "runs/abl_${name}_g${n}_clean" --threads 1 --no-progress
    $PY -m programs.train --config studies/ablation/configs/narrow_pgd.json "${g[@]}" \
        --set "train.init_from=runs/abl_${name}_g${n}_clean/model.safetensors" \
        --out "runs/abl_${name}_g${n}_pgd" --threads 1 --no-progress
  ) > "runs/abl_${name}_g${n}.log" 2>&1 &
done
wait
