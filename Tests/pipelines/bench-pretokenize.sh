#!/usr/bin/env bash
# Pretokenization throughput, `make bench` (target bench-pretokenize in pipelines/pretokenize.mk):
#   Tests/pipelines/bench-pretokenize.sh BIN_DIR DIR [CLIPS] [TOKENIZER_DIR] [VIDEO_DIR] [REPEATS]
# Runs `make -jN pretokenize` from a fresh copy of the same manifest for N = 1 and 2 (REPEATS times, alternating,
# best of each) and prints clips per hour and the -j2/-j1 ratio (goal >= 1.7x on 2 free cores). Default: CLIPS (48)
# synthetic 2 s clips and a tiny tokenizer trained on the fly (Tests/pipelines/tiny-setup.sh); with TOKENIZER_DIR
# and VIDEO_DIR (e.g. models/tokenizer data/footage/train: `make bench-pretokenize-real`) CLIPS 8 s clips of the
# videos in VIDEO_DIR (0: all of them; always the same ones) with that tokenizer. WORKER_ENV in the environment
# replaces the pipeline's (e.g. WORKER_ENV= for -j1 with every core in each tool).
set -euo pipefail
BIN=$(cd "$1" && pwd); DIR=$2; CLIPS=${3:-48}; TOK=${4:-}; VIDEOS=${5:-}; REPEATS=${6:-1}
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
    # CLIPS of them at most (0: all), the same ones every run: the lowest work-shard keys, which spread over the videos.
    if [ "$CLIPS" -gt 0 ]; then
        sqlite3 "$DIR/pristine.db" "PRAGMA foreign_keys = ON; DELETE FROM clip WHERE id NOT IN (SELECT id FROM clip ORDER BY shard_key, id LIMIT $CLIPS);"
    fi
    what="8 s clips of $VIDEOS, tokenizer $TOK"
fi
sqlite3 "$DIR/pristine.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
n=$(sqlite3 "$DIR/pristine.db" 'SELECT count(*) FROM clip')
declare -A rate=([1]=0 [2]=0); all=()
for r in $(seq "$REPEATS"); do
  for j in 1 2; do
    rm -rf "$DIR/run-j$j" "$DIR"/run-j$j.db*; mkdir -p "$DIR/run-j$j"
    sqlite3 "$DIR/pristine.db" ".backup '$DIR/run-j$j.db'"
    t0=$(date +%s.%N)
    make -C "$ROOT" --no-print-directory -j$j pretokenize BIN="$BIN" MANIFEST="$DIR/run-j$j.db" TOKENIZER="$TOK" \
        TOKENS="$DIR/run-j$j" > "$DIR/run-j$j.log" 2>&1 || { tail "$DIR/run-j$j.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    x=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n * 3600 / (b - a) }')
    [ "$x" -gt "${rate[$j]}" ] && rate[$j]=$x
    all+=("-j$j:$x")
    printf 'bench-pretokenize: -j%d: %d clips in %.1f s = %s clips/hour\n' "$j" "$n" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$x"
  done
done
echo "bench-pretokenize: $n clips: $what; WORKER_ENV ${WORKER_ENV-(default)}; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$REPEATS" = 1 ] || echo "bench-pretokenize: best of $REPEATS alternating runs: -j1 ${rate[1]}, -j2 ${rate[2]} clips/hour (all: ${all[*]})"
awk -v a="${rate[1]}" -v b="${rate[2]}" 'BEGIN { printf "bench-pretokenize: -j2 / -j1 = %.2fx (goal >= 1.7x)\n", b / a }'
