#!/usr/bin/env bash
# The shipped default pair's recipe up to its first adversarial stage, the pair shipped until
# session 9 (studies/shipped_history/*_v1: clean 4 x 60k canvases, then FGSM-RS at 8/255 on
# 2 x 60k), trained again with another seed: seed s trains the clean stage with train.seed=100*s
# and FGSM-RS with 100*s+1 (the _v1 pair is seed 0: 0 and 1). Both models at once, one torch
# thread each, about an hour; then each seed's S3TA (4 glances) - baseline, paired on the final
# canvases (PGD-50 towards random targets at 16/255 and 8/255, 500 canvases, the two at once), and
# over the seeds.
#   bash studies/seeds/shipped.sh          # seed 1 -> studies/seeds/checkpoints/{s3ta,baseline}_v1_s1.safetensors
#   SEEDS="1 2" bash studies/seeds/shipped.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
RUNS=${RUNS:-runs/seeds}
C=studies/seeds/checkpoints
OUT=studies/seeds/results
mkdir -p "$RUNS" "$C" "$OUT"
one() {  # one model (s3ta or baseline) of one seed: the clean stage, then FGSM-RS from it
  local m=$1 s=$2 run=$RUNS/$1_v1_s$2
  [ -f "${run}_clean/model.safetensors" ] ||
    $PY -m programs.train --config "configs/${m}_clean.json" --set "train.seed=$((100 * s))" \
        --out "${run}_clean" --threads 1 --no-progress
  [ -f "${run}_fgsm/model.safetensors" ] ||
    $PY -m programs.train --config "configs/${m}_default.json" --set "train.seed=$((100 * s + 1))" \
        --set "train.init_from=${run}_clean/model.safetensors" --out "${run}_fgsm" --threads 1 --no-progress
  cp "${run}_fgsm/model.safetensors" "$C/${m}_v1_s$s.safetensors"
}
seeds=${SEEDS:-1}
for s in $seeds; do
  one s3ta "$s" >> "$RUNS/s3ta_v1_s$s.log" 2>&1 &  # appended: a rerun that skips training keeps the log
  one baseline "$s" >> "$RUNS/baseline_v1_s$s.log" 2>&1 &
  wait
done
H=studies/shipped_history
A=("$H/baseline_default_v1.safetensors") B=("$H/s3ta_default_v1.safetensors")
for s in $seeds; do A+=("$C/baseline_v1_s$s.safetensors"); B+=("$C/s3ta_v1_s$s.safetensors"); done
for eps in 16 8; do  # per seed (seed 0 first) and over seeds, paired on the same canvases and attack seeds
  $PY -m programs.evaluate compare --a "${A[@]}" --b "${B[@]}" --eps $eps --steps 50 --n 500 \
      --canvases final --threads 1 --json "$OUT/shipped_v1_eps$eps.json" > "$OUT/shipped_v1_eps$eps.txt" &
done
wait
cat "$OUT"/shipped_v1_eps{16,8}.txt
