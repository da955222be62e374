#!/usr/bin/env bash
# Issue 11 on one GPU: train every variant side by side (one process each, sharing the GPU), then
# measure them, then fill the GPU bench tables. Results land in RESULTS (tarballs + logs).
#
#   bash studies/gpu_family/gpu.sh RESULTS                        # one H100: under 10 minutes
#   PY=.venv/bin/python DEVICE=cpu CLEAN=1024 JUDGE=1024 BUDGET=120 EVAL_N=20 FLOOR_N=20 \
#     LANES="s3ta_n1 baseline" EXTRA="--set train.batch_size=32" bash studies/gpu_family/gpu.sh /tmp/smoke
#
# Stage 1: every lane trains clean on CLEAN canvases. Stage 2: PGD-3 towards random targets at
# 16/255 from stage 1's weights, the same number of canvases for every lane (so S3TA-1 and S3TA-8
# see the same data): the number is what the slowest lane's stage-1 rate says fits in what is left
# of BUDGET seconds (a PGD-3 canvas costs PGD_COST clean ones), rounded to 4 epochs of whole
# batches. Each checkpoint records the exact command that reproduces it with that fixed number.
set -uo pipefail
cd "$(dirname "$0")/../.."
RESULTS=$(mkdir -p "${1:?usage: studies/gpu_family/gpu.sh RESULTS_DIR}" && cd "$1" && pwd)
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
CLEAN=${CLEAN:-150016}          # stage-1 canvases per lane
JUDGE=${JUDGE:-600064}          # canvases for the clean judge of finding 3 (another seed, never attacked)
BUDGET=${BUDGET:-340}           # seconds from start to the end of training
PGD_COST=${PGD_COST:-4}         # stage-2 canvas cost over a stage-1 canvas (3 attack steps + the update)
EVAL_N=${EVAL_N:-1000}          # test canvases of the race grid and the transfer test
FLOOR_N=${FLOOR_N:-2000}        # test canvases of the floor metrics
EVAL_S=${EVAL_S:-90}            # seconds for the evaluation
EXTRA=${EXTRA:-}                # more --set overrides for every training run (smoke runs)
RUNS=${RUNS:-runs/findings}
BENCH=${BENCH:-1}               # 0: skip the GPU bench tables
LOG="$RESULTS/log.txt"

if [ "${CANARY:-1}" = 1 ]; then  # every code path on a few canvases first: a broken run costs seconds
  CANARY=0 BENCH=0 RUNS=runs/findings_canary CLEAN=64 JUDGE=64 BUDGET=70 EVAL_N=20 FLOOR_N=20 EVAL_S=${CANARY_EVAL_S:-45} \
    LANES=s3ta_n2 EXTRA="$EXTRA --set train.batch_size=32 --set train.val_size=32 --set train.warmup_steps=2" \
    bash "$0" "$RESULTS/canary"
  for f in runs/findings_canary/s3ta_n2/model.safetensors runs/findings_canary/eval/floors_s3ta_n2.json \
           runs/findings_canary/eval/grid_s3ta_n2/results.json runs/findings_canary/eval/transfer_gpu_judge.json; do
    [ -f "$f" ] || { echo "canary failed: no $f" | tee -a "$LOG"; tar czf "$RESULTS/canary.tar.gz" --exclude="*.safetensors" runs/findings_canary; exit 1; }
  done
  echo "canary passed" >> "$LOG"
fi
START=$(date +%s)
rm -rf "$RUNS"; mkdir -p "$RUNS"
say() { echo "[$(($(date +%s) - START)) s] $*" | tee -a "$LOG"; }

declare -A FAMILY ARGS
glances() { echo "--set model.glances=$1 --set train.glances_min=$1 --set train.glances_max=$1"; }
for n in 1 2 4 8; do FAMILY[s3ta_n$n]=s3ta; ARGS[s3ta_n$n]="$(glances $n)"; done
for n in 1 8; do FAMILY[s3ta_v4_n$n]=s3ta; ARGS[s3ta_v4_n$n]="$(glances $n) --set model.value_channels=4"; done
FAMILY[s3ta_wide]=s3ta
ARGS[s3ta_wide]="--set model.heads=4 --set model.key_channels=32 --set model.value_channels=32 --set model.glances=4 \
--set train.glances_min=1 --set train.glances_max=16 --set train.loss=all"
FAMILY[baseline]=baseline; ARGS[baseline]=""
LANES=${LANES:-s3ta_n1 s3ta_n2 s3ta_n4 s3ta_n8 s3ta_v4_n1 s3ta_v4_n8 s3ta_wide baseline}

until_() { local s=$(($1 - $(date +%s))); [ "$s" -ge 1 ] || s=1; echo "$s"; }  # seconds to a deadline, >= 1
train() {  # lane stage deadline extra-args...: stopped (TERM) at the deadline, keeping its last epoch
  local lane=$1 stage=$2 end=$3; shift 3
  # shellcheck disable=SC2086
  timeout "$(until_ "$end")" $PY -m programs.train --config "studies/gpu_family/configs/${FAMILY[$lane]}_$stage.json" ${ARGS[$lane]} $EXTRA "$@" \
      --device "$DEVICE" --threads 1 --no-progress >> "$RUNS/$lane.log" 2>&1
}

say "device: $($PY -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu", torch.__version__)')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader >> "$LOG" 2>&1 || true

# The judge: a clean baseline with another seed, trained beside the lanes and never attacked.
DEADLINE=$((START + BUDGET))
timeout "$(until_ "$DEADLINE")" $PY -m programs.train --config studies/gpu_family/configs/baseline_clean.json \
    --set train.seed=7 --set train.train_size="$JUDGE" $EXTRA --out "$RUNS/judge" --device "$DEVICE" --threads 1 \
    --no-progress > "$RUNS/judge.log" 2>&1 &
