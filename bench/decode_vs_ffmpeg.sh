#!/usr/bin/env bash
# hv-decode vs ffmpeg on the same clip and the same output (8 fps, 256x256 centre crop, y4m): checks the
# frame counts agree, then prints the wall-time ratio (best of 3 each; goal ≤ 1.0).
set -euo pipefail
HV=$1; CLIP=$2
best() { local b=999999; for i in 1 2 3; do local s=$(date +%s.%N); "$@" > /dev/null; local e=$(date +%s.%N); b=$(python3 -c "print(min($b, $e - $s))"); done; echo $b; }
# Frames of a y4m stream on stdin: header line, then per frame "FRAME...\n" + the picture (4:2:0, 4:4:4 or mono).
count() { python3 -c '
import sys
f = sys.stdin.buffer; hdr = f.readline().split(); w = int(hdr[1][1:]); h = int(hdr[2][1:]); n = 0
cs = next((t[1:].decode() for t in hdr if t.startswith(b"C")), "420jpeg")
size = w * h * 3 if cs.startswith("444") else w * h if cs == "mono" else w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)
while f.readline().startswith(b"FRAME"):
    if len(f.read(size)) < size: break
    n += 1
print(n)'; }
n_hv=$("$HV" "$CLIP" | count)
n_ff=$(ffmpeg -v error -i "$CLIP" -vf fps=8,scale=256:256:force_original_aspect_ratio=increase,crop=256:256 -f yuv4mpegpipe - | count)
[ "$n_hv" = "$n_ff" ] || { echo "bench-decode: frame counts differ: hv-decode $n_hv, ffmpeg $n_ff" >&2; exit 1; }
t_hv=$(best "$HV" "$CLIP")
t_ff=$(best ffmpeg -v error -i "$CLIP" -vf fps=8,scale=256:256:force_original_aspect_ratio=increase,crop=256:256 -f yuv4mpegpipe -)
python3 -c "print(f'hv-decode vs ffmpeg on $(basename $CLIP) ($n_hv frames): {$t_hv:.2f} s vs {$t_ff:.2f} s, ratio {$t_hv/$t_ff:.2f} (goal <= 1.0)')"
