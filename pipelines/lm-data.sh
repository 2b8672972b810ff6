#!/usr/bin/env bash
# Tokenizes the captioned training footage for the text-to-video generator:
#   pipelines/lm-data.sh BIN_DIR TOKENIZER_DIR FOOTAGE_DIR OUT_DIR
# For each NAME<TAB>CAPTION line of pipelines/captions.tsv: FOOTAGE_DIR/train/NAME.y4m → hv-encode →
# OUT_DIR/NAME.hvt, then OUT_DIR/clips.tsv with one 'NAME.hvt<TAB>CAPTION' line per file (what
# `hv-train lm --clips` reads). Idempotent: token files that exist are kept (hv-encode writes through a
# temporary file, so an interrupted run leaves no partial file behind).
set -euo pipefail
BIN=$1; MODEL=$2; FOOTAGE=$3; OUT=$4
CAPTIONS=$(dirname "$0")/captions.tsv
mkdir -p "$OUT"
list=$OUT/clips.tsv.tmp
: > "$list"
while IFS=$'\t' read -r name caption; do
    case $name in ''|'#'*) continue ;; esac
    src=$FOOTAGE/train/$name.y4m
    [ -s "$src" ] || { echo "lm-data: error: $src is missing (run make footage)" >&2; exit 66; }
    [ -s "$OUT/$name.hvt" ] || "$BIN/hv-encode" "$src" --model "$MODEL" -o "$OUT/$name.hvt"
    printf '%s.hvt\t%s\n' "$name" "$caption" >> "$list"
done < "$CAPTIONS"
mv "$list" "$OUT/clips.tsv"
echo "lm-data: $(wc -l < "$OUT/clips.tsv") captioned token files in $OUT"
