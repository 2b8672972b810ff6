#!/usr/bin/env bash
# The generator's data cannot outlive its tokenizer (a few seconds, tiny models):
#   Tests/pipelines/test-lm-data.sh BIN_DIR
# pipelines/lm-data.sh keeps a token file that the same tokenizer made and encodes it again when another one made
# it; pipelines/eval-gen.py's claim() removes what another tokenizer or generator left in its output folder, and
# claim_renders() the training clips' renders of another tokenizer (that
# part needs numpy, as eval-gen does, and is skipped with a reason without it).
set -euo pipefail
BIN=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "test-lm-data: FAIL: $*" >&2; exit 1; }

# Two tiny tokenizers (32², 8-frame clips) that differ only in their seed, so in their identity.
"$ROOT/Tests/pipelines/tiny-setup.sh" "$BIN" "$T/setup" 1 2 >/dev/null
"$BIN/hv-decode" "$T/setup/videos/v00.mp4" --size 32 --fps 8 --frames 16 -o "$T/a.y4m"
"$BIN/hv-train" tokenizer --preset tiny --crop 32 --steps 2 --seed 5 --data "$T/a.y4m" --out "$T/run2" >/dev/null 2>&1
"$BIN/hv-train" export --from "$T/run2" --to "$T/tok2" --storage f32 >/dev/null
id1=$("$BIN/hv-encode" --model "$T/setup/tok" --print-identity)
id2=$("$BIN/hv-encode" --model "$T/tok2" --print-identity)
[ "$id1" != "$id2" ] || fail "the two tokenizers share the identity $id1"

# One captioned training video of captions.tsv ('balle', every phrasing of it), 200 clips long: hv-info's table of
# it outruns a pipe's buffer, as a long video's does.
mkdir -p "$T/footage/train/src"
ffmpeg -nostdin -v error -f lavfi -i testsrc=size=32x32:rate=8:duration=200 -pix_fmt yuv420p -c:v libx264 \
    -preset ultrafast "$T/long.mp4"
"$BIN/hv-decode" "$T/long.mp4" --size 32 --fps 8 -o "$T/footage/train/src/balle.y4m"
made() { "$BIN/hv-info" "$T/lm/balle.hvt" | awk '$1 == "tokenizer:" { print $2 "@" $3 }'; }

"$ROOT/pipelines/lm-data.sh" "$BIN" "$T/setup/tok" "$T/footage" "$T/lm" balle > /dev/null
[ "$(made)" = "$id1" ] || fail "first run: balle.hvt made by '$(made)', not $id1"
phrasings=$(awk -F'\t' '$1 == "balle"' "$ROOT/pipelines/captions.tsv" | wc -l)
[ "$(wc -l < "$T/lm/clips.tsv")" = "$phrasings" ] || fail "clips.tsv lists $(wc -l < "$T/lm/clips.tsv") lines, not $phrasings"

# The same tokenizer again: the file is kept as it is.
touch -d '2001-01-01' "$T/lm/balle.hvt"
"$ROOT/pipelines/lm-data.sh" "$BIN" "$T/setup/tok" "$T/footage" "$T/lm" balle > /dev/null 2> "$T/err"
[ "$(stat -c %Y "$T/lm/balle.hvt")" = "$(date -d '2001-01-01' +%s)" ] || fail "the same tokenizer encoded balle.hvt again"
! grep -q 'again' "$T/err" || fail "the same tokenizer reported stale files: $(cat "$T/err")"

# Another tokenizer: encoded again, said once on stderr, and its tokens render with it.
"$ROOT/pipelines/lm-data.sh" "$BIN" "$T/tok2" "$T/footage" "$T/lm" balle > /dev/null 2> "$T/err"
[ "$(made)" = "$id2" ] || fail "after the tokenizer changed, balle.hvt is still made by '$(made)'"
grep -q 'encoded 1 token files again' "$T/err" || fail "no note of the re-encoding on stderr: $(cat "$T/err")"
"$BIN/hv-render" "$T/lm/balle.hvt" --model "$T/tok2" -o "$T/r.y4m"

# An unreadable token file is encoded again too.
printf 'not a token file' > "$T/lm/balle.hvt"
"$ROOT/pipelines/lm-data.sh" "$BIN" "$T/tok2" "$T/footage" "$T/lm" balle > /dev/null 2>&1
[ "$(made)" = "$id2" ] || fail "a damaged balle.hvt was kept"

# A tokenizer folder that holds none: one line, exit 66.
rc=0; "$ROOT/pipelines/lm-data.sh" "$BIN" "$T/none" "$T/footage" "$T/lm" balle > /dev/null 2> "$T/err" || rc=$?
[ $rc = 66 ] || fail "a missing tokenizer exited $rc, not 66"

