#!/bin/bash
# Train the tokenizer on a lent GPU with the PyTorch twin, inside one device call, and hand the checkpoint back.
#
# On this machine, once per task (docs/gpu-run.md):
#   make gpu-kit                      # .gpukit/: the training footage, ~30 MiB (pipelines/gpu-kit.py)
#   pipelines/device-tree.sh slim     # the committed run checkpoints leave the index, so the tree fits 64 MiB
# then the device tool's `run`, with carry [".gpukit"], timeout_s 600:
#   MINUTES=7 pipelines/gpu-train.sh
# and here, from the files that come back:
#   pipelines/device-tree.sh restore
#   pipelines/gpu-train.sh --join FILES_AT out/gpu-run     # then hv-train diagnose --model out/gpu-run …
#
# What runs there: the kit back to y4m (OpenCV), a 12-step probe that times a step and fails early and cheaply if
# anything is wrong, then the real run sized to MINUTES by that timing, so that its cosine schedule ends when the
# time does. The run continues INIT (the shipped tokenizer) with stage 3's recipe on BATCH 128² crops a step.
# Everything goes to $OUT: config.json, the BF16 weights in parts of at most 15 MiB (a file that comes back may
# be at most 16 MiB), train.csv and the log.
# DEVICE=cpu runs the same on this machine (the test does, with a tiny kit and MINUTES=0.1).
set -euo pipefail
if [ "${1:-}" = "--join" ]; then
    [ $# = 3 ] || { echo "usage: gpu-train.sh --join FILES_AT DEST" >&2; exit 64; }
    src=$2 dest=$3
    ls "$src"/model.safetensors.part-* > /dev/null 2>&1 || { echo "gpu-train: error: no weight parts in $src" >&2; exit 66; }
    mkdir -p "$dest"
    cat "$src"/model.safetensors.part-* > "$dest/model.safetensors.tmp"
    mv "$dest/model.safetensors.tmp" "$dest/model.safetensors"
    cp "$src/config.json" "$dest/"
    for f in train.csv gpu-train.log; do [ -f "$src/$f" ] && cp "$src/$f" "$dest/"; done
    echo "gpu-train: $dest"
    exit 0
fi

DEVICE=${DEVICE:-cuda}
MINUTES=${MINUTES:-7}
BATCH=${BATCH:-16}
LR=${LR:-3e-5}
INIT=${INIT:-models/tokenizer}
KIT=${KIT:-.gpukit}
WORK=${WORK:-/tmp/gpu-train}
OUT=${OUT:-out/gpu-train-out}
SEED=${SEED:-11}
CROP=${CROP:-128}
PROBE_STEPS=${PROBE_STEPS:-12}
THREADS=${THREADS:-0}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
log="$OUT/gpu-train.log"
exec > >(tee -a "$log") 2>&1

[ "$DEVICE" = cpu ] || nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
python3 pipelines/gpu-kit.py unpack "$KIT" "$WORK/data"
sources=$(find "$WORK/data/train" -mindepth 1 -maxdepth 1 -type d | sort)
[ -n "$sources" ] || { echo "gpu-train: error: no training sources in $KIT" >&2; exit 66; }

# The recipe of stage 3 (make/train.mk, TOKENIZER_C128_RECIPE) but the batch and the rate.
recipe=(--device "$DEVICE" --init "$INIT" --data $sources --heldout "$WORK"/data/heldout/*.y4m
        --crop "$CROP" --batch "$BATCH" --threads "$THREADS" --lr "$LR" --l2-weight 1 --entropy-weight 0.005 --commit-weight 0.05
        --perceptual-weight 0.2 --progressive 0,0,0 --adversarial-weight 0 --truncation 0.25 --residual-weight 0.001
        --ema 0.999 --storage bf16 --quantization-warmup 0 --seed "$SEED")

start=$(date +%s)
python3 python/train_tokenizer.py "${recipe[@]}" --steps 100000 --stop-at "$PROBE_STEPS" --eval-every 100000 \
    --checkpoint-every 100000 --out "$WORK/probe"
# Seconds a step: the median of the probe's steps after the first third (allocation and autotuning).
step_s=$(python3 -c "
import csv, statistics
rows = [float(r['seconds']) for r in csv.DictReader(open('$WORK/probe/train.csv')) if int(r['step']) > $PROBE_STEPS // 3]
print(statistics.median(rows))")
left=$(python3 -c "print(max(0.0, $MINUTES * 60 - ($(date +%s) - $start)))")
steps=$(python3 -c "print(max(2, int($left / ($step_s * 1.08))))")   # 8 % for evaluations and checkpoints
echo "gpu-train: $step_s s a step (batch $BATCH): $steps steps in the $left s left"
python3 python/train_tokenizer.py "${recipe[@]}" --steps "$steps" --eval-every $(( steps / 8 + 1 )) \
    --checkpoint-every $(( steps / 4 + 1 )) --minutes "$(python3 -c "print($left / 60 * 1.05)")" --out "$WORK/run"

cp "$WORK/run/config.json" "$WORK/run/train.csv" "$OUT/"
split -b 15M -d "$WORK/run/model.safetensors" "$OUT/model.safetensors.part-"
ls -la "$OUT"
