#!/usr/bin/env bash
# hv-decode vs ffmpeg on the same clip and the same output (8 fps, 256x256 centre crop, y4m): checks the
# frame counts agree, then prints the wall-time ratio (best of 3 each; goal ≤ 1.0).
set -euo pipefail
HV=$1; CLIP=$2
best() { local b=999999; for i in 1 2 3; do local s=$(date +%s.%N); "$@" > /dev/null; local e=$(date +%s.%N); b=$(python3 -c "print(min($b, $e - $s))"); done; echo $b; }
n_hv=$("$HV" "$CLIP" | grep -ac '^FRAME' || true)
n_ff=$(ffmpeg -v error -i "$CLIP" -vf fps=8,scale=256:256:force_original_aspect_ratio=increase,crop=256:256 -f yuv4mpegpipe - | grep -ac '^FRAME' || true)
[ "$n_hv" = "$n_ff" ] || { echo "bench-decode: frame counts differ: hv-decode $n_hv, ffmpeg $n_ff" >&2; exit 1; }
t_hv=$(best "$HV" "$CLIP")
t_ff=$(best ffmpeg -v error -i "$CLIP" -vf fps=8,scale=256:256:force_original_aspect_ratio=increase,crop=256:256 -f yuv4mpegpipe -)
python3 -c "print(f'hv-decode vs ffmpeg on $(basename $CLIP) ($n_hv frames): {$t_hv:.2f} s vs {$t_ff:.2f} s, ratio {$t_hv/$t_ff:.2f} (goal <= 1.0)')"
