#!/usr/bin/env bash
# Test of the Slurm pretokenization (pipelines/slurm/), run by `make test` (target test-slurm) on a real
# one-node Slurm cluster started here:
#   Tests/pipelines/test-slurm.sh BIN_DIR
# Needs Debian's slurm-wlm (make deps), the built tools, ffmpeg, sqlite3 and python3; root, or a user that may
# run slurmd. About 30 s on 2 busy cores.
# The cluster: slurmctld + slurmd in the foreground (stopped by pid at exit) on 127.0.0.1, free ports,
# AuthType=auth/none, state, spool, logs and slurm.conf in a temporary folder (SLURM_CONF), the node as
# `slurmd -C` sees it, RequeueExit=75 (the tasks' transient-failure status), cred_expire=5 (requeued jobs wait
# that long instead of 120 s before they start again).
# 24 synthetic 2 s clips (Tests/pipelines/tiny-setup.sh: a throwaway tiny tokenizer) in 3 work shards, submitted
# with pipelines/slurm/submit.sh. While the array runs, one task's pipeline (make's process group) is killed
# with kill -9 after a few clips (the task must exit 75 and be requeued), and the node is set down under a
# running task (the task must be requeued), then resumed. Checked afterwards: the merge job ran once and lists
# nothing to resubmit; every clip is done exactly once in the main manifest (one token file, in its work shard's
# folder), PRAGMA integrity_check is ok, no temporary file or scratch folder is left, merging again changes
# nothing (same .dump, the file not even rewritten), and every token file is byte-identical to the one a
# one-machine `make pretokenize` of the same manifest makes (the manifest rows too), and `hv-manifest pack` after
# the merge gives byte-identical WebDataset shards to packing the one-machine run. Then a main manifest that
# received only work shard 0's ledger and has a failed clip lists 1-2 to resubmit, and resubmitting that
# list completes it.
# Exit status 77 (reported as a skip by make test-slurm): Slurm's daemons cannot run here; the reason is printed.
set -euo pipefail
BIN=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/hv-slurm-test.XXXXXX")
started=$SECONDS
ctld_pid= slurmd_pid=
stop_cluster() {
    local p
    for p in $slurmd_pid $ctld_pid; do kill "$p" 2>/dev/null || true; done
    for p in $slurmd_pid $ctld_pid; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true
    done
    ctld_pid= slurmd_pid=
}
# TEST_SLURM_KEEP=1 keeps the folder (logs, manifests, tokens) for a look after a failure.
cleanup() { stop_cluster; if [ "${TEST_SLURM_KEEP:-0}" = 1 ]; then echo "test-slurm: kept $W" >&2; else rm -rf "$W"; fi; }
trap cleanup EXIT
fail() { echo "test-slurm: FAIL: $*" >&2; exit 1; }
skip() { echo "test-slurm: SKIP: $*" >&2; exit 77; }
note() { echo "test-slurm: $*"; }
q() { sqlite3 -bail -cmd '.timeout 30000' "$@"; }
for t in slurmctld slurmd sbatch scontrol squeue sinfo; do command -v $t >/dev/null || fail "$t is missing: install slurm-wlm (make deps)"; done
for t in ffmpeg sqlite3 python3 setsid; do command -v $t >/dev/null || fail "$t is missing (make deps)"; done

