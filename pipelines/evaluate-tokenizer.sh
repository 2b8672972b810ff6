#!/usr/bin/env bash
# Held-out evaluation of a tokenizer checkpoint, as reported in the README:
#   pipelines/evaluate-tokenizer.sh BIN_DIR MODEL_DIR OUT_DIR clip1.y4m [clip2.y4m ...]
# For the first 64 frames of each clip: encode; render from layer 3, 3+2, 3+2+1 and all layers (a one-layer
# model such as the `single` baseline: from its one layer); PSNR, SSIM,
# MS-SSIM and bits per pixel; then mask the dense layer at ratios 0.5/0.7/0.85 with the repeat, zero and learned
# strategies and report the masked fraction, stored bpp and PSNR (the paper's Fig. 7). Prints markdown tables.
# REFINE=N encodes with `hv-encode --refine N` (decoder-guided refinement of the dense layer's codes); the masked
# rows then come from `hv-encode --refine N --mask-ratio R --mask-strategy S` (the kept tokens refined for the masked
# render) instead of hv-mask on the refined stream.
set -euo pipefail
REFINE=${REFINE:-0}
BIN=$1; MODEL=$2; OUT=$3; shift 3
mkdir -p "$OUT"
# Layer prefixes, coarsest first: "3 3,2 3,2,1 3,2,1,0" for the paper's hierarchy, "0" for the single baseline.
PREFIXES=$(python3 -c "
import json, sys
n = len(json.load(open(sys.argv[1] + '/config.json'))['layers'])
print(' '.join(','.join(str(m) for m in range(n - 1, k - 1, -1)) for k in range(n - 1, -1, -1)))" "$MODEL")
metric() { "$BIN/hv-metrics" "$1" "$2" --json | python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"{r['psnr']:.2f} {r['ssim']:.4f} {r['msssim']:.4f}\")"; }
echo "| clip | layers | PSNR dB | SSIM | MS-SSIM | raw bpp |"
echo "| --- | --- | --- | --- | --- | --- |"
for clip in "$@"; do
    name=$(basename "$clip" .y4m)
    "$BIN/hv-decode" "$clip" --frames 64 -o "$OUT/$name.ref.y4m"
    "$BIN/hv-encode" --model "$MODEL" --refine "$REFINE" "$OUT/$name.ref.y4m" -o "$OUT/$name.hvt"
    bpp=$("$BIN/hv-metrics" --tokens "$OUT/$name.hvt" | awk '/bpp raw tokens/ {print $4}')
    for layers in $PREFIXES; do
        "$BIN/hv-render" --model "$MODEL" "$OUT/$name.hvt" --layers $layers -o "$OUT/$name.rec.y4m"
        read p s m <<< "$(metric "$OUT/$name.ref.y4m" "$OUT/$name.rec.y4m")"
        echo "| $name | $layers | $p | $s | $m | ${bpp} |"
    done
done
echo
echo "| clip | strategy | ratio cap | masked (L0) | stored bpp | PSNR dB |"
echo "| --- | --- | --- | --- | --- | --- |"
for clip in "$@"; do
    name=$(basename "$clip" .y4m)
    for strategy in repeat zero learned; do
        for ratio in 0.5 0.7 0.85; do
            if [ "$REFINE" -gt 0 ]; then
                "$BIN/hv-encode" --model "$MODEL" --refine "$REFINE" --mask-ratio $ratio --mask-strategy $strategy \
                    "$OUT/$name.ref.y4m" -o "$OUT/$name.m.hvt"
            else
                "$BIN/hv-mask" "$OUT/$name.hvt" --strategy $strategy --ratio $ratio -o "$OUT/$name.m.hvt"
            fi
            masked=$("$BIN/hv-info" "$OUT/$name.m.hvt" --json | python3 -c "import json,sys; r=json.load(sys.stdin); l=[x for c in r['clips'] for x in c['layers'] if x['layer']=='L0']; print(f\"{sum(x['maskedTokens'] for x in l)/sum(x['tokens'] for x in l):.3f}\")")
            stored=$("$BIN/hv-metrics" --tokens "$OUT/$name.m.hvt" | awk '/bpp stored/ {print $5}')
            "$BIN/hv-render" --model "$MODEL" "$OUT/$name.m.hvt" -o "$OUT/$name.m.y4m"
            read p s m <<< "$(metric "$OUT/$name.ref.y4m" "$OUT/$name.m.y4m")"
            echo "| $name | $strategy | $ratio | $masked | $stored | $p |"
        done
    done
done
