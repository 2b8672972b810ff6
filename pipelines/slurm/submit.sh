#!/usr/bin/env bash
# Submits a Slurm pretokenization of MANIFEST into TOKENS (docs/pretokenize.md, "Several machines: Slurm"):
#   pipelines/slurm/submit.sh MANIFEST TOKENS [--shards N] [--array LIST] [VAR=VALUE ...] [-- SBATCH_OPTION ...]
# an array job (pretokenize.sbatch; task K = work shard K of N, default N = 100, LIST default 0-(N-1)) and a
# merge job (merge.sbatch) that starts after every task has ended (--dependency=afterany) and writes MANIFEST.
# VAR=VALUE: make variables of pipelines/pretokenize.mk for the tasks (BIN=DIR, TOKENIZER=DIR, MASK_FLAGS=...);
# relative paths are relative to the current directory, where the jobs run. SBATCH_OPTION: passed to both
# sbatch calls (--partition=..., --time=..., --cpus-per-task=C: the task runs make -jC).
# Prints "ARRAY_JOB_ID MERGE_JOB_ID" on stdout; logs go to TOKENS/logs/. To resubmit what the merge job lists:
# the same command with --array LIST.
set -euo pipefail
me=submit.sh
die() { echo "$me: error: $2" >&2; exit "$1"; }
usage="usage: $me MANIFEST TOKENS [--shards N] [--array LIST] [VAR=VALUE ...] [-- SBATCH_OPTION ...]"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -ge 2 ] || die 64 "$usage"
main=$1 tokens=$2; shift 2
n=100 array= vars=() sb=()
while [ $# -gt 0 ]; do
    case $1 in
        --shards) [ $# -ge 2 ] || die 64 "--shards needs a value"; n=$2; shift 2 ;;
        --shards=*) n=${1#*=}; shift ;;
        --array) [ $# -ge 2 ] || die 64 "--array needs a value"; array=$2; shift 2 ;;
        --array=*) array=${1#*=}; shift ;;
        --) shift; sb=("$@"); break ;;
        [A-Za-z_]*=*) [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die 64 "'$1' is not VAR=VALUE"; vars+=("$1"); shift ;;
        *) die 64 "unknown argument '$1'; $usage" ;;
    esac
done
[[ $n =~ ^[1-9][0-9]*$ ]] || die 64 "--shards '$n' is not a positive number"
array=${array:-0-$((n - 1))}
[[ $array =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*(%[0-9]+)?$ ]] || die 64 "--array '$array' is not a list like 3,7-9"
for r in $(echo "${array%\%*}" | tr ',' ' '); do
    [ "${r#*-}" -lt "$n" ] || die 64 "--array '$array' goes beyond work shard $((n - 1)) of $n"
done
[ -s "$main" ] || die 66 "no manifest '$main'"
command -v sbatch >/dev/null || die 69 "sbatch is missing: not a Slurm submit host"
command -v sqlite3 >/dev/null || die 66 "sqlite3 is missing"
main=$(cd "$(dirname "$main")" && pwd)/$(basename "$main")
mkdir -p "$tokens/logs" || die 74 "cannot create $tokens/logs"
tokens=$(cd "$tokens" && pwd)
# The tasks read MANIFEST from many nodes at once: in rollback-journal mode they need no -shm file, which
# shared file systems cannot share between machines (the content is unchanged).
sqlite3 -bail -cmd '.timeout 60000' "$main" 'PRAGMA journal_mode=DELETE' >/dev/null || die 74 "cannot open the manifest '$main'"

jobid() { local out; out=$(sbatch --parsable "$@") || return 1; echo "${out%%;*}"; }
array_job=$(jobid --array="$array" --output="$tokens/logs/pretokenize-%A_%a.out" ${sb[@]+"${sb[@]}"} \
    "$here/pretokenize.sbatch" "$root" "$main" "$tokens" "$n" ${vars[@]+"${vars[@]}"}) || die 74 "sbatch of the array failed (error above)"
merge_job=$(jobid --dependency=afterany:"$array_job" --output="$tokens/logs/merge-%j.out" ${sb[@]+"${sb[@]}"} \
    "$here/merge.sbatch" "$root" "$main" "$tokens" "$n" ${vars[@]+"${vars[@]}"}) || die 74 "sbatch of the merge job failed (error above); the array $array_job runs without it"
echo "$me: array job $array_job (work shards $array of $n), merge job $merge_job; logs in $tokens/logs" >&2
echo "$array_job $merge_job"
