#!/usr/bin/env bash
# Issue 11, the receptive-field lever on one GPU (studies/receptive_field/PLAN.md, addendum 5): the local
# S3TA-1, the local S3TA-8 and the same-recipe local baseline, each from its third CPU stage, get a
# fourth PGD-3 stage (16/255, random targets, seed 4) of the same size, side by side; then the race
# grid of the three stage-3 and the three stage-4 checkpoints on the same test canvases.
#
#   bash studies/receptive_field/gpu.sh RESULTS            # one H100 or H200, under 10 minutes in all
#   PY=.venv/bin/python DEVICE=cpu SIZE=256 EVAL_N=20 WORKERS=0 TOTAL=900 bash studies/receptive_field/gpu.sh /tmp/rf_smoke
#
# A probe of two epochs (PROBE canvases each per lane, the three lanes at once) measures the slowest
# lane's rate over its second epoch; the stage then gets EPOCHS epochs of what that rate says fits before the
# training deadline (SIZE=N skips the probe). Each checkpoint records the exact command, so a rerun
# needs no timing. Everything lands in RESULTS: log.txt and one tarball of runs/rf_gpu.
set -uo pipefail
cd "$(dirname "$0")/../.."
RESULTS=$(mkdir -p "${1:?usage: studies/receptive_field/gpu.sh RESULTS_DIR}" && cd "$1" && pwd)
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
TOTAL=${TOTAL:-540}          # seconds for the whole script
EVAL_S=${EVAL_S:-150}        # seconds kept for the grids at the end
PROBE=${PROBE:-6400}         # canvases of each of the two probe epochs per lane
EPOCHS=${EPOCHS:-2}
SIZE=${SIZE:-}               # canvases per epoch per lane; empty: sized by the probe
WORKERS=${WORKERS:-4}        # loader processes per lane (canvases are drawn on the CPU)
EVAL_N=${EVAL_N:-1000}
RUNS=${RUNS:-runs/rf_gpu}
declare -A FROM=([g1]=${G1_FROM:-runs/abl_local_g1_pgd3/model.safetensors}
                 [g8]=${G8_FROM:-runs/abl_local_g8_pgd3/model.safetensors}
                 [base]=${BASE_FROM:-runs/abl_localbase_pgd3/model.safetensors})
LOCAL="--set model.backbone=local --set model.backbone_widths=null"
declare -A ARGS=([g1]="--set model.glances=1 --set train.glances_min=1 --set train.glances_max=1 $LOCAL"
                 [g8]="--set model.glances=8 --set train.glances_min=8 --set train.glances_max=8 $LOCAL"
                 [base]="--set model.arch=baseline --set model.glances=1 --set train.glances_min=1 --set train.glances_max=1 $LOCAL")
LANES=${LANES:-g1 g8 base}
START=$(date +%s)
LOG="$RESULTS/log.txt"
say() { echo "[$(($(date +%s) - START)) s] $*" | tee -a "$LOG"; }
left() { local s=$((START + $1 - $(date +%s))); [ "$s" -ge 1 ] || s=1; echo "$s"; }  # seconds to START + $1
rm -rf "$RUNS"; mkdir -p "$RUNS"

say "device: $($PY -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu", torch.__version__)')"
for lane in $LANES; do [ -f "${FROM[$lane]}" ] || { say "missing ${FROM[$lane]}"; exit 1; }; done
TRAIN_END=$((TOTAL - EVAL_S))

train() {  # lane out size epochs: stopped at the training deadline
  # shellcheck disable=SC2086
  timeout "$(left "$TRAIN_END")" $PY -m programs.train --config studies/ablation/configs/narrow_pgd.json ${ARGS[$1]} \
      --set train.init_from="${FROM[$1]}" --set train.seed=4 --set train.train_size="$3" --set train.epochs="$4" \
      --set train.num_workers="$WORKERS" --out "$2" --device "$DEVICE" --threads 1 --no-progress >> "$RUNS/$1.log" 2>&1
}

if [ -z "$SIZE" ]; then
  for lane in $LANES; do train "$lane" "$RUNS/probe_$lane" "$PROBE" 2 & done
  wait
  rate=$($PY - "$RUNS" "$PROBE" $LANES <<'EOF'
import json, sys
runs, probe, lanes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
# the second epoch alone: the first one's wall time holds the start-up (a third of the steady rate)
times = [[e["wall_time_s"] for e in json.load(open(f"{runs}/probe_{l}/metrics.json"))] for l in lanes]
rates = [probe / (t[1] - t[0]) for t in times]
print(f"{min(rates):.1f}")
EOF
  ) || { say "probe failed"; tar czf "$RESULTS/rf_gpu.tar.gz" "$RUNS"; exit 1; }
  # 40 s for start-up and the two validations; whole batches of 128
  SIZE=$(awk -v r="$rate" -v s="$(left "$TRAIN_END")" -v e="$EPOCHS" 'BEGIN { n = int(r * (s - 40) / e / 128); if (n < 1) n = 1; print n * 128 }')
  say "probe: slowest lane $rate canvases/s -> $EPOCHS epochs of $SIZE canvases per lane"
else
  say "$EPOCHS epochs of $SIZE canvases per lane (given)"
fi

for lane in $LANES; do
  ( train "$lane" "$RUNS/$lane" "$SIZE" "$EPOCHS"
    say "$lane: rc $? (124: stopped at the deadline) $(tail -n 1 "$RUNS/$lane.log" | cut -c1-300)" ) &
done
wait
for lane in $LANES; do [ -f "$RUNS/$lane/model.safetensors" ] && rm -f "$RUNS/$lane/last.safetensors"; done

grid() {  # out glances checkpoints...
  local out=$1 glances=$2; shift 2
  # shellcheck disable=SC2086
  timeout "$(left "$((TOTAL - 10))")" $PY -m programs.evaluate grid --checkpoints "$@" --n "$EVAL_N" \
      --glances $glances --steps 0 50 --eps 8 16 --targets random --batch-size 500 --device "$DEVICE" \
      --threads 2 --out "$RUNS/$out" >> "$RUNS/$out.log" 2>&1
  say "grid $out: rc $?"
}
s4=(); for lane in g1 g8; do [ -f "$RUNS/$lane/model.safetensors" ] && s4+=("$RUNS/$lane/model.safetensors"); done
grid grid_s3ta "1 2 4 8" "${FROM[g1]}" "${FROM[g8]}" "${s4[@]}" &
b=("${FROM[base]}"); [ -f "$RUNS/base/model.safetensors" ] && b+=("$RUNS/base/model.safetensors")
grid grid_base 1 "${b[@]}" &
wait
tar czf "$RESULTS/rf_gpu.tar.gz" --exclude='probe_*/*.safetensors' "$RUNS"
say "packed: $(du -h "$RESULTS/rf_gpu.tar.gz" | cut -f1)"
