#!/usr/bin/env bash
# The narrow family at its first CPU stage, three training seeds each: S3TA-1, S3TA-8 (1 head, keys
# 16, values 8, loss on the last glance) and the same-recipe baseline (global average pooling on the
# same backbone). Clean 2 x 30k canvases, then PGD-3 at 16/255 on 20k (studies/ablation/configs).
# The local family (prefix l: the 23 px receptive field of studies/receptive_field) the same way.
# Seed s trains its clean stage with train.seed=100*s and its PGD stage with 100*s+1: seed 0 is the
# ablation's own run (seeds 0 and 1). Two runs at a time, one torch thread each, 12-13 min per model.
#   bash studies/seeds/train.sh            # runs/seeds/{g1,g8,base}_s{0,1,2}_{clean,pgd}, and each last
#                                          # stage as studies/seeds/checkpoints/{g1,g8,base}_s{0,1,2}.safetensors
#   bash studies/seeds/train.sh lg1_s0 lg8_s0 lbase_s0   # the local family
#   JOBS=1 bash studies/seeds/train.sh g8_s2
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
RUNS=${RUNS:-runs/seeds}
mkdir -p "$RUNS"
one() {  # one model of one seed: clean stage, then PGD stage from it
  local name=$1 kind=${1%_s*} s=${1##*_s} args=() arch=()
  if [ "${kind:0:1}" = l ]; then kind=${kind:1}; arch=(--set model.backbone=local --set model.backbone_widths=null); fi
  case $kind in
    g1|g8) n=${kind#g}; args=(--set "model.glances=$n" --set "train.glances_min=$n" --set "train.glances_max=$n") ;;
    base) args=(--set model.arch=baseline --set model.glances=1 --set train.glances_min=1 --set train.glances_max=1) ;;
    *) echo "unknown model $kind" >&2; return 2 ;;
  esac
  args+=("${arch[@]}")
  [ -f "$RUNS/${name}_clean/model.safetensors" ] ||
    $PY -m programs.train --config studies/ablation/configs/narrow_clean.json "${args[@]}" \
        --set "train.seed=$((100 * s))" --out "$RUNS/${name}_clean" --threads 1 --no-progress
  [ -f "$RUNS/${name}_pgd/model.safetensors" ] ||
    $PY -m programs.train --config studies/ablation/configs/narrow_pgd.json "${args[@]}" \
        --set "train.seed=$((100 * s + 1))" --set "train.init_from=$RUNS/${name}_clean/model.safetensors" \
        --out "$RUNS/${name}_pgd" --threads 1 --no-progress
  mkdir -p studies/seeds/checkpoints  # the study's checkpoints are kept: run.sh reads these
  cp "$RUNS/${name}_pgd/model.safetensors" "studies/seeds/checkpoints/$name.safetensors"
}
export -f one; export PY RUNS
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(g1_s0 g8_s0 base_s0 g1_s1 g8_s1 base_s1 g1_s2 g8_s2 base_s2)
printf '%s\n' "${names[@]}" | xargs -P "${JOBS:-2}" -I{} bash -c 'one {} > "$RUNS/{}.log" 2>&1'