# ---- the cluster ---------------------------------------------------------------------------------------------
C=$W/slurm
mkdir -p "$C/state" "$C/spool"
plugins=$(dirname "$(find /usr/lib /usr/lib64 /usr/local/lib -name 'auth_none.so' -path '*slurm*' 2>/dev/null | head -n 1)" 2>/dev/null || true)
[ -n "$plugins" ] && [ "$plugins" != . ] || skip "this Slurm ($(slurmd -V 2>&1)) has no auth/none plugin (auth_none.so); the test does not set up munge"
node_line=$(slurmd -C 2>/dev/null | grep -m1 '^NodeName=') || skip "slurmd -C cannot describe this machine: $(slurmd -C 2>&1 | head -n 1)"
node=$(sed 's/^NodeName=\([^ ]*\).*/\1/' <<< "$node_line")
cpus=$(grep -o 'CPUs=[0-9]*' <<< "$node_line" | cut -d= -f2)
read -r port1 port2 < <(python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
user=$(id -un)
cat > "$C/slurm.conf" <<EOF
ClusterName=hvtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port1
SlurmdPort=$port2
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/none
CredType=cred/none
AuthInfo=cred_expire=5
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldPidFile=$C/slurmctld.pid
SlurmdPidFile=$C/slurmd.pid
SlurmctldLogFile=$C/slurmctld.log
SlurmdLogFile=$C/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=1
RequeueExit=75
KillWait=10
MailProg=/bin/true
MinJobAge=600
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$C/slurm.conf
slurmctld -D -c > "$C/slurmctld.out" 2>&1 & ctld_pid=$!
slurmd -D > "$C/slurmd.out" 2>&1 & slurmd_pid=$!
up=
for _ in $(seq 150); do
    kill -0 "$ctld_pid" 2>/dev/null && kill -0 "$slurmd_pid" 2>/dev/null || break
    if [ "$(sinfo -h -n "$node" -o %T 2>/dev/null)" = idle ]; then up=1; break; fi
    sleep 0.2
done
if [ -z "$up" ]; then
    why=$(cat "$C/slurmd.out" "$C/slurmctld.out" "$C/slurmd.log" "$C/slurmctld.log" 2>/dev/null | grep -i -m3 -E 'error|fatal' | tr '\n' ' ' || true)
    skip "Slurm's daemons did not come up within 30 s (slurmctld $(kill -0 "$ctld_pid" 2>/dev/null && echo running || echo exited), slurmd $(kill -0 "$slurmd_pid" 2>/dev/null && echo running || echo exited)): ${why:-no error logged}"
fi
note "cluster up: $(slurmd -V), node $node ($cpus CPUs), ports $port1/$port2 ($((SECONDS - started)) s)"

# ---- the data and the one-machine reference ------------------------------------------------------------------
"$ROOT/Tests/pipelines/tiny-setup.sh" "$BIN" "$W/setup" 4 12
TOK=$W/setup/tok
MAIN=$W/main.db
{ "$BIN/hv-manifest" init "$MAIN" && "$BIN/hv-manifest" add "$MAIN" --metadata "$W/setup/videos.csv" --clip-seconds 2 &&
  "$BIN/hv-manifest" split "$MAIN" --val-fraction 0.3 --seed 0; } > "$W/log0" 2>&1 || { cat "$W/log0" >&2; fail "building the manifest failed"; }
total=$(q "$MAIN" 'SELECT count(*) FROM clip')
[ "$total" -ge 20 ] || fail "expected at least 20 clips, got $total"
N=3
for k in $(seq 0 $((N - 1))); do
    [ "$(q "$MAIN" "SELECT count(*) FROM clip WHERE shard_key % $N = $k")" -ge 4 ] || fail "work shard $k of $N has fewer than 4 clips; the kills need more"
done
q "$MAIN" ".backup '$W/ref.db'"
make --no-print-directory -f "$ROOT/pipelines/pretokenize.mk" -j2 pretokenize BIN="$BIN" TOKENIZER="$TOK" \
    MANIFEST="$W/ref.db" TOKENS="$W/ref" PACK=0 > "$W/log-ref" 2>&1 || { cat "$W/log-ref" >&2; fail "the one-machine reference run failed"; }
note "$total clips in $N work shards; one-machine reference done ($((SECONDS - started)) s)"

# ---- bad input to the scripts --------------------------------------------------------------------------------
S=$ROOT/pipelines/slurm
rc=0; "$S/submit.sh" "$W/nothing.db" "$W/tokens" BIN="$BIN" 2> "$W/err" >/dev/null || rc=$?
[ "$rc" = 66 ] && [ "$(wc -l < "$W/err")" = 1 ] && grep -q '^submit.sh: error: ' "$W/err" || fail "submit.sh with a missing manifest: status $rc, $(cat "$W/err")"
rc=0; "$S/submit.sh" "$MAIN" "$W/tokens" --shards 3 --array 2-3 2> "$W/err" >/dev/null || rc=$?
[ "$rc" = 64 ] && grep -q '^submit.sh: error: ' "$W/err" || fail "submit.sh --array beyond the shards: status $rc, $(cat "$W/err")"
rc=0; SLURM_ARRAY_TASK_ID= bash "$S/pretokenize.sbatch" "$ROOT" "$MAIN" "$W/tokens" 3 2> "$W/err" >/dev/null || rc=$?
[ "$rc" = 64 ] && grep -q '^pretokenize.sbatch: error: ' "$W/err" || fail "pretokenize.sbatch outside an array: status $rc, $(cat "$W/err")"

# ---- the Slurm run: one kill -9, one node down -----------------------------------------------------------------
T=$W/tokens
mkdir -p "$W/scratch"
main_dump() { q "$MAIN" .dump; }
main_dump > "$W/main-before.sql"
q "$MAIN" ".backup '$W/pristine.db'"
# The tools of the first submission, with hv-decode 0.3 s slower per clip, so that a task is still running
# when the kills below come, even on a fast idle machine (the tokens are the same).
SLOW=$W/slowbin
mkdir -p "$SLOW"
for t in "$BIN"/hv-*; do ln -s "$t" "$SLOW/"; done
rm "$SLOW/hv-decode"; printf '#!/bin/sh\nsleep 0.3\nexec "%s/hv-decode" "$@"\n' "$BIN" > "$SLOW/hv-decode"; chmod +x "$SLOW/hv-decode"
# TMPDIR: the tasks' node-local scratch, checked for leftovers at the end.
read -r A M < <(TMPDIR=$W/scratch "$S/submit.sh" "$MAIN" "$T" --shards $N BIN="$SLOW" TOKENIZER="$TOK" 2> "$W/submit.err") \
    || { cat "$W/submit.err" >&2; fail "submit.sh failed"; }
[[ $A =~ ^[0-9]+$ && $M =~ ^[0-9]+$ ]] || fail "submit.sh printed '$A $M', not two job ids"
note "submitted array job $A and merge job $M"
field() { scontrol show job "$1" 2>/dev/null | grep -o "\b$2=[^ ]*" | head -n 1 | cut -d= -f2; }
running_tasks() { squeue -h -r -j "$A" -t R -o '%i %K' 2>/dev/null; }   # JOBID_K K, one line per running task
clips_of() { find "$T/shard-$1/clips" -name '*.hvt' 2>/dev/null | wc -l; }
shard_total() { q "$MAIN" "SELECT count(*) FROM clip WHERE shard_key % $N = $1"; }
wait_for() {  # SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds
    local limit=$1 what=$2 i; shift 2
    for ((i = 0; i < limit * 10; i++)); do "$@" && return 0; sleep 0.1; done
    fail "timed out after $limit s waiting for $what"
}

# kill -9 of a task's pipeline (the make process group that pretokenize.sbatch starts with setsid) once it has
# done at least 2 of its clips and has more left.
killed=
find_victim() {
    local id k p pid
    while read -r id k; do
        [ "$(clips_of "$k")" -ge 2 ] && [ "$(clips_of "$k")" -lt "$(shard_total "$k")" ] || continue
        for p in $(pgrep -f "TOKENS=$T/shard-$k SHARDS=$k/$N" || true); do
            [ "$(ps -o pgid= -p "$p" 2>/dev/null | tr -d ' ')" = "$p" ] && pid=$p && break
        done
        [ -n "${pid:-}" ] || continue
        kill -9 -- "-$pid" 2>/dev/null || continue
        killed="$id $k $(clips_of "$k")"
        return 0
    done < <(running_tasks)
    return 1
}
wait_for 60 "a running task with 2 clips done" find_victim
read -r kjob kshard kdone <<< "$killed"
note "killed task $kjob (work shard $kshard) with kill -9 of its pipeline after $kdone clips"
requeued() { [ "$(field "$1" Restarts)" -ge "$2" ] 2>/dev/null; }
wait_for 30 "task $kjob to be requeued after exit 75" requeued "$kjob" 1
grep -q "exit 75 to be requeued" "$T/logs/pretokenize-${A}_$kshard.out" || fail "task $kjob was requeued, but its log does not say it exited 75"

# The node set down under a running task with clips left: Slurm kills and requeues it (--requeue).
down_victim() {
    local id k
    while read -r id k; do
        [ "$(clips_of "$k")" -lt "$(shard_total "$k")" ] || continue
        [ -e "$T/shard-$k/clips" ] || continue
        down="$id $k $(field "$id" Restarts)"
        scontrol update nodename="$node" state=down reason=test
        return 0
    done < <(running_tasks)
    return 1
}
down=
wait_for 90 "a running task to set the node down under" down_victim
read -r djob dshard drestarts <<< "$down"
node_down() { sinfo -h -n "$node" -o %T | grep -q down; }
wait_for 10 "the node to be down" node_down
wait_for 30 "task $djob to be requeued after the node went down" requeued "$djob" $((drestarts + 1))
note "node set down under task $djob (work shard $dshard): requeued; resuming the node"
scontrol update nodename="$node" state=resume
merge_ended() { case $(field "$M" JobState) in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) return 0 ;; *) return 1 ;; esac; }
wait_for 240 "the merge job $M to end" merge_ended
[ "$(field "$M" JobState)" = COMPLETED ] || { cat "$T"/logs/merge-*.out >&2; fail "the merge job ended $(field "$M" JobState)"; }
[ "$(field "$M" Restarts)" = 0 ] || fail "the merge job was restarted"
for k in $(seq 0 $((N - 1))); do
    st=$(field "${A}_$k" JobState); [ "$st" = COMPLETED ] || { cat "$T/logs/pretokenize-${A}_$k.out" >&2; fail "task ${A}_$k ended $st"; }
