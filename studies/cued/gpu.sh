#!/usr/bin/env bash
# The cued task on one GPU: the two ways in that a 2-core session could not try (studies/NOTEBOOK.md,
# "A harder task..."), side by side, at equal canvases: far longer plain training, and the same run
# with the attention guide (glance 1 on the cue, later glances on the named item) over its first
# half. Both: the shipped width trained for 4 glances, loss on the last, from assets/s3ta_clean.
# Then the GPU bench table (bench/gpu_train.py) on a quiet GPU. Results land in RESULTS.
#
#   bash studies/cued/gpu.sh RESULTS                                  # one H100: about 8 minutes
#   PY=.venv/bin/python DEVICE=cpu PROBE=1024 BUDGET=60 WORKERS=0 BENCH=0 bash studies/cued/gpu.sh /tmp/smoke
#
# A probe epoch (PROBE canvases per lane, both lanes at once) measures the rate; the lanes then get
# EPOCHS epochs of the same size, what the probe's rate says fits in BUDGET seconds, each
# checkpoint's recipe recording that fixed size (so a rerun needs no GPU timing); SIZE=N skips
# the probe (the probe's start-up made the first run's size a third of what fitted).
set -uo pipefail
cd "$(dirname "$0")/../.."
RESULTS=$(mkdir -p "${1:?usage: studies/cued/gpu.sh RESULTS_DIR}" && cd "$1" && pwd)
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-512}
PROBE=${PROBE:-15360}        # canvases of the probe epoch per lane
BUDGET=${BUDGET:-330}        # seconds for the two lanes' training after the probe
EPOCHS=${EPOCHS:-6}
SIZE=${SIZE:-}               # canvases per epoch per lane; empty: sized by a probe epoch
WORKERS=${WORKERS:-6}        # loader processes per lane (canvases are drawn on the CPU)
BENCH=${BENCH:-1}
RUNS=${RUNS:-runs/cued_gpu}
LOG="$RESULTS/log.txt"
START=$(date +%s)
say() { echo "[$(($(date +%s) - START)) s] $*" | tee -a "$LOG"; }
rm -rf "$RUNS"; mkdir -p "$RUNS"

say "device: $($PY -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu", torch.__version__)')"

if [ "$DEVICE" = cuda ] && [ "$BENCH" = 1 ]; then  # first, while the GPU is quiet
  timeout 110 $PY -m bench.gpu_train --batch 64 --steps 5 --repeats 2 --md "$RESULTS/gpu_train.md" >> "$LOG" 2>&1
  say "gpu_train: rc $?"
fi

declare -A ARGS=([cued_long]="" [cued_guided]="--set train.guide_weight=1.0 --set train.guide_fraction=0.5")
COMMON="--config configs/s3ta_clean.json --set train.task=cued-fashion-mnist --set model.glances=4 \
--set train.glances_min=4 --set train.glances_max=4 --set train.loss=last --set train.batch_size=$BATCH \
--set train.num_workers=$WORKERS --set train.seed=1 --set train.init_from=assets/s3ta_clean.safetensors \
--device $DEVICE --threads 1 --no-progress"
train() {  # lane out size epochs seconds
  # shellcheck disable=SC2086
  timeout "$5" $PY -m programs.train $COMMON ${ARGS[$1]} --set train.train_size="$3" --set train.epochs="$4" \
      --out "$2" >> "$RUNS/$1.log" 2>&1
}

if [ -n "${SIZE:-}" ]; then  # canvases per epoch given: no probe
  say "$EPOCHS epochs of $SIZE canvases per lane (given), batch $BATCH"
else
t0=$(date +%s.%N)
for lane in cued_long cued_guided; do train "$lane" "$RUNS/${lane}_probe" "$PROBE" 1 120 & done
wait
t1=$(date +%s.%N)
probe=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
for lane in cued_long cued_guided; do say "probe $lane: $(tail -n 1 "$RUNS/$lane.log" | cut -c1-200)"; done
[ -f "$RUNS/cued_guided_probe/model.safetensors" ] || { say "probe failed"; tar czf "$RESULTS/logs.tar.gz" "$RUNS"/*.log; exit 1; }
# The probe's time includes start-up and validation: the rate is an underestimate, the size safe.
SIZE=$(awk -v p="$PROBE" -v s="$probe" -v b="$BUDGET" -v e="$EPOCHS" -v k="$BATCH" \
  'BEGIN { n = int(p / s * (b - 25) / e / k); if (n < 1) n = 1; print n * k }')
say "probe: $probe s for $PROBE canvases per lane -> $EPOCHS epochs of $SIZE canvases per lane"
fi

for lane in cued_long cued_guided; do
  ( train "$lane" "$RUNS/$lane" "$SIZE" "$EPOCHS" "$BUDGET"
    say "$lane: rc $? (124: stopped at the budget) $(tail -n 1 "$RUNS/$lane.log" | cut -c1-240)" ) &
done
wait
for lane in cued_long cued_guided; do  # the resumable state only where the run did not finish
  [ -f "$RUNS/$lane/model.safetensors" ] && rm -f "$RUNS/$lane/last.safetensors"
done
tar czf "$RESULTS/cued_gpu.tar.gz" --exclude='*_probe' "$RUNS" 2>> "$LOG"
say "packed: $(du -h "$RESULTS/cued_gpu.tar.gz" | cut -f1)"
