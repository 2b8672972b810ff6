#!/usr/bin/env bash
# Builds a tiny, self-contained pretokenization setup from the built tools and ffmpeg alone (no footage, no
# shipped tokenizer), for Tests/pipelines/test-pretokenize.sh and bench-pretokenize.sh:
#   Tests/pipelines/tiny-setup.sh BIN_DIR DIR VIDEOS SECONDS [no-tokenizer]
# DIR/videos/vNN.mp4: VIDEOS synthetic videos (ffmpeg lavfi sources, 64x48, 8 fps) of SECONDS seconds each;
# DIR/videos.csv: id,path,caption metadata for `hv-manifest add --metadata`;
# DIR/tok: a throwaway `tiny` tokenizer (32x32, 8 fps, 8-frame clips) trained for 2 steps (not with no-tokenizer).
# Idempotent: what exists is kept.
set -euo pipefail
BIN=$1; DIR=$2; VIDEOS=$3; SECONDS_PER_VIDEO=$4; TOKENIZER=${5:-tokenizer}
mkdir -p "$DIR/videos"
sources=(testsrc testsrc2 rgbtestsrc smptebars smptehdbars mandelbrot cellauto life yuvtestsrc colorspectrum)
csv=$DIR/videos.csv.tmp.$$
echo 'id,path,caption' > "$csv"
for ((i = 0; i < VIDEOS; i++)); do
    src=${sources[i % ${#sources[@]}]}
    name=$(printf 'v%02d' "$i")
    out=$DIR/videos/$name.mp4
    if [ ! -s "$out" ]; then
        ffmpeg -nostdin -v error -f lavfi -i "$src=size=64x48:rate=8:duration=$SECONDS_PER_VIDEO" \
            -frames:v $((8 * SECONDS_PER_VIDEO)) -pix_fmt yuv420p -c:v libx264 -preset ultrafast -y "$out.tmp.mp4" 2>/dev/null \
        || ffmpeg -nostdin -v error -f lavfi -i "testsrc=size=64x48:rate=8:duration=$SECONDS_PER_VIDEO" \
            -frames:v $((8 * SECONDS_PER_VIDEO)) -pix_fmt yuv420p -c:v mpeg4 -y "$out.tmp.mp4"
        mv -f "$out.tmp.mp4" "$out"
    fi
    printf '%s,videos/%s.mp4,"synthetic %s test pattern, number %d"\n' "$name" "$name" "$src" "$i" >> "$csv"
done
mv -f "$csv" "$DIR/videos.csv"
if [ "$TOKENIZER" != no-tokenizer ] && [ ! -s "$DIR/tok/model.safetensors" ]; then
    rm -rf "$DIR/tok-run" "$DIR/tok-data"; mkdir -p "$DIR/tok-data"
    "$BIN/hv-decode" "$DIR/videos/v00.mp4" --size 32 --fps 8 --frames 16 -o "$DIR/tok-data/a.y4m"
    "$BIN/hv-train" tokenizer --preset tiny --crop 32 --steps 2 --data "$DIR/tok-data/a.y4m" --out "$DIR/tok-run" >/dev/null 2>&1 \
        || { echo "tiny-setup: error: hv-train tokenizer failed" >&2; "$BIN/hv-train" tokenizer --preset tiny --crop 32 --steps 2 --data "$DIR/tok-data/a.y4m" --out "$DIR/tok-run"; exit 1; }
    "$BIN/hv-train" export --from "$DIR/tok-run" --to "$DIR/tok.tmp" --storage f32 >/dev/null
    rm -rf "$DIR/tok"; mv "$DIR/tok.tmp" "$DIR/tok"; rm -rf "$DIR/tok-run" "$DIR/tok-data"
fi