done
mlog=$T/logs/merge-$M.out
[ -s "$mlog" ] || fail "no merge log $mlog"
grep -q "all $N work shards are done" "$mlog" || { cat "$mlog" >&2; fail "the merge job lists work shards to resubmit"; }
note "array and merge job done ($((SECONDS - started)) s): task $kjob restarted $(field "$kjob" Restarts)x, task $djob $(field "$djob" Restarts)x"

# ---- checks -------------------------------------------------------------------------------------------------
[ "$(q "$MAIN" 'PRAGMA integrity_check')" = ok ] || fail "the main manifest fails PRAGMA integrity_check"
[ "$(q "$MAIN" "SELECT count(*) FROM clip_status WHERE state = 'done'")" = "$total" ] || fail "$(q "$MAIN" "SELECT count(*) FROM clip_status WHERE state = 'done'") of $total clips done in the main manifest"
[ "$(q "$MAIN" "SELECT count(*) FROM clip_status")" = "$total" ] || fail "clip_status rows != clips"
[ "$(q "$MAIN" 'SELECT count(*), count(DISTINCT clip_id) FROM token_file')" = "$total|$total" ] || fail "token_file rows are not one per clip: $(q "$MAIN" 'SELECT count(*), count(DISTINCT clip_id) FROM token_file')"
[ "$(find "$T" -name '*.hvt' | wc -l)" = "$total" ] || fail "$(find "$T" -name '*.hvt' | wc -l) token files for $total clips"
while IFS='|' read -r id key path; do
    [ "$path" = "$T/shard-$((key % N))/clips/$id.hvt" ] || fail "clip $id recorded with $path, not in its work shard's folder"
    cmp -s "$path" "$W/ref/clips/$id.hvt" || fail "clip $id: $path differs from the one-machine token file"