if python3 -c 'import numpy' 2>/dev/null; then
    mkdir -p "$T/gen" "$T/out/recon" "$T/out/heldout"
    echo '{}' > "$T/gen/config.json"; echo one > "$T/gen/model.safetensors"
    touch "$T/out/recon/a.y4m" "$T/out/heldout/b.hvt" "$T/out/cfg2.5-00-tree.hvt" "$T/out/cfg2.5-00-tree.y4m" "$T/out/eval-gen.json" "$T/out/notes.txt"
    python3 - "$ROOT/pipelines/eval-gen.py" "$BIN" "$T" <<'EOF'
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("eval_gen", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
bin_dir, t = sys.argv[2], sys.argv[3]
out = os.path.join(t, "out")
def present():
    return sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
first = m.models_stamp(bin_dir, os.path.join(t, "setup/tok"), os.path.join(t, "gen"))
m.claim(out, first)            # no models.json yet: nothing in it can be trusted
assert present() == ["models.json", "notes.txt"], present()
open(os.path.join(out, "recon/a.y4m"), "w").close()
m.claim(out, m.models_stamp(bin_dir, os.path.join(t, "setup/tok"), os.path.join(t, "gen")))
assert "recon/a.y4m" in present(), "the same models must keep their renders"
with open(os.path.join(t, "gen/model.safetensors"), "w") as f:
    f.write("two")
m.claim(out, m.models_stamp(bin_dir, os.path.join(t, "setup/tok"), os.path.join(t, "gen")))
assert "recon/a.y4m" not in present(), "another generator must not reuse the renders"
open(os.path.join(out, "recon/a.y4m"), "w").close()
m.claim(out, m.models_stamp(bin_dir, os.path.join(t, "tok2"), os.path.join(t, "gen")))
assert present() == ["models.json", "notes.txt"], present()
# The training clips' renders (LM_DATA/recon) are shared by every generator, and kept per tokenizer.
recon = os.path.join(t, "lm-recon")
m.claim_renders(recon, first["tokenizer"])
open(os.path.join(recon, "a.y4m"), "w").close()
m.claim_renders(recon, first["tokenizer"])
assert os.path.exists(os.path.join(recon, "a.y4m")), "the same tokenizer must keep its renders"
m.claim_renders(recon, "other@" + "0" * 64)
assert sorted(os.listdir(recon)) == ["tokenizer.txt"], os.listdir(recon)
assert open(os.path.join(recon, "tokenizer.txt")).read().strip() == "other@" + "0" * 64
# Codes shared with the nearest training clip (fewest differing bits): a training clip's own codes share all,
# a patchwork of two clips half (its nearer clip's half), and one flipped bit at every position none.
import numpy as np
train = {"L3": np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], dtype=np.int64)}
assert m.codes_shared(train, {"L3": train["L3"][1].copy()}) == {"L3": 1.0}
assert m.codes_shared(train, {"L3": np.array([1, 2, 7, 8])}) == {"L3": 0.5}
assert m.codes_shared(train, {"L3": train["L3"][2] ^ 16}) == {"L3": 0.0}
# ... and which clip that is: the scene a sample's coarse codes come from.
assert m.nearest_codes(train, {"L3": np.array([9, 10, 11, 0])}) == {"L3": (2, 0.75)}
assert m.nearest_codes(train, {"L3": train["L3"][0] ^ 1}) == {"L3": (0, 0.0)}
# --snap reads the nearest caption from `hv-manifest search --json` (a stand-in tool here, answering from a file);
# a manifest without embeddings answers nothing, which is a one-line error (65), not a traceback.
fake = os.path.join(t, "fakebin"); os.makedirs(fake, exist_ok=True)
with open(os.path.join(fake, "hv-manifest"), "w") as f:
    f.write('#!/bin/sh\n[ "$1 $4 $5 $6" = "search -k 1 --json" ] || exit 64\ncat "$2"\n')
os.chmod(os.path.join(fake, "hv-manifest"), 0o755)
answer = os.path.join(t, "answer.jsonl")
with open(answer, "w") as f:
    f.write('{"caption":"a kite in a deep blue sky","caption_id":3,"clips":[1],"rank":1,"score":0.8,"video":"kite-v2"}\n')
assert m.snap_caption(fake, answer, "a bright kite high up") == "a kite in a deep blue sky"
open(answer, "w").close()
try:
    m.snap_caption(fake, answer, "a bright kite high up"); raise AssertionError("no caption must stop eval-gen")
except SystemExit as e:
    assert e.code == 65, e.code
EOF
else
    echo "test-lm-data: eval-gen part skipped: python3 lacks numpy" >&2
fi
echo "test-lm-data: ok"
