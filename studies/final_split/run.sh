#!/usr/bin/env bash
# Every number of README.md and docs/findings.md, read once on the final test canvases
# (model/data/splits.py: canvases 8000..9999 at seed 1912, never used for a decision), paired
# where two models or glance counts are compared. One thread; about 25 minutes on one core.
#   bash studies/final_split/run.sh            # writes studies/final_split/*.json
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=studies/final_split
E="$PY -m programs.evaluate"
F="--canvases final --threads 1"
A=assets
# goal 6 and the pairs' clean accuracy: 2,000 final canvases, no attack
$E compare --a $A/baseline_default.safetensors --b $A/s3ta_default.safetensors --eps 0 --steps 0 --n 2000 $F \
    --json $OUT/clean_default.json
$E compare --a $A/baseline_cued.safetensors --b $A/s3ta_cued.safetensors --eps 0 --steps 0 --n 2000 $F \
    --json $OUT/clean_cued.json
# finding 1 / goal 4: S3TA (4 glances) against the same-recipe baseline, PGD-50 towards random targets
for eps in 8 16; do
  $E compare --a $A/baseline_default.safetensors --b $A/s3ta_default.safetensors --eps $eps --steps 50 --n 500 $F \
      --json $OUT/f1_default_eps$eps.json
  $E compare --a $A/baseline_cued.safetensors --b $A/s3ta_cued.safetensors --eps $eps --steps 50 --n 500 $F \
      --json $OUT/f1_cued_eps$eps.json
done
# finding 2 / goal 1 on the cued model: 2 glances against 8 (and 1 against 2, the task's design)
for eps in 8 16; do
  $E compare --a $A/s3ta_cued.safetensors --glances-a 2 --b $A/s3ta_cued.safetensors --glances-b 8 --eps $eps \
      --steps 50 --n 500 $F --json $OUT/f2_cued_2v8_eps$eps.json
done
$E compare --a $A/s3ta_cued.safetensors --glances-a 1 --b $A/s3ta_cued.safetensors --glances-b 2 --eps 16 \
    --steps 50 --n 500 $F --json $OUT/f2_cued_1v2_eps16.json
# goal 2: the attention pull (floors: PGD-50, targeted at 16/255 and 32/255)
$E floors --checkpoint $A/s3ta_default.safetensors --n 500 --attack-steps 50 $F --json $OUT/floors_default_pgd50.json
# goal 3: the judge, under the app's default attack (PGD-50 of 2/255 steps at 32/255)
$E transfer --checkpoints $A/s3ta_default.safetensors $A/baseline_default.safetensors \
    --judge studies/judge/judge_noise.safetensors --n 500 --eps 32 --steps 50 --step-size 2 $F \
    --json $OUT/judge_default.json