done < <(q "$MAIN" 'SELECT t.clip_id, c.shard_key, t.path FROM token_file t JOIN clip c ON c.id = t.clip_id')
rows='SELECT t.clip_id, t.tokenizer_hash, t.bytes, t.bits, t.masked_fraction, s.state FROM token_file t JOIN clip_status s ON s.clip_id = t.clip_id ORDER BY 1'
[ "$(q "$MAIN" "$rows")" = "$(q "$W/ref.db" "$rows")" ] || fail "the merged token_file rows differ from the one-machine run's"
leftover=$(find "$T" "$(dirname "$MAIN")" -maxdepth 3 -name '*.tmp*' | head -n 3)
[ -z "$leftover" ] || fail "temporary files left: $leftover"
[ -z "$(ls -A "$W/scratch")" ] || fail "scratch folders left: $(ls "$W/scratch")"
[ ! -e "$MAIN-wal" ] || fail "the main manifest has a -wal file left"
note "every clip done once, integrity ok, tokens byte-identical to one machine, no temporary file"

# Merging again (by hand, as the merge job does) changes nothing: same dump, the file not rewritten.
main_dump > "$W/main-1.sql"
cmp -s "$W/main-before.sql" "$W/main-1.sql" && fail "the merge job did not change the main manifest"
ident() { stat -c '%i %s %Y' "$MAIN"; }
before=$(ident)
bash "$S/merge.sbatch" "$ROOT" "$MAIN" "$T" $N BIN="$BIN" > "$W/merge2.out" 2>&1 || { cat "$W/merge2.out" >&2; fail "merging again failed"; }
grep -q 'nothing new' "$W/merge2.out" && grep -q "all $N work shards are done" "$W/merge2.out" || { cat "$W/merge2.out" >&2; fail "merging again did not report nothing new / all done"; }
main_dump > "$W/main-2.sql"
cmp -s "$W/main-1.sql" "$W/main-2.sql" || fail "merging again changed the main manifest's dump"
[ "$(ident)" = "$before" ] || fail "merging again rewrote the main manifest"
[ -z "$(find "$T" "$(dirname "$MAIN")" -maxdepth 3 -name '*.tmp*' | head -n 1)" ] || fail "merging again left temporary files"

