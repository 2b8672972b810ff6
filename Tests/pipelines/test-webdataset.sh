#!/usr/bin/env bash
# The token shards read by the ecosystem's own reader, run by `make test` (target test-webdataset):
#   Tests/pipelines/test-webdataset.sh BIN_DIR TEXT_ENCODER_DIR VENV_DIR
# A manifest of 6 synthetic 4 s videos (Tests/pipelines/tiny-setup.sh: 2 s clips, a throwaway tiny tokenizer), one
# of them without a caption, captions embedded with the text encoder, then `make pretokenize SHARD_CLIPS=3` (so
# that every split has several shards). Then Tests/pipelines/check_webdataset.py, in a Python venv with PyPI's
# webdataset, numpy and zstandard (made in VENV_DIR by `python3 -m venv` + pip on the first run, reused after):
# webdataset iterates every shard and decodes every member, formats/hvt_reader.py parses every .hvt, and each
# done clip must appear exactly once with its tokens (equal to the .hvt's), caption and embedding. Last, a second
# pack of a copy of the manifest gives byte-identical shards.
# Exit status 77 (a skip for make test-webdataset): pip cannot install the packages (no network); reason printed.
set -euo pipefail
BIN=$(cd "$1" && pwd)
TEXT=$2
VENV=$3
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/hv-wds-test.XXXXXX")
started=$SECONDS
trap 'rm -rf "$W"' EXIT
fail() { echo "test-webdataset: FAIL: $*" >&2; exit 1; }
note() { echo "test-webdataset: $*"; }
M() { "$BIN/hv-manifest" "$@"; }
for t in ffmpeg python3 sqlite3 tar; do command -v $t >/dev/null || fail "$t is missing (make deps)"; done
[ -s "$TEXT/model.safetensors" ] || fail "no text encoder in '$TEXT' (make text-encoder)"

# ---- the reader's environment -----------------------------------------------------------------------------------
py=$VENV/bin/python
if ! { [ -x "$py" ] && "$py" -c 'import webdataset, numpy, zstandard' 2>/dev/null; }; then
    rm -rf "$VENV"
    python3 -m venv "$VENV" > "$W/venv.log" 2>&1 || { cat "$W/venv.log" >&2; fail "python3 -m venv failed (Debian: apt-get install python3-venv)"; }
    if ! "$py" -m pip install --disable-pip-version-check -q webdataset numpy zstandard > "$W/pip.log" 2>&1; then
        rm -rf "$VENV"
        echo "test-webdataset: SKIP: pip cannot install webdataset, numpy and zstandard: $(grep -m1 -i -E 'error|could not' "$W/pip.log" || tail -n 1 "$W/pip.log")" >&2
        exit 77
    fi
fi
note "reader: webdataset $("$py" -c 'import importlib.metadata as m; print(m.version("webdataset"))') in $VENV"

# ---- a dataset, tokenized and packed ----------------------------------------------------------------------------
"$ROOT/Tests/pipelines/tiny-setup.sh" "$BIN" "$W/setup" 6 4
# Video v03 loses its caption: its clips must come without caption and embedding.
sed -i 's/^\(v03,[^,]*\),.*/\1,/' "$W/setup/videos.csv"
DB=$W/m.db
{ M init "$DB" && M add "$DB" --metadata "$W/setup/videos.csv" --clip-seconds 2 && M split "$DB" --val-fraction 0.3 --seed 0 &&
  M embed "$DB" --model "$TEXT"; } > "$W/log0" 2>&1 || { cat "$W/log0" >&2; fail "building the manifest failed"; }
sqlite3 "$DB" ".backup '$W/copy.db'"
make --no-print-directory -f "$ROOT/pipelines/pretokenize.mk" -j2 pretokenize BIN="$BIN" TOKENIZER="$W/setup/tok" \
    MANIFEST="$DB" TOKENS="$W/tokens" SHARD_CLIPS=3 > "$W/log1" 2>&1 || { cat "$W/log1" >&2; fail "make pretokenize failed"; }
total=$(M list "$DB" --done | wc -l)
[ "$total" -ge 12 ] || fail "expected at least 12 done clips, got $total"
nshards=$(find "$W/tokens/shards" -name 'shard-*.tar' | wc -l)
[ "$nshards" -ge 4 ] || fail "expected at least 4 shards, got $nshards"
note "$total clips in $nshards shards ($((SECONDS - started)) s)"

# ---- read with webdataset ---------------------------------------------------------------------------------------
"$py" "$ROOT/Tests/pipelines/check_webdataset.py" "$DB" "$W/tokens/shards" "$ROOT/formats" sentence-transformers/all-MiniLM-L6-v2 \
    || fail "the shards do not read back as they should (above)"
# The checker must catch a wrong shard: one with a sample removed (GNU tar --delete).
bad=$W/bad; cp -r "$W/tokens/shards" "$bad"
first=$(find "$bad" -name 'shard-000000.tar' | sort | head -n 1)
key=$(tar -tf "$first" | awk -F. 'NR == 1 { print $1 }')
tar --delete -f "$first" $(tar -tf "$first" | grep "^$key\.")
if "$py" "$ROOT/Tests/pipelines/check_webdataset.py" "$DB" "$bad" "$ROOT/formats" sentence-transformers/all-MiniLM-L6-v2 > "$W/bad.log" 2>&1; then
    fail "the checker passed shards with a sample removed"
fi
grep -q "clips in no shard: \[$((10#$key))\]" "$W/bad.log" && grep -q 'index.json says 3 samples, webdataset read 2' "$W/bad.log" \
    || { cat "$W/bad.log" >&2; fail "the checker did not name the removed sample"; }

# ---- the same manifest packs to the same bytes ------------------------------------------------------------------
make --no-print-directory -f "$ROOT/pipelines/pretokenize.mk" -j2 pretokenize BIN="$BIN" TOKENIZER="$W/setup/tok" \
    MANIFEST="$W/copy.db" TOKENS="$W/tokens2" SHARD_CLIPS=3 > "$W/log2" 2>&1 || { cat "$W/log2" >&2; fail "the second make pretokenize failed"; }
(cd "$W/tokens/shards" && find . -name '*.tar' -o -name index.json | sort | xargs sha256sum) > "$W/sum1"
(cd "$W/tokens2/shards" && find . -name '*.tar' -o -name index.json | sort | xargs sha256sum) > "$W/sum2"
cmp -s "$W/sum1" "$W/sum2" || { diff "$W/sum1" "$W/sum2" >&2 || true; fail "a second run on a copy of the manifest packed different bytes"; }
note "PASS in $((SECONDS - started)) s"
