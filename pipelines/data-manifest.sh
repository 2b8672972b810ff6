#!/usr/bin/env bash
# Builds a manifest (schema v3) of the footage that pipelines/footage.sh made: every y4m under
# OUT_DIR/{train,heldout,report}/SOURCE/ is a video whose source, kind, package and licence come from
# OUT_DIR/sources.tsv; keys are paths relative to OUT_DIR (train/opencv-doc/vtest.y4m).
#   pipelines/data-manifest.sh BIN_DIR OUT_DIR [DB]        (DB defaults to OUT_DIR/data.db)
# Clip splits follow the folders: train -> train, heldout -> val; report clips stay unsplit (NULL), so nothing that
# selects a split ever picks them. Idempotent: known videos are not hashed or probed again.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then echo "usage: pipelines/data-manifest.sh BIN_DIR OUT_DIR [DB]" >&2; exit 64; fi
BIN=$1; OUT=$(cd "$2" && pwd); DB=${3:-$OUT/data.db}
[ -x "$BIN/hv-manifest" ] || { echo "data-manifest: error: $BIN/hv-manifest not found (build first)" >&2; exit 66; }
[ -s "$OUT/sources.tsv" ] || { echo "data-manifest: error: $OUT/sources.tsv missing (run pipelines/footage.sh first)" >&2; exit 66; }

# The metadata file sits in OUT_DIR so that its relative paths resolve there.
csv=$OUT/.data-manifest.csv
{
    echo "id,path,source,kind,package,licence"
    tail -n +2 "$OUT/sources.tsv" | while IFS=$'\t' read -r source kind split package licence _files _frames _description; do
        for f in "$OUT/$split/$source"/*.y4m; do
            [ -e "$f" ] || continue
            rel=${f#"$OUT"/}
            # Fields are plain words here except package and licence, which may hold spaces and parentheses.
            printf '%s,%s,%s,%s,"%s","%s"\n' "$rel" "$rel" "$source" "$kind" "${package//\"/\"\"}" "${licence//\"/\"\"}"
        done
    done
} > "$csv.tmp"
mv "$csv.tmp" "$csv"
[ -e "$DB" ] || "$BIN/hv-manifest" init "$DB"
"$BIN/hv-manifest" add "$DB" --metadata "$csv"
python3 - "$DB" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
for prefix, split in (("train/", "train"), ("heldout/", "val"), ("report/", None)):
    db.execute("UPDATE clip SET split = ? WHERE video_id IN (SELECT id FROM video WHERE substr(key, 1, ?) = ?)",
               (split, len(prefix), prefix))
db.execute("COMMIT")
PY
"$BIN/hv-manifest" status "$DB"