# Packing once after the last merge (docs/pretokenize.md) gives the shards a one-machine run packs, byte for byte.
"$BIN/hv-manifest" pack "$MAIN" --out "$T/shards" --clips-per-shard 5 > /dev/null 2> "$W/pack.err" || { cat "$W/pack.err" >&2; fail "hv-manifest pack of the merged manifest failed"; }
"$BIN/hv-manifest" pack "$W/ref.db" --out "$W/ref/shards" --clips-per-shard 5 > /dev/null 2> "$W/pack.err" || { cat "$W/pack.err" >&2; fail "hv-manifest pack of the one-machine manifest failed"; }
[ "$(q "$MAIN" 'SELECT count(*) FROM token_file WHERE shard_id IS NULL')" = 0 ] || fail "clips left unpacked after hv-manifest pack"
shardsums() { (cd "$1" && find . \( -name '*.tar' -o -name index.json \) -print0 | sort -z | xargs -0 sha256sum); }
[ -n "$(shardsums "$T/shards")" ] && [ "$(shardsums "$T/shards")" = "$(shardsums "$W/ref/shards")" ] \
    || fail "the shards packed after the Slurm run differ from the one-machine run's"
note "packed after the merge: $(find "$T/shards" -name '*.tar' | wc -l) shards, byte-identical to the one-machine run's"

# The resubmit list: a manifest that received only work shard 0's ledger, and where one clip of work shard 1
# failed earlier, lists 1-2; resubmitting exactly that list (into a new TOKENS) completes it, the failed clip
# included.
T2=$W/tokens2
mkdir -p "$T2"; cp -a "$T/shard-0" "$T2/"
bad=$(q "$W/pristine.db" "SELECT min(id) FROM clip WHERE shard_key % $N = 1")
"$BIN/hv-manifest" fail "$W/pristine.db" "$bad" --error 'a test failure' > /dev/null
bash "$S/merge.sbatch" "$ROOT" "$W/pristine.db" "$T2" $N BIN="$BIN" > "$W/merge3.out" 2>&1 || { cat "$W/merge3.out" >&2; fail "merging one ledger failed"; }
todo=$(sed -n 's/^resubmit --array=//p' "$W/merge3.out")
[ "$todo" = 1-2 ] || { cat "$W/merge3.out" >&2; fail "with only work shard 0 merged, the resubmit list is '$todo', not 1-2"; }
read -r A2 M2 < <(TMPDIR=$W/scratch "$S/submit.sh" "$W/pristine.db" "$T2" --shards $N --array "$todo" BIN="$BIN" TOKENIZER="$TOK" 2> "$W/submit2.err") \
    || { cat "$W/submit2.err" >&2; fail "resubmitting with --array $todo failed"; }
M=$M2; wait_for 120 "the merge job $M2 of the resubmission to end" merge_ended
grep -q "all $N work shards are done" "$T2/logs/merge-$M2.out" || { cat "$T2/logs/merge-$M2.out" >&2; fail "after resubmitting $todo, the merge job still lists shards"; }
[ ! -e "$T2/logs/pretokenize-${A2}_0.out" ] || fail "the resubmission ran work shard 0, which was not in its --array list"
[ "$(q "$W/pristine.db" "$rows")" = "$(q "$W/ref.db" "$rows")" ] || fail "after the resubmission, the token_file rows differ from the one-machine run's"
while IFS='|' read -r id path; do cmp -s "$path" "$W/ref/clips/$id.hvt" || fail "resubmission: $path differs from the one-machine token file"; done \
    < <(q "$W/pristine.db" 'SELECT clip_id, path FROM token_file')
note "merge of work shard 0 alone listed $todo; resubmitting --array $todo completed the manifest (failed clip $bad retried) ($((SECONDS - started)) s)"

stop_cluster
note "PASS ($((SECONDS - started)) s)"