JUDGE_PID=$!

declare -A T0 T1
for lane in $LANES; do
  ( t=$(date +%s.%N); train "$lane" clean "$DEADLINE" --set train.train_size="$CLEAN" --out "$RUNS/${lane}_clean"
    echo "$(date +%s.%N) $t" > "$RUNS/${lane}_clean.time" ) &
done
wait $(jobs -p | grep -vx "$JUDGE_PID")
slowest=0
for lane in $LANES; do
  read -r t1 t0 < "$RUNS/${lane}_clean.time"
  s=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
  say "stage 1 $lane: $s s ($(tail -n 1 "$RUNS/$lane.log" | cut -c1-160))"
  slowest=$(awk -v a="$s" -v b="$slowest" 'BEGIN { print (a > b ? a : b) }')
done
left=$((BUDGET - ($(date +%s) - START) - 20))  # 20 s: start-up, validation and saving of stage 2
batch=$(echo "$EXTRA" | grep -o 'train.batch_size=[0-9]*' | tail -n 1 | cut -d= -f2); batch=${batch:-512}
per_epoch=$(awk -v c="$CLEAN" -v s="$slowest" -v k="$PGD_COST" -v l="$left" -v b="$batch" \
  'BEGIN { printf "%d", c / s / k * l / 4 / b }')
[ "$per_epoch" -ge 1 ] || per_epoch=1
SIZE=$((per_epoch * batch))
say "stage 2: $left s left, slowest stage 1 $slowest s -> PGD-3 on 4 x $SIZE canvases per lane"

for lane in $LANES; do
  ( train "$lane" pgd "$DEADLINE" --set train.train_size="$SIZE" \
        --set train.init_from="$RUNS/${lane}_clean/model.safetensors" --out "$RUNS/$lane"
    say "stage 2 $lane done (rc $?, 124: stopped at the deadline): $(tail -n 1 "$RUNS/$lane.log" | cut -c1-200)" ) &
done
wait $(jobs -p | grep -vx "$JUDGE_PID")
wait "$JUDGE_PID"; say "judge done (rc $?)"
tar czf "$RESULTS/train.tar.gz" --exclude='last.safetensors' --exclude='*_clean/*.safetensors' "$RUNS" 2>> "$LOG"
tar czf "$RESULTS/clean.tar.gz" "$RUNS"/*_clean/model.safetensors 2>> "$LOG"  # stage 1, for reruns of stage 2
say "training packed: $(du -h "$RESULTS/train.tar.gz" | cut -f1)"

# Evaluation: per model the floors (2,000 canvases) and the race grid (1,000 canvases, PGD-50
# towards random targets at 8 and 16/255, aimed at each of 1, 2, 4, 8 glances); then the judge.
ckpt() { if [ -f "$RUNS/$1/model.safetensors" ]; then echo "$RUNS/$1/model.safetensors"; else echo "$RUNS/$1/last.safetensors"; fi; }
EV=$RUNS/eval
mkdir -p "$EV"
EVAL_END=$(($(date +%s) + EVAL_S))
for lane in $LANES; do
  m=$(ckpt "$lane")
  [ -f "$m" ] || { say "no checkpoint for $lane"; continue; }
  ( timeout "$(until_ "$EVAL_END")" $PY -m programs.evaluate floors --checkpoint "$m" --n "$FLOOR_N" \
        --batch-size 500 --device "$DEVICE" --json "$EV/floors_$lane.json" > "$EV/floors_$lane.log" 2>&1
    timeout "$(until_ "$EVAL_END")" $PY -m programs.evaluate grid --checkpoints "$m" --n "$EVAL_N" \
        --glances 1 2 4 8 --steps 0 50 --eps 8 16 --targets random --batch-size 500 --device "$DEVICE" \
        --out "$EV/grid_$lane" > "$EV/grid_$lane.log" 2>&1; say "eval $lane: rc $?" ) &
done
models=()
for lane in $LANES; do [ -f "$(ckpt "$lane")" ] && models+=("$(ckpt "$lane")"); done
judge=$(ckpt judge)
declare -A JUDGES=([gpu_judge]="$judge" [docs_judge]=studies/judge/judge_baseline_clean.safetensors)
for name in gpu_judge docs_judge; do
  j=${JUDGES[$name]}
  [ -f "$j" ] || continue
  timeout "$(until_ "$EVAL_END")" $PY -m programs.evaluate transfer --checkpoints "${models[@]}" --judge "$j" \
      --n "$EVAL_N" --eps 32 --steps 20 --batch-size 500 --device "$DEVICE" \
      --json "$EV/transfer_$name.json" > "$EV/transfer_$name.log" 2>&1
  say "transfer against $j: rc $?"
done
wait
tar czf "$RESULTS/eval.tar.gz" "$EV" "$RUNS"/*.log 2>> "$LOG"
say "evaluation packed"

# The GPU bench tables (bench/README.md), on a quiet GPU.
if [ "$DEVICE" = cuda ] && [ "$BENCH" = 1 ]; then
  timeout 70 $PY -m bench.gpu_train --batch 64 --steps 5 --repeats 2 --md "$RESULTS/gpu_train.md" >> "$LOG" 2>&1
  say "gpu_train: rc $?"
  timeout 30 $PY -m bench.attack_overhead --device cuda --batch 32 --steps 20 --repeats 3 \
      --md "$RESULTS/attack_overhead_cuda.md" >> "$LOG" 2>&1
  say "attack_overhead: rc $?"
fi
say "done"
