#!/usr/bin/env bash
# Tokenizes the captioned training footage for the text-to-video generator:
#   pipelines/lm-data.sh BIN_DIR TOKENIZER_DIR FOOTAGE_DIR OUT_DIR
# For each NAME<TAB>CAPTION line of pipelines/captions.tsv: FOOTAGE_DIR/train/SOURCE/NAME.y4m → hv-encode →
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
    src=
    for f in "$FOOTAGE"/train/*/"$name".y4m; do if [ -s "$f" ]; then src=$f; fi; done
    if [ -z "$src" ]; then
        # A captioned video kept out of training (diver is report footage): the generator must not see it either.
        if compgen -G "$FOOTAGE/report/*/$name-*.y4m" >/dev/null || compgen -G "$FOOTAGE/heldout/*/$name-*.y4m" >/dev/null; then
            echo "lm-data: warning: '$name' is held-out or report footage, not training footage; skipped" >&2; continue
        fi
        echo "lm-data: error: no FOOTAGE/train/*/$name.y4m in $FOOTAGE (run make footage)" >&2; exit 66
    fi
    [ -s "$OUT/$name.hvt" ] || "$BIN/hv-encode" "$src" --model "$MODEL" -o "$OUT/$name.hvt"
    printf '%s.hvt\t%s\n' "$name" "$caption" >> "$list"
done < "$CAPTIONS"
mv "$list" "$OUT/clips.tsv"
echo "lm-data: $(wc -l < "$OUT/clips.tsv") captioned token files in $OUT"
