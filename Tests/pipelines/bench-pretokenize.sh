#!/usr/bin/env bash
# Pretokenization throughput, `make bench` (target bench-pretokenize in pipelines/pretokenize.mk):
#   Tests/pipelines/bench-pretokenize.sh BIN_DIR DIR [CLIPS] [TOKENIZER_DIR] [VIDEO_DIR]
# Runs `make -jN pretokenize` from a fresh copy of the same manifest for N = 1 and 2 and prints clips per hour
# and the -j2/-j1 ratio (goal >= 1.7x on 2 free cores). Default: CLIPS (48) synthetic 2 s clips and a tiny
# tokenizer trained on the fly (Tests/pipelines/tiny-setup.sh); with TOKENIZER_DIR and VIDEO_DIR (e.g.
# models/tokenizer data/footage/train) every 8 s clip of the videos in VIDEO_DIR with that tokenizer.
set -euo pipefail
BIN=$(cd "$1" && pwd); DIR=$2; CLIPS=${3:-48}; TOK=${4:-}; VIDEOS=${5:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
M() { "$BIN/hv-manifest" "$@"; }
rm -f "$DIR"/pristine.db*
if [ -z "$TOK" ]; then
    videos=$(( (CLIPS + 7) / 8 ))
    "$ROOT/Tests/pipelines/tiny-setup.sh" "$BIN" "$DIR/setup" "$videos" 16
    TOK=$DIR/setup/tok
    { M init "$DIR/pristine.db" && M add "$DIR/pristine.db" --metadata "$DIR/setup/videos.csv" --clip-seconds 2; } > "$DIR/setup.log" 2>&1
    what="synthetic 2 s clips, tiny tokenizer (throwaway, 32x32)"
else
    [ -n "$VIDEOS" ] || { echo "bench-pretokenize: error: a tokenizer needs a video folder too" >&2; exit 64; }
    { M init "$DIR/pristine.db" && M add "$DIR/pristine.db" --dir "$VIDEOS" --extensions y4m,mp4,mov,mkv,webm,avi; } > "$DIR/setup.log" 2>&1
    what="8 s clips of $VIDEOS, tokenizer $TOK"
fi
sqlite3 "$DIR/pristine.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
n=$(sqlite3 "$DIR/pristine.db" 'SELECT count(*) FROM clip')
declare -A rate
for j in 1 2; do
    rm -rf "$DIR/run-j$j" "$DIR"/run-j$j.db*; mkdir -p "$DIR/run-j$j"
    sqlite3 "$DIR/pristine.db" ".backup '$DIR/run-j$j.db'"
    t0=$(date +%s.%N)
    make -C "$ROOT" --no-print-directory -j$j pretokenize BIN="$BIN" MANIFEST="$DIR/run-j$j.db" TOKENIZER="$TOK" \
        TOKENS="$DIR/run-j$j" > "$DIR/run-j$j.log" 2>&1 || { tail "$DIR/run-j$j.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    rate[$j]=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n * 3600 / (b - a) }')
    printf 'bench-pretokenize: -j%d: %d clips in %.1f s = %s clips/hour\n' "$j" "$n" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "${rate[$j]}"
done
echo "bench-pretokenize: $what; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v a="${rate[1]}" -v b="${rate[2]}" 'BEGIN { printf "bench-pretokenize: -j2 / -j1 = %.2fx (goal >= 1.7x)\n", b / a }'
