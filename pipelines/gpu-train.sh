#!/bin/bash
# Train the tokenizer on a lent GPU with the PyTorch twin, inside one device call, and hand the checkpoint back.
#
# On this machine, once per task (docs/gpu-run.md):
#   make gpu-kit                      # .gpukit/: the training footage, ~23 MiB (pipelines/gpu-kit.py)
#   pipelines/device-tree.sh slim     # the committed run checkpoints leave the index, so the tree fits 64 MiB
# then the device tool's `run`, with carry [".gpukit"], timeout_s 600:
#   MINUTES=8 pipelines/gpu-train.sh
# and here, from the files that come back:
#   pipelines/device-tree.sh restore
#   pipelines/gpu-train.sh --join FILES_AT out/gpu-run     # then hv-train diagnose --model out/gpu-run …
#
# What runs there: the kit back to y4m (OpenCV), then one training process whose first PROBE_STEPS steps are
# timed (a package missing or the memory at BATCH fails it within seconds) and whose cosine schedule is then laid
# out over what fits in MINUTES (python/train_tokenizer.py --fit-minutes), so that it ends when the time does.
# The run continues INIT (the shipped tokenizer) with stage 3's recipe on BATCH 128² crops a step.
# Everything goes to $OUT: config.json, the BF16 weights in parts of at most 15 MiB (a file that comes back may
# be at most 16 MiB), train.csv and the log.
# DEVICE=cpu runs the same on this machine (test-twin does, with a tiny kit and model).
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
MINUTES=${MINUTES:-8}
BATCH=${BATCH:-64}
LR=${LR:-1e-4}
INIT=${INIT:-models/tokenizer}
KIT=${KIT:-.gpukit}
WORK=${WORK:-/tmp/gpu-train}
OUT=${OUT:-out/gpu-train-out}
SEED=${SEED:-11}
CROP=${CROP:-128}
PROBE_STEPS=${PROBE_STEPS:-12}
THREADS=${THREADS:-0}
export PYTHONUNBUFFERED=1
script_start=$(date +%s)
mkdir -p "$OUT" "$WORK"
log="$OUT/gpu-train.log"
exec > >(tee -a "$log") 2>&1

[ "$DEVICE" = cpu ] || nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
rm -rf "$WORK/data" "$WORK/run"   # a rerun starts afresh
python3 pipelines/gpu-kit.py unpack "$KIT" "$WORK/data"
sources=$(find "$WORK/data/train" -mindepth 1 -maxdepth 1 -type d | sort)
[ -n "$sources" ] || { echo "gpu-train: error: no training sources in $KIT" >&2; exit 66; }

# The recipe of stage 3 (make/train.mk, TOKENIZER_C128_RECIPE) but the batch and the rate.
recipe=(--device "$DEVICE" --init "$INIT" --data $sources --heldout "$WORK"/data/heldout/*.y4m
        --crop "$CROP" --batch "$BATCH" --threads "$THREADS" --lr "$LR" --l2-weight 1 --entropy-weight 0.005 --commit-weight 0.05
        --perceptual-weight 0.2 --progressive 0,0,0 --adversarial-weight 0 --truncation 0.25 --residual-weight 0.001
        --ema 0.999 --storage bf16 --quantization-warmup 0 --seed "$SEED")

# --fit-minutes: the first PROBE_STEPS steps are timed, and the schedule is laid out over what fits in the minutes
# left since this script started (less what unpacking took), with 8 % kept for evaluations and checkpoints.
# STEPS instead lays it out over that many steps whatever they take (a repro of a fitted run: its train.csv's last step).
if [ -n "${STEPS:-}" ]; then
    python3 python/train_tokenizer.py "${recipe[@]}" --steps "$STEPS" --out "$WORK/run"
else
    fit=$(python3 -c "print(max(0.05, $MINUTES - ($(date +%s) - $script_start) / 60))")
    python3 python/train_tokenizer.py "${recipe[@]}" --steps 100000 --fit-minutes "$fit" --fit-probe "$PROBE_STEPS" \
        --out "$WORK/run"
fi

cp "$WORK/run/config.json" "$WORK/run/train.csv" "$OUT/"
split -b 15M -d "$WORK/run/model.safetensors" "$OUT/model.safetensors.part-"
ls -la "$OUT"
