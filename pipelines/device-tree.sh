#!/bin/bash
# A device call copies the working tree's tracked files, and at most 64 MiB travel; the committed run checkpoints
# (models/*-run, models/*-next: ~240 MB) are far over that. `slim` takes every folder of models/ but the ones KEEP
# names out of the index (the files stay on disk) and lists them in .git/info/exclude, so they neither travel nor
# show as untracked; `restore` puts them back. Commit nothing in between: the index would delete them.
#   pipelines/device-tree.sh slim      (KEEP="models/tokenizer" by default)
#   pipelines/device-tree.sh restore
#   pipelines/device-tree.sh size      (MiB that would travel: tracked + untracked-not-ignored files)
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
exclude=.git/info/exclude
mark="# device-tree.sh slim: begin" end="# device-tree.sh slim: end"
KEEP=${KEEP:-models/tokenizer}
case "${1:-}" in
slim)
    grep -q "^$mark" "$exclude" 2>/dev/null && { echo "device-tree: error: already slim (run restore first)" >&2; exit 65; }
    echo "$mark" >> "$exclude"
    for d in models/*/; do
        d=${d%/}
        case " $KEEP " in *" $d "*) continue ;; esac
        git ls-files --error-unmatch "$d" > /dev/null 2>&1 || continue
        git rm -r -q --cached "$d"
        echo "/$d/" >> "$exclude"
    done
    echo "$end" >> "$exclude"
    ;;
restore)
    grep -q "^$mark" "$exclude" 2>/dev/null || { echo "device-tree: nothing to restore" >&2; exit 0; }
    # Only the folders slim took out go back into the index (a change staged elsewhere in models/ stays staged).
    paths=$(sed -n "/^$mark\$/,/^$end\$/{s|^/\(models/.*\)/\$|\1|p}" "$exclude")
    sed -i "/^$mark\$/,/^$end\$/d" "$exclude"
    [ -z "$paths" ] || git reset -q -- $paths
    ;;
size)
    ;;
*)
    echo "usage: device-tree.sh slim|restore|size" >&2
    exit 64
    ;;
esac
{ git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 -r stat -L -c %s 2>/dev/null \
    | awk '{s += $1} END {printf "device-tree: %.1f MiB of tracked and untracked-not-ignored files would travel, carried paths besides (64 MiB in all)\n", s / 1048576}'
