#!/usr/bin/env bash
# Tokenizes the captioned training footage for the text-to-video generator:
#   pipelines/lm-data.sh BIN_DIR TOKENIZER_DIR FOOTAGE_DIR OUT_DIR [NAME...]
# For each NAME<TAB>CAPTION line of pipelines/captions.tsv: FOOTAGE_DIR/train/SOURCE/NAME.y4m → hv-encode →
# OUT_DIR/NAME.hvt; a NAME that is a photograph (pipelines/photo-clips.sh made NAME-v0.y4m … from it) gives one
# token file per clip, captioned CAPTION plus the clip's framing and camera motion as SOURCE/.motions.tsv records
# them ("…, a close-up, slowly zooming in"). Then OUT_DIR/clips.tsv with one 'FILE.hvt<TAB>CAPTION' line per file
# (what `hv-train lm --clips` reads). Idempotent: a token file that exists is kept when TOKENIZER_DIR made it
# (its header's tokenizer identity) and encoded again otherwise, so shipping a new tokenizer cannot leave the old
# one's tokens behind (hv-encode writes through a temporary file, so an interrupted run leaves no partial file).
# NAMEs keep only those lines of captions.tsv; none: every line.
#
#   pipelines/lm-data.sh --metadata FOOTAGE_DIR CSV [NAME...]
# The same training sources and captions as a metadata file for `hv-manifest add --metadata CSV --video-dir
# FOOTAGE_DIR` instead (what `make lm-shards` runs): 'id,path,caption', one row per video or photo clip (id NAME or
# NAME-vK, path relative to FOOTAGE_DIR), nothing encoded. NAMEs keep only those lines of captions.tsv (a subset to
# try the pipeline on); none: every line.
set -euo pipefail
if [ "${1:-}" = --metadata ]; then
    [ $# -ge 3 ] || { echo "usage: pipelines/lm-data.sh --metadata FOOTAGE_DIR CSV [NAME...]" >&2; exit 64; }
    MODE=metadata; FOOTAGE=$2; CSV=$3; shift 3; ONLY=" $* "
    OUT=$(dirname "$CSV")
    list=$CSV.tmp.$$
    trap 'rm -f "$list"' EXIT
else
    [ $# -ge 4 ] || { echo "usage: pipelines/lm-data.sh BIN_DIR TOKENIZER_DIR FOOTAGE_DIR OUT_DIR [NAME...]" >&2; exit 64; }
    MODE=encode; BIN=$1; MODEL=$2; FOOTAGE=$3; OUT=$4; shift 4; ONLY=" $* "
    list=$OUT/clips.tsv.tmp
    # hv-encode prints NAME@SHA256; hv-info prints the header's 'tokenizer: NAME SHA256'.
    identity=$("$BIN/hv-encode" --model "$MODEL" --print-identity) \
        || { echo "lm-data: error: cannot load the tokenizer in '$MODEL'" >&2; exit 66; }
    stale=0
    declare -A checked
fi
CAPTIONS=$(dirname "$0")/captions.tsv
mkdir -p "$OUT"
# The framing and camera motion of a photo clip, in words, from photo-clips.sh's record (clip, motion, window in
# per mille of the photo's short side, photo).
shot() {
    awk -F'\t' -v c="$2" '$1 == c {
        frame = $3 >= 1000 ? "the whole picture" : $3 >= 700 ? "a wide view" : $3 >= 450 ? "a closer view" : "a close-up"
        m["pan-left"] = "the camera pans left"; m["pan-right"] = "the camera pans right"
        m["pan-up"] = "the camera tilts up"; m["pan-down"] = "the camera tilts down"
        m["pan-diagonal"] = "the camera drifts diagonally"; m["zoom-in"] = "slowly zooming in"
        m["zoom-out"] = "slowly zooming out"; m["rotate"] = "the view slowly turns"; m["static"] = "a still shot"
        print frame ", " ($2 in m ? m[$2] : $2); found = 1 }
        END { if (!found) print "a still photograph" }' "$1" 2>/dev/null || echo "a still photograph"
}
# One training source: encode it to OUT/ID.hvt and list 'ID.hvt<TAB>CAPTION', or write its metadata row
# (CSV: the caption quoted, its quotes doubled).
emit() {  # id y4m caption
    if [ $MODE = metadata ]; then
        local q=${3//\"/\"\"}
        printf '%s,%s,"%s"\n' "$1" "${2#"$FOOTAGE"/}" "$q" >> "$list"
    else
        # Once per file, though it is listed once per phrasing of its caption.
        if [ -z "${checked[$1]:-}" ]; then
            checked[$1]=1
            local made=
            if [ -s "$OUT/$1.hvt" ]; then
                # An unreadable file counts as stale too. awk reads to the end: leaving early would break hv-info's
                # pipe on a long file's clip table, and its failure would read as stale.
                made=$("$BIN/hv-info" "$OUT/$1.hvt" 2>/dev/null | awk '$1 == "tokenizer:" && !seen { print $2 "@" $3; seen = 1 }') || made=
                [ "$made" = "$identity" ] || stale=$((stale + 1))
            fi
            [ "$made" = "$identity" ] || "$BIN/hv-encode" "$2" --model "$MODEL" -o "$OUT/$1.hvt"
        fi
        printf '%s.hvt\t%s\n' "$1" "$3" >> "$list"
    fi
}
if [ $MODE = metadata ]; then echo 'id,path,caption' > "$list"; else : > "$list"; fi
while IFS=$'\t' read -r name caption; do
    case $name in ''|'#'*) continue ;; esac
    if [ "$ONLY" != "  " ] && [[ $ONLY != *" $name "* ]]; then continue; fi
    src=
    for f in "$FOOTAGE"/train/*/"$name".y4m; do if [ -s "$f" ]; then src=$f; fi; done
    if [ -z "$src" ] && compgen -G "$FOOTAGE/train/*/$name-v[0-9]*.y4m" >/dev/null; then
        for f in "$FOOTAGE"/train/*/"$name"-v[0-9]*.y4m; do
            clip=$(basename "$f" .y4m)
            emit "$clip" "$f" "$caption, $(shot "$(dirname "$f")/.motions.tsv" "$clip")"
        done
        continue
    fi
    if [ -z "$src" ]; then
        # A captioned video kept out of training (diver is report footage): the generator must not see it either.
        if compgen -G "$FOOTAGE/report/*/$name-*.y4m" >/dev/null || compgen -G "$FOOTAGE/heldout/*/$name-*.y4m" >/dev/null; then
            echo "lm-data: warning: '$name' is held-out or report footage, not training footage; skipped" >&2; continue
        fi
        echo "lm-data: error: no FOOTAGE/train/*/$name.y4m in $FOOTAGE (run make footage)" >&2; exit 66
    fi
    emit "$name" "$src" "$caption"
done < "$CAPTIONS"
if [ $MODE = metadata ]; then
    if cmp -s "$list" "$CSV"; then rm -f "$list"; else mv -f "$list" "$CSV"; fi
    echo "lm-data: $(($(wc -l < "$CSV") - 1)) captioned rows (videos and photo clips, a row per phrasing) in $CSV"
    exit 0
fi
mv "$list" "$OUT/clips.tsv"
[ $stale = 0 ] || echo "lm-data: encoded $stale token files again: another tokenizer had made them" >&2
echo "lm-data: $(wc -l < "$OUT/clips.tsv") captioned token files in $OUT"
