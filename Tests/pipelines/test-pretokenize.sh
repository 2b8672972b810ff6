#!/usr/bin/env bash
# Test of the pretokenization pipeline (pipelines/pretokenize.mk), run by `make test` (target test-pipelines):
#   Tests/pipelines/test-pretokenize.sh BIN_DIR [TOKENIZER_DIR]
# Needs only the built tools, ffmpeg, sqlite3, python3, flock and GNU tar: the clips are synthetic (ffmpeg
# lavfi). The tokenizer is TOKENIZER_DIR (make test-pipelines: the shipped models/tokenizer; 8 clips) or else a
# throwaway `tiny` one trained for 2 steps (Tests/pipelines/tiny-setup.sh; 24 clips).
#  1. `make -j2 pretokenize` is killed with kill -9 of its whole process group midway (after a few clips), then
#     again at a random moment of the resumed run, then resumed to the end. Checked after every kill: every
#     file with a final name (*.hvt, shard-*.tar) is complete and valid, and every clip the manifest calls done
#     has its token file. At the end: every clip done, one token file each, nothing done before a kill was
#     redone (same file inode and mtime, same manifest row), no temporary file left, every clip packed exactly
#     once into a recorded WebDataset shard whose KEY.hvt member is its token file, index.json counting them.
#  2. Re-running the finished pipeline does nothing (same manifest dump, same files, same mtimes).
#  3. Two work-shard ranges (SHARDS=0-49, SHARDS=50-99, PACK=0) run at once on two copies of the manifest ("two
#     machines") cover every clip exactly once; merging one copy into the other with `hv-manifest merge` completes
#     it, and `hv-manifest pack` then packs every clip once (docs/pretokenize.md, "Without a scheduler").
#  4. A frozen-token fine-tune of the tokenizer (hv-train tokenizer --init --freeze-tokens, 1 step) has the same
#     token identity (hv-encode --print-identity, the .hvt headers) though its files differ, and continues the
#     same dataset: the finished pipeline re-run with it does nothing; after `hv-manifest reset --all` and one
#     deleted token file, it keeps every other file, re-encodes that one byte for byte, and packs the same shards.
set -euo pipefail
BIN=$(cd "$1" && pwd)
TOK_ARG=${2:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/hv-pretok-test.XXXXXX")
started=$SECONDS
jobs_pid=
cleanup() { [ -n "$jobs_pid" ] && kill -9 -- "-$jobs_pid" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
fail() { echo "test-pretokenize: FAIL: $*" >&2; exit 1; }
note() { echo "test-pretokenize: $*"; }
M() { "$BIN/hv-manifest" "$@"; }
q() { sqlite3 -bail -cmd '.timeout 30000' "$@"; }
for t in ffmpeg sqlite3 python3 flock setsid tar; do command -v $t >/dev/null || fail "$t is missing (make deps)"; done

if [ -n "$TOK_ARG" ]; then
    TOK=$(cd "$TOK_ARG" && pwd); min_clips=8
    "$ROOT/Tests/pipelines/tiny-setup.sh" "$BIN" "$W/setup" 4 4 no-tokenizer
else
    TOK=$W/setup/tok; min_clips=20
    "$ROOT/Tests/pipelines/tiny-setup.sh" "$BIN" "$W/setup" 4 12
fi
note "tokenizer $TOK ($("$BIN/hv-encode" --model "$TOK" --print-identity))"
{ M init "$W/pristine.db" && M add "$W/pristine.db" --metadata "$W/setup/videos.csv" --clip-seconds 2 &&
  M split "$W/pristine.db" --val-fraction 0.3 --seed 0; } > "$W/log0" 2>&1 || { cat "$W/log0" >&2; fail "building the manifest failed"; }
q "$W/pristine.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
total=$(q "$W/pristine.db" 'SELECT count(*) FROM clip')
[ "$total" -ge "$min_clips" ] || fail "expected at least $min_clips clips, got $total"
copy_db() { q "$W/pristine.db" ".backup '$1'"; }

pretok() {  # DB TOKENS [make args...]: the pipeline through the top-level Makefile
    local db=$1 tokens=$2; shift 2
    make -C "$ROOT" --no-print-directory pretokenize BIN="$BIN" MANIFEST="$db" TOKENIZER="$TOK" TOKENS="$tokens" "$@"
}
ndone() { q "$1" "SELECT count(*) FROM clip_status WHERE state = 'done'"; }

check_files() {  # DB TOKENS: nothing partial under a final name; done clips have their file
    local db=$1 tokens=$2 f
    for f in "$tokens"/clips/*.hvt; do
        [ -e "$f" ] || continue
        "$BIN/hv-info" "$f" >/dev/null 2>&1 || fail "partial or corrupt token file $f"
    done
    while IFS=$'\t' read -r id path; do
        [ "$path" = "$(cd "$tokens/clips" && pwd -P)/$id.hvt" ] || fail "clip $id recorded with $path"
        "$BIN/hv-info" "$path" >/dev/null 2>&1 || fail "clip $id is done but $path is missing or corrupt"
    done < <(q -separator $'\t' "$db" "SELECT t.clip_id, t.path FROM token_file t JOIN clip_status s ON s.clip_id = t.clip_id WHERE s.state = 'done'")
    check_shards "$tokens"
}

check_shards() {  # TOKENS: every shard under a final name is a complete tar whose KEY.hvt members are the clips' token files
    local tokens=$1 shard m
    for shard in "$tokens"/shards/*/shard-*.tar; do
        [ -e "$shard" ] || continue
        tar -tf "$shard" > "$W/members" 2>/dev/null || fail "$shard is not a complete tar"
        grep -q '\.hvt$' "$W/members" || fail "$shard holds no clip"
        while read -r m; do
            [[ $m == *.hvt ]] || continue
            tar -xOf "$shard" "$m" | cmp -s - "$tokens/clips/$((10#${m%.hvt})).hvt" || fail "$shard member $m differs from its clip's token file"
        done < "$W/members"
    done
}

packed_ids() {  # TOKENS...: the clip ids of every shard's .hvt members, one a line, sorted (repeats kept)
    local t s
    for t in "$@"; do for s in "$t"/shards/*/shard-*.tar; do if [ -e "$s" ]; then tar -tf "$s"; fi; done; done | sed -n 's/^0*\([0-9][0-9]*\)\.hvt$/\1/p' | sort
}

indexed_count() {  # TOKENS: clips counted by the index.json files
    python3 -c 'import glob, json, sys; print(sum(json.load(open(f))["nsamples"] for f in glob.glob(sys.argv[1] + "/shards/*/index.json")))' "$1"
}

snapshot() {  # DB TOKENS: done clips with their file identity and manifest row
    q -separator ' ' "$1" "SELECT t.clip_id, t.created_at, t.bytes, t.bits FROM token_file t JOIN clip_status s ON s.clip_id = t.clip_id WHERE s.state = 'done' ORDER BY 1" |
    while read -r id created bytes bits; do
        echo "$id $created $bytes $bits $(stat -c '%i %y' "$2/clips/$id.hvt")"
    done
}

run_and_kill() {  # DB TOKENS LOG MIN_DONE MAX_DELAY_MS: start -j2, kill -9 the whole group after MIN_DONE clips + a random delay
    local db=$1 tokens=$2 log=$3 min=$4 delay=$5 waited=0
    setsid make -C "$ROOT" --no-print-directory -j2 pretokenize BIN="$BIN" MANIFEST="$db" TOKENIZER="$TOK" TOKENS="$tokens" > "$log" 2>&1 &
    jobs_pid=$!
    while [ "$(ndone "$db")" -lt "$min" ] && kill -0 "$jobs_pid" 2>/dev/null && [ $waited -lt 2400 ]; do sleep 0.05; waited=$((waited + 1)); done
    sleep "0.$(printf '%03d' $((RANDOM % delay)))"
    kill -9 -- "-$jobs_pid" 2>/dev/null || true
    wait "$jobs_pid" 2>/dev/null || true
    # A SIGKILLed process can take a while to exit on a loaded machine; until it has, its temporary file belongs
    # to a live process, which the next run rightly leaves alone.
    waited=0
    while group_alive "$jobs_pid" && [ $waited -lt 200 ]; do sleep 0.05; waited=$((waited + 1)); done
    group_alive "$jobs_pid" && fail "the killed run's processes were still alive 10 s after kill -9"
    jobs_pid=
}

group_alive() {  # PGID: does a process of this group still run (zombies excepted)?
    local pgid=$1 s l
    for s in /proc/[0-9]*/stat; do
        { read -r l < "$s"; } 2>/dev/null || continue   # the process may be gone since the glob
        l=${l##*) }; set -- $l   # the fields after "(comm) ": state ppid pgrp ...
        [ "$3" = "$pgid" ] && [ "$1" != Z ] && return 0
    done
    return 1
}

# ---- 1. kill -9 midway, resume -----------------------------------------------------------------------------
DB=$W/run.db; T=$W/tokens
copy_db "$DB"
run_and_kill "$DB" "$T" "$W/log1" 3 300
d1=$(ndone "$DB")
note "first run killed with $d1 of $total clips done"
[ "$d1" -lt "$total" ] || fail "the first run finished before it was killed; nothing was tested"
[ "$(q "$DB" "SELECT count(*) FROM clip_status WHERE state IN ('running', 'failed')")" = 0 ] || fail "killed run left running/failed clips"
check_files "$DB" "$T"
snapshot "$DB" "$T" > "$W/snap1"
# Kill the resumed runs too: once after it has done more clips, once at a random moment from its start.
run_and_kill "$DB" "$T" "$W/log2" $((d1 + 2)) 999
note "resumed run killed with $(ndone "$DB") of $total clips done"
check_files "$DB" "$T"
run_and_kill "$DB" "$T" "$W/log2" 0 1500
note "resumed run killed with $(ndone "$DB") of $total clips done"
check_files "$DB" "$T"
pretok "$DB" "$T" -j2 > "$W/log3" 2>&1 || { cat "$W/log3" >&2; fail "resumed run failed"; }
[ "$(ndone "$DB")" = "$total" ] || fail "after resuming, $(ndone "$DB") of $total clips are done"
[ "$(q "$DB" 'SELECT count(*) FROM token_file')" = "$total" ] || fail "token_file rows != clips"
[ "$(find "$T/clips" -name '*.hvt' | wc -l)" = "$total" ] || fail "expected $total token files"
leftover=$(find "$T" -name '*.tmp*' -o -name '.rows*' | head -3)
[ -z "$leftover" ] || fail "temporary files left: $leftover"
check_files "$DB" "$T"
# Nothing done before the first kill was redone.
snapshot "$DB" "$T" > "$W/snap-end"
while read -r line; do grep -qxF "$line" "$W/snap-end" || fail "clip redone after the kill: $line"; done < "$W/snap1"
# Every clip packed exactly once, and the index says so.
[ "$(q "$DB" 'SELECT count(*) FROM token_file WHERE shard_id IS NULL')" = 0 ] || fail "unpacked clips left"
[ "$(q "$DB" 'SELECT sum(clip_count) FROM shard')" = "$total" ] || fail "shards do not hold $total clips"
packed_ids "$T" > "$W/packed"
[ "$(uniq "$W/packed" | wc -l)" = "$total" ] || fail "the shards do not hold every clip"
[ "$(wc -l < "$W/packed")" = "$total" ] || fail "the shards hold a clip twice"
[ "$(indexed_count "$T")" = "$total" ] || fail "index.json counts $(indexed_count "$T") clips, not $total"
for s in "$T"/shards/*/shard-*.tar; do
    [ "$(q "$DB" "SELECT count(*) FROM shard WHERE path = '$(cd "$(dirname "$s")" && pwd -P)/$(basename "$s")'")" = 1 ] || fail "shard $s is not recorded in the manifest"
done
note "resumed: $total clips done once each, $(ls "$T"/shards/*/shard-*.tar | wc -l) shards, no partial file"

# ---- 2. a finished pipeline re-runs as a no-op -------------------------------------------------------------
state() { q "$DB" .dump; find "$T" -path "$T/.lists" -prune -o -printf '%p %s %i %T@\n' | sort; }
state > "$W/before"
pretok "$DB" "$T" -j2 > "$W/log4" 2>&1 || { cat "$W/log4" >&2; fail "finished re-run failed"; }
state > "$W/after"
cmp -s "$W/before" "$W/after" || { diff "$W/before" "$W/after" | head >&2 || true; fail "a finished re-run changed something"; }
grep -q 'pending clips' "$W/log4" && fail "a finished re-run tokenized clips"
note "finished re-run: nothing done"

# ---- 3. two work-shard ranges, as two machines -------------------------------------------------------------
copy_db "$W/a.db"; copy_db "$W/b.db"
pretok "$W/a.db" "$W/ta" -j2 SHARDS=0-49 PACK=0 > "$W/loga" 2>&1 & pa=$!
pretok "$W/b.db" "$W/tb" -j2 SHARDS=50-99 PACK=0 > "$W/logb" 2>&1 & pb=$!
wait $pa || { cat "$W/loga" >&2; fail "SHARDS=0-49 failed"; }
wait $pb || { cat "$W/logb" >&2; fail "SHARDS=50-99 failed"; }
M list "$W/a.db" --done | cut -f1 | sort > "$W/done-a"
M list "$W/b.db" --done | cut -f1 | sort > "$W/done-b"
M list "$W/pristine.db" --shards 0-49/100 | cut -f1 | sort > "$W/want-a"
M list "$W/pristine.db" | cut -f1 | sort > "$W/want-all"
cmp -s "$W/done-a" "$W/want-a" || fail "SHARDS=0-49 did not do exactly work shards 0-49"
[ -s "$W/done-a" ] && [ -s "$W/done-b" ] || fail "a shard range was empty; the test needs both non-empty"
[ -z "$(comm -12 "$W/done-a" "$W/done-b")" ] || fail "the two ranges overlap"
sort "$W/done-a" "$W/done-b" | cmp -s - "$W/want-all" || fail "the two ranges do not cover every clip"
check_files "$W/a.db" "$W/ta"; check_files "$W/b.db" "$W/tb"
# Merge machine B's results into A's manifest (docs/pretokenize.md): nothing left to resubmit, and a second
# merge changes nothing.
left=$(M merge "$W/a.db" "$W/b.db" --shards 100 2>/dev/null) || fail "hv-manifest merge failed"
[ -z "$left" ] || fail "after merging, shards still to do: $left"
[ "$(ndone "$W/a.db")" = "$total" ] || fail "merging B into A did not complete A"
[ "$(q "$W/a.db" 'PRAGMA integrity_check')" = ok ] || fail "the merged manifest fails integrity_check"
q "$W/a.db" 'SELECT * FROM clip_status ORDER BY clip_id' > "$W/merged1"
M merge "$W/a.db" "$W/b.db" 2>/dev/null || fail "merging again failed"
q "$W/a.db" 'SELECT * FROM clip_status ORDER BY clip_id' | cmp -s - "$W/merged1" || fail "merging again changed the manifest"
# Pack once, after the merge: every clip exactly once, each KEY.hvt the token file of its machine.
M pack "$W/a.db" --out "$W/all/shards" > /dev/null 2> "$W/log-pack" || { cat "$W/log-pack" >&2; fail "packing the merged manifest failed"; }
packed_ids "$W/all" | cmp -s - "$W/want-all" || fail "packing the merged manifest did not pack every clip exactly once"
mkdir -p "$W/all/clips"; cp "$W/ta/clips"/*.hvt "$W/tb/clips"/*.hvt "$W/all/clips/"; check_shards "$W/all"
note "SHARDS=0-49 ($(wc -l < "$W/done-a") clips) + SHARDS=50-99 ($(wc -l < "$W/done-b") clips) = all $total clips, merged, packed"

# ---- 4. a frozen-token fine-tune of the tokenizer continues the same dataset ------------------------------
FT=$W/ft
crop=$(python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); print(c["frameSize"] // min(l["grid"]["h"] for l in c["layers"]))' "$TOK/config.json")
"$BIN/hv-train" tokenizer --init "$TOK" --freeze-tokens --steps 1 --crop "$crop" --eval-every 1000 \
    --data "$W/setup/videos/v00.mp4" --out "$FT" > "$W/log-ft" 2>&1 || { cat "$W/log-ft" >&2; fail "the frozen-token fine-tune failed"; }
id_tok=$("$BIN/hv-encode" --model "$TOK" --print-identity)
id_ft=$("$BIN/hv-encode" --model "$FT" --print-identity)
[ "$id_ft" = "$id_tok" ] || fail "the fine-tune's token identity $id_ft is not its parent's $id_tok"
first=$T/clips/$(q "$DB" 'SELECT min(clip_id) FROM token_file').hvt
header=$("$BIN/hv-info" --json "$first" | python3 -c 'import json, sys; h = json.load(sys.stdin); print(h["tokenizerName"] + "@" + h["tokenizerHash"])')
[ "$header" = "$id_tok" ] || fail "$first names $header in its header, hv-encode --print-identity says $id_tok"
[ "$(cat "$FT/config.json" "$FT/model.safetensors" | sha256sum | cut -c1-64)" != "${id_tok##*@}" ] || fail "the fine-tune's files hash to its token identity"
state > "$W/before-ft"
pretok "$DB" "$T" -j2 TOKENIZER="$FT" > "$W/log5" 2>&1 || { cat "$W/log5" >&2; fail "finished re-run with the fine-tune failed"; }
state > "$W/after-ft"
cmp -s "$W/before-ft" "$W/after-ft" || { diff "$W/before-ft" "$W/after-ft" | head >&2 || true; fail "a finished re-run with the fine-tune changed something"; }
# Every clip pending again, one token file gone: the fine-tune re-encodes only that one, to the same bytes.
cp -a "$T/shards" "$W/shards-before"; cp "$first" "$W/first.hvt"; rm -f "$first"
find "$T/clips" -name '*.hvt' -printf '%p %i %T@\n' | sort > "$W/kept-before"
M reset "$DB" --all 2> /dev/null
pretok "$DB" "$T" -j2 TOKENIZER="$FT" > "$W/log6" 2>&1 || { cat "$W/log6" >&2; fail "re-run with the fine-tune after reset failed"; }
[ "$(ndone "$DB")" = "$total" ] || fail "after the fine-tune's run, $(ndone "$DB") of $total clips are done"
[ "$(grep -c ' tokenized:' "$W/log6")" = 1 ] || fail "the fine-tune re-encoded $(grep -c ' tokenized:' "$W/log6") clips, expected 1"
cmp -s "$first" "$W/first.hvt" || fail "the fine-tune re-encoded $first to different bytes"
find "$T/clips" -name '*.hvt' ! -path "$first" -printf '%p %i %T@\n' | sort | cmp -s - "$W/kept-before" || fail "the fine-tune rewrote kept token files"
diff -r "$W/shards-before" "$T/shards" > /dev/null || fail "the fine-tune packed different shards"
check_files "$DB" "$T"
note "frozen-token fine-tune ($id_ft): same token identity, finished re-run a no-op, $((total - 1)) clips kept, 1 re-encoded byte for byte, same shards"

# ---- 5. ENCODE_FLAGS reach hv-encode ----------------------------------------------------------------------
# The same clip re-encoded with --refine: a different token file under the same token identity, which renders.
rm -f "$first"
M reset "$DB" --all 2> /dev/null
pretok "$DB" "$T" -j2 ENCODE_FLAGS='--refine 3' > "$W/log7" 2>&1 || { cat "$W/log7" >&2; fail "re-run with ENCODE_FLAGS='--refine 3' failed"; }
[ "$(grep -c ' tokenized:' "$W/log7")" = 1 ] || fail "ENCODE_FLAGS run re-encoded $(grep -c ' tokenized:' "$W/log7") clips, expected 1"
[ -s "$first" ] && ! cmp -s "$first" "$W/first.hvt" || fail "--refine 3 through ENCODE_FLAGS gave the plain encode's bytes"
[ "$("$BIN/hv-info" --json "$first" | python3 -c 'import json, sys; h = json.load(sys.stdin); print(h["tokenizerName"] + "@" + h["tokenizerHash"])')" = "$id_tok" ] \
    || fail "the refined file names another tokenizer"
"$BIN/hv-render" --model "$TOK" "$first" -o "$W/refined.y4m" 2> "$W/log-render" || { cat "$W/log-render" >&2; fail "the refined file does not render"; }
note "ENCODE_FLAGS='--refine 3': the clip re-encoded to refined tokens under the same identity"
note "PASS in $((SECONDS - started)) s"
