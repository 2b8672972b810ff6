#!/usr/bin/env bash
# Test of the pretokenization pipeline (pipelines/pretokenize.mk), run by `make test` (target test-pipelines):
#   Tests/pipelines/test-pretokenize.sh BIN_DIR
# Needs only the built tools, ffmpeg, sqlite3, python3 and flock: the clips are synthetic (ffmpeg lavfi) and the
# tokenizer is a throwaway `tiny` one trained for 2 steps (Tests/pipelines/tiny-setup.sh).
#  1. `make -j2 pretokenize` is killed with kill -9 of its whole process group midway (after a few clips), then
#     again at a random moment of the resumed run, then resumed to the end. Checked after every kill: every
#     file with a final name (*.hvt, *.hvts, *.tsv) is complete and valid, and every clip the manifest calls done
#     has its token file. At the end: every clip done, one token file each, nothing done before a kill was
#     redone (same file inode and mtime, same manifest row), no temporary file left, every clip packed exactly
#     once into a shard whose bytes at the indexed offset are its token file.
#  2. Re-running the finished pipeline does nothing (same manifest dump, same files, same mtimes).
#  3. Two work-shard ranges (SHARDS=0-49, SHARDS=50-99) run at once on two copies of the manifest ("two
#     machines") cover every clip exactly once, and merging one copy into the other with `hv-manifest done`
#     (docs/pretokenize.md) completes it.
set -euo pipefail
BIN=$(cd "$1" && pwd)
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
for t in ffmpeg sqlite3 python3 flock setsid; do command -v $t >/dev/null || fail "$t is missing (make deps)"; done

"$ROOT/Tests/pipelines/tiny-setup.sh" "$BIN" "$W/setup" 4 12
TOK=$W/setup/tok
{ M init "$W/pristine.db" && M add "$W/pristine.db" --metadata "$W/setup/videos.csv" --clip-seconds 2 &&
  M split "$W/pristine.db" --val-fraction 0.3 --seed 0; } > "$W/log0" 2>&1 || { cat "$W/log0" >&2; fail "building the manifest failed"; }
q "$W/pristine.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
total=$(q "$W/pristine.db" 'SELECT count(*) FROM clip')
[ "$total" -ge 20 ] || fail "expected at least 20 clips, got $total"
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

check_shards() {  # TOKENS: every per-shard index describes its shard exactly
    local tokens=$1 idx shard member off bytes id rest
    for idx in "$tokens"/shards/*.tsv; do
        [ -e "$idx" ] || continue
        [ "$(basename "$idx")" = index.tsv ] && continue
        shard=${idx%.tsv}.hvts
        [ -s "$shard" ] || fail "index $idx without its shard"
        local end=0
        while IFS=$'\t' read -r _ member off bytes id rest; do
            [ "$off" = "$end" ] || fail "$idx: member $member at $off, expected $end"
            tail -c +$((off + 1)) "$shard" | head -c "$bytes" | cmp -s - "$tokens/clips/$id.hvt" \
                || fail "$shard member $member differs from clip $id's token file"
            end=$((off + bytes))
        done < <(tail -n +2 "$idx")
        [ "$(stat -c %s "$shard")" = "$end" ] || fail "$shard is $(stat -c %s "$shard") bytes, its index covers $end"
    done
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
    while [ "$(ndone "$db")" -lt "$min" ] && kill -0 "$jobs_pid" 2>/dev/null && [ $waited -lt 600 ]; do sleep 0.05; waited=$((waited + 1)); done
    sleep "0.$(printf '%03d' $((RANDOM % delay)))"
    kill -9 -- "-$jobs_pid" 2>/dev/null || true
    wait "$jobs_pid" 2>/dev/null || true
    jobs_pid=
    sleep 0.2   # let the killed group's processes disappear
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
[ "$(tail -n +2 "$T/shards/index.tsv" | cut -f5 | sort -n | uniq | wc -l)" = "$total" ] || fail "index.tsv does not list every clip"
[ "$(tail -n +2 "$T/shards/index.tsv" | wc -l)" = "$total" ] || fail "index.tsv lists a clip twice"
for s in "$T"/shards/*.hvts; do
    [ "$(q "$DB" "SELECT count(*) FROM shard WHERE path = '$s'")" = 1 ] || fail "shard $s is not recorded in the manifest"
done
note "resumed: $total clips done once each, $(ls "$T"/shards/*.hvts | wc -l) shards, no partial file"

# ---- 2. a finished pipeline re-runs as a no-op -------------------------------------------------------------
state() { q "$DB" .dump; find "$T" -path "$T/.lists" -prune -o -printf '%p %s %i %T@\n' | sort; }
state > "$W/before"
pretok "$DB" "$T" -j2 > "$W/log4" 2>&1 || { cat "$W/log4" >&2; fail "finished re-run failed"; }
state > "$W/after"
cmp -s "$W/before" "$W/after" || { diff "$W/before" "$W/after" | head >&2; fail "a finished re-run changed something"; }
grep -q 'pending clips' "$W/log4" && fail "a finished re-run tokenized clips"
note "finished re-run: nothing done"

# ---- 3. two work-shard ranges, as two machines -------------------------------------------------------------
copy_db "$W/a.db"; copy_db "$W/b.db"
pretok "$W/a.db" "$W/ta" -j2 SHARDS=0-49 > "$W/loga" 2>&1 & pa=$!
pretok "$W/b.db" "$W/tb" -j2 SHARDS=50-99 > "$W/logb" 2>&1 & pb=$!
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
cat "$W/ta/shards/index.tsv" <(tail -n +2 "$W/tb/shards/index.tsv") | tail -n +2 | cut -f5 | sort | cmp -s - "$W/want-all" \
    || fail "the two indexes together do not list every clip exactly once"
check_files "$W/a.db" "$W/ta"; check_files "$W/b.db" "$W/tb"
# Merge machine B's results into A's manifest (docs/pretokenize.md).
q -separator $'\t' "$W/b.db" "SELECT clip_id, path, tokenizer_hash, bytes, bits, masked_fraction FROM token_file" |
while IFS=$'\t' read -r id path hash bytes bits masked; do
    M done "$W/a.db" "$id" --token-file "$path" --tokenizer-hash "$hash" --bytes "$bytes" --bits "$bits" --masked-fraction "$masked" --worker merge
done
[ "$(ndone "$W/a.db")" = "$total" ] || fail "merging B into A did not complete A"
note "SHARDS=0-49 ($(wc -l < "$W/done-a") clips) + SHARDS=50-99 ($(wc -l < "$W/done-b") clips) = all $total clips, merged"
note "PASS in $((SECONDS - started)) s"
