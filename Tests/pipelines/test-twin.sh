#!/usr/bin/env bash
# The PyTorch twin (python/hitvideo, python/train_tokenizer.py) against the Swift tools, run by `make test` (target
# test-twin):
#   Tests/pipelines/test-twin.sh BIN_DIR MODEL_DIR
# 1. The shipped checkpoint MODEL_DIR on a fixed 8-frame 256² clip: the twin's tokens against hv-encode's, its render
#    against hv-render's (PSNR within 0.01 dB), and a load → save by the twin that keeps the checkpoint's bytes.
#    The same for a tiny random model with encoderSize, colour shortcuts, lookahead and no output norm, with masked
#    tokens under each hv-mask strategy.
# 2. One hv-train step from two random tiny checkpoints the twin wrote (so hv-train reads the twin's files): the losses
#    in train.csv and every gradient tensor (from the Adam moments of train-state.safetensors) against the twin's.
# 3. A tiny CPU run of train_tokenizer.py under torchrun, two processes (gloo): its checkpoint read by hv-encode,
#    hv-render and hv-encode --print-identity with no conversion, and the same tokens from hv-encode and the twin.
# Tolerances and what they were measured at: Tests/pipelines/twin_check.py and formats/twin.md.
# Exit status 77 (a skip for make test-twin): python3 lacks torch, numpy or zstandard; the reason is printed.
set -euo pipefail
BIN=$(cd "$1" && pwd)
MODEL=$(cd "$2" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/hv-twin-test.XXXXXX")
started=$SECONDS
trap 'rm -rf "$W"' EXIT
fail() { echo "test-twin: FAIL: $*" >&2; exit 1; }
note() { echo "test-twin: $*"; }
command -v python3 >/dev/null || { echo "test-twin: SKIP: python3 is not installed" >&2; exit 77; }
if ! missing=$(python3 -c 'import torch, numpy, zstandard' 2>&1); then
    echo "test-twin: SKIP: the twin needs torch, numpy and zstandard in python3 ($(echo "$missing" | tail -n 1)); pip install ./python" >&2
    exit 77
fi
# One thread per process: the test shares two cores with whatever else runs, and its models are tiny.
export OMP_NUM_THREADS=1
# The twin from this checkout, not an installed copy.
export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
check() { python3 "$ROOT/Tests/pipelines/twin_check.py" "$@"; }
note "torch $(python3 -c 'import torch; print(torch.__version__)')"

# ---- 1. shipped checkpoint: tokens, render, bytes ------------------------------------------------------------------
check setup "$W"
"$BIN/hv-encode" --model "$MODEL" "$W/c256.y4m" -o "$W/swift.hvt"
"$BIN/hv-render" --model "$MODEL" "$W/swift.hvt" -o "$W/swift.y4m"
# A tiny random model on the paths the shipped one does not take (encoderSize resize, colour shortcuts, lookahead,
# no output norm) and masked tokens under each strategy (the learned embedding is random here, not zero).
"$BIN/hv-encode" --model "$W/init-resized" "$W/c32.y4m" -o "$W/resized.hvt"
for s in repeat zero learned; do "$BIN/hv-mask" --strategy $s "$W/resized.hvt" -o "$W/resized-$s.hvt"; done
for t in "" -repeat -zero -learned; do "$BIN/hv-render" --model "$W/init-resized" "$W/resized$t.hvt" -o "$W/resized$t.y4m"; done
check shipped "$W" "$MODEL" || fail "the twin and the Swift tools disagree on tokens or renders (see above)"
for t in "" -repeat -zero -learned; do
    "$BIN/hv-render" --model "$W/init-resized" "$W/resized-twin$t.hvt" -o "$W/resized-twin-swift$t.y4m" \
        || fail "hv-render refused the twin's copy of resized$t.hvt"
    cmp -s "$W/resized$t.y4m" "$W/resized-twin-swift$t.y4m" || fail "hv-render renders the twin's copy of resized$t.hvt differently"
done

# ---- 2. one training step's losses and gradients ------------------------------------------------------------------
# tiny with hard codes; tiny2x at step 0 of a quantisation warm-up, where the decoder sees the continuous activations.
# Float32 convs (--bf16 off), as the twin's: on AMX CPUs hv-train's default rounds conv operands to bfloat16.
for n in tiny tiny2x; do
    warmup=0; [ $n = tiny2x ] && warmup=0.5
    "$BIN/hv-train" tokenizer --init "$W/init-$n" --out "$W/run-$n" --data "$W/c32.y4m" --fixed-window --steps 1 \
        --crop 32 --progressive 0 --truncation 0 --quantization-warmup $warmup --adversarial-weight 0 --l2-weight 1 \
        --residual-weight 0.001 --entropy-weight 0.005 --commit-weight 0.05 --perceptual-weight 0.2 --temporal-weight 0.3 \
        --checkpoint-every 1 --eval-every 1000 --bf16 off > "$W/hv-train-$n.log" 2>&1 || { cat "$W/hv-train-$n.log" >&2; fail "hv-train did not load the twin's $n checkpoint"; }
done
check grads "$W" tiny tiny2x || fail "one step's losses or gradients differ between hv-train and the twin (see above)"
check batched "$W" || fail "the twin's batched loss terms or window gathering differ from their per-sample forms"

# ---- 3. train_tokenizer.py under torchrun: its checkpoint in the Swift tools ---------------------------------------
python3 -m torch.distributed.run --nproc_per_node 2 --master_port $((29500 + RANDOM % 500)) \
    "$ROOT/python/train_tokenizer.py" --preset tiny2 --data "$W/c32.y4m" --out "$W/trained" --steps 4 --crop 32 \
    --threads 1 --progressive 0 --adversarial-weight 0.05 --adversarial-start 0.5 --ema 0.9 --storage bf16 \
    > "$W/torchrun.log" 2>&1 || { cat "$W/torchrun.log" >&2; fail "train_tokenizer.py under torchrun failed"; }
rows=$(($(wc -l < "$W/trained/train.csv") - 1))
[ "$rows" = 4 ] || fail "train.csv of the torchrun run has $rows rows, not 4"
id=$("$BIN/hv-encode" --model "$W/trained" --print-identity)
[[ $id == hitvideo-tiny2@* ]] || fail "hv-encode --print-identity on the twin's checkpoint printed '$id'"
"$BIN/hv-encode" --model "$W/trained" "$W/c32.y4m" -o "$W/trained-swift.hvt" || fail "hv-encode did not read the twin's checkpoint"
python3 -m hitvideo encode --model "$W/trained" "$W/c32.y4m" -o "$W/trained-twin.hvt" --threads 1 2>&1 \
    || fail "the twin did not encode with its own checkpoint"
check same-tokens "$W/trained-swift.hvt" "$W/trained-twin.hvt" || fail "hv-encode and the twin disagree on the twin-trained checkpoint"
"$BIN/hv-render" --model "$W/trained" "$W/trained-twin.hvt" -o "$W/trained.y4m" || fail "hv-render refused the twin's .hvt"
[ -s "$W/trained.y4m" ] || fail "hv-render wrote nothing"
# Both trainers continue one run: hv-train from the twin's checkpoint (no train state of its own: fresh moments at
# the checkpoint's step, appending to the twin's train.csv), then the twin from hv-train's.
"$BIN/hv-train" tokenizer --resume --out "$W/trained" --data "$W/c32.y4m" --steps 5 --crop 32 --adversarial-weight 0 \
    --storage bf16 > "$W/resume.log" 2>&1 || { cat "$W/resume.log" >&2; fail "hv-train --resume refused the twin's run folder"; }
python3 "$ROOT/python/train_tokenizer.py" --resume --data "$W/c32.y4m" --out "$W/trained" --steps 6 --crop 32 --threads 1 \
    --adversarial-weight 0 --storage bf16 > "$W/resume2.log" 2>&1 || { cat "$W/resume2.log" >&2; fail "the twin did not resume hv-train's run"; }
steps=$(cut -d, -f1 "$W/trained/train.csv" | tail -n 2 | tr '\n' ' ')
[ "$steps" = "5 6 " ] || fail "train.csv should end with hv-train's step 5 and the twin's step 6, ends with: $steps"
"$BIN/hv-encode" --model "$W/trained" "$W/c32.y4m" -o "$W/resumed.hvt" || fail "hv-encode did not read the resumed checkpoint"

# ---- 4. the GPU run's kit and script, on this CPU ------------------------------------------------------------------
# pipelines/gpu-kit.py packs y4m planes as H.264 and unpacks them (with the ffmpeg program here, OpenCV where it is
# installed, as on the GPU machine: the two must give the same bytes); pipelines/gpu-train.sh unpacks, probes,
# trains and splits the checkpoint as it would in a device call; --join puts it together for the Swift tools.
mkdir -p "$W/kitsrc/clips" && cp "$W/c32.y4m" "$W/kitsrc/clips/"
python3 "$ROOT/pipelines/gpu-kit.py" pack "$W/kit" --train "$W/kitsrc/clips" --heldout "$W/c32.y4m" > /dev/null
python3 "$ROOT/pipelines/gpu-kit.py" unpack "$W/kit" "$W/unkit" --decoder ffmpeg > /dev/null
check kit-planes "$W/c32.y4m" "$W/unkit/train/clips/c32.y4m" || fail "the kit does not give back the y4m planes"
if python3 -c "import cv2" 2>/dev/null; then
    python3 "$ROOT/pipelines/gpu-kit.py" unpack "$W/kit" "$W/unkit-cv" --decoder opencv > /dev/null
    cmp -s "$W/unkit/train/clips/c32.y4m" "$W/unkit-cv/train/clips/c32.y4m" || fail "OpenCV and ffmpeg unpack the kit differently"
fi
# Half a minute: importing torch, unpacking the kit and the timed probe come first, and on a loaded machine they
# take more than 12 s; the schedule is laid out only if the probe ends inside the minutes.
(cd "$ROOT" && DEVICE=cpu INIT="$W/init-tiny" CROP=32 BATCH=2 PROBE_STEPS=4 MINUTES=0.5 THREADS=1 KIT="$W/kit" \
    OUT="$W/gpu-out" WORK="$W/gpu-work" bash pipelines/gpu-train.sh > "$W/gpu-train.log" 2>&1) \
    || { cat "$W/gpu-train.log" >&2; fail "pipelines/gpu-train.sh failed on the CPU"; }
[ "$(grep -c ' s a step: ' "$W/gpu-train.log")" = 1 ] || fail "--fit-minutes did not lay the schedule out exactly once"
bash "$ROOT/pipelines/gpu-train.sh" --join "$W/gpu-out" "$W/gpu-joined" > /dev/null
cmp -s "$W/gpu-joined/model.safetensors" "$W/gpu-work/run/model.safetensors" || fail "--join does not give back the run's weights"
"$BIN/hv-encode" --model "$W/gpu-joined" "$W/c32.y4m" -o "$W/gpu.hvt" || fail "hv-encode did not read the GPU script's checkpoint"
# STEPS replays a fitted run's schedule: exactly that many steps, no probe.
(cd "$ROOT" && DEVICE=cpu INIT="$W/init-tiny" CROP=32 BATCH=2 STEPS=3 THREADS=1 KIT="$W/kit" \
    OUT="$W/gpu-out-steps" WORK="$W/gpu-work-steps" bash pipelines/gpu-train.sh > "$W/gpu-train-steps.log" 2>&1) \
    || { cat "$W/gpu-train-steps.log" >&2; fail "pipelines/gpu-train.sh with STEPS failed on the CPU"; }
[ "$(tail -n 1 "$W/gpu-out-steps/train.csv" | cut -d, -f1)" = 3 ] && ! grep -q ' s a step: ' "$W/gpu-train-steps.log" \
    || fail "STEPS=3 did not train exactly 3 steps without a probe"
# device-tree.sh in a scratch repository: slim keeps models/tokenizer and the code in what travels, takes the other
# checkpoints out of the index without touching the files, and restore leaves the repository as it was.
R="$W/repo"; mkdir -p "$R/models/tokenizer" "$R/models/old-run" "$R/pipelines"
cp "$ROOT/pipelines/device-tree.sh" "$R/pipelines/"
head -c 4096 /dev/zero > "$R/models/tokenizer/model.safetensors"; head -c 3145728 /dev/zero > "$R/models/old-run/model.safetensors"
(cd "$R" && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm t)
slim=$(cd "$R" && bash pipelines/device-tree.sh slim)
[[ $slim == "device-tree: 0.0 MiB"* ]] || fail "device-tree.sh slim left too much to travel: $slim"
[ -f "$R/models/old-run/model.safetensors" ] || fail "device-tree.sh slim removed a checkpoint's file"
[ -z "$(cd "$R" && git ls-files --others --exclude-standard)" ] || fail "device-tree.sh slim left the checkpoints showing as untracked"
(cd "$R" && bash pipelines/device-tree.sh restore > /dev/null)
[ -z "$(cd "$R" && git status --porcelain)" ] || fail "device-tree.sh restore did not leave the repository as it was"

note "passed in $((SECONDS - started)) s"
