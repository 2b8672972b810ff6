#!/usr/bin/env bash
# Hostile-input suite (issue 18), run by `make test` (target test-hostile):
#   Tests/pipelines/test-hostile.sh BIN_DIR [MODEL_DIR]
# Every case runs a built tool on a crafted or damaged input, or against a full disk (/dev/full), a closed pipe,
# a corrupt or empty database, a NaN checkpoint, a CRLF header or a writer killed with kill -9, and asserts the
# tools' contract: the exit code (sysexits), exactly one line on stderr, `TOOL: error: ...` naming the problem
# (no carriage return, no Foundation dump, no crash), peak resident memory under a stated bound (GNU time's
# %M), and no output file, partial or temporary, after a failure. MODEL_DIR is the shipped tokenizer
# (models/tokenizer); its identity stamps the crafted token files so that hv-render and hv-metrics accept them.
# Inputs are written by Tests/pipelines/hostile-files.py from the format documents, not by the tools under test.
# About 40 s on one idle core.
set -euo pipefail
BIN=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODEL=$(cd "${2:-$ROOT/models/tokenizer}" && pwd)
GENERATOR=$ROOT/models/generator
W=$(mktemp -d "${TMPDIR:-/tmp}/hv-hostile.XXXXXX")
trap 'rm -rf "$W"' EXIT
fails=0 cases=0
note() { echo "test-hostile: $*"; }
bad() { echo "test-hostile: FAIL: $*" >&2; fails=$((fails + 1)); }
for t in ffmpeg sqlite3 python3 /usr/bin/time; do command -v "$t" >/dev/null || { echo "test-hostile: $t is missing (make deps)" >&2; exit 1; }; done
python3 -c 'import zstandard' 2>/dev/null || { echo "test-hostile: python3 zstandard is missing (make deps)" >&2; exit 1; }

IDENTITY=$("$BIN/hv-encode" --model "$MODEL" --print-identity)
F=$W/in; O=$W/out; mkdir -p "$F" "$O"
python3 "$ROOT/Tests/pipelines/hostile-files.py" "$F" "$MODEL" "$IDENTITY"
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=256x256:rate=8 -frames:v 16 -pix_fmt yuv420p -c:v libx264 \
    -preset ultrafast -movflags +faststart "$F/a.mp4"
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=256x256:rate=8 -frames:v 8 -pix_fmt yuv420p "$F/a.y4m"
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=32x32:rate=8 -frames:v 3000 -pix_fmt yuv420p "$F/long32.y4m"
printf 'These are notes, not a video.\n%.0s' {1..200} > "$F/notes.txt"

# check NAME CODE PATTERN MAX_MB RC: the last run (stderr in $W/err, peak RSS in $W/rss) against the contract.
# CODE 0 means success with an empty stderr; otherwise one error line from the tool that contains PATTERN.
check() {
    local name=$1 code=$2 pattern=$3 max_mb=$4 rc=$5 tool=$6 rss lines
    cases=$((cases + 1))
    rss=$(( $(tail -n 1 "$W/rss") / 1024 ))
    [ "$rc" = "$code" ] || { bad "$name: exit $rc, expected $code: $(head -c 300 "$W/err")"; return; }
    [ "$rss" -le "$max_mb" ] || bad "$name: peak memory $rss MB over its bound of $max_mb MB"
    if [ "$code" = 0 ]; then
        [ ! -s "$W/err" ] || bad "$name: stderr on success: $(head -c 300 "$W/err")"
        return
    fi
    lines=$(wc -l < "$W/err")
    [ "$lines" = 1 ] || bad "$name: $lines lines on stderr: $(head -c 300 "$W/err")"
    grep -q "^$tool: error: " "$W/err" || bad "$name: not a '$tool: error:' line: $(head -c 300 "$W/err")"
    grep -q -- "$pattern" "$W/err" || bad "$name: '$pattern' not in: $(cat "$W/err")"
    ! grep -q $'\r' "$W/err" || bad "$name: a carriage return in the message"
}

# expect NAME CODE PATTERN MAX_MB TOOL ARGS...: runs the tool with stdout to $STDOUT (default a file) and checks.
# After a failure nothing may be left under $O: no output, no temporary file.
expect() {
    local name=$1 code=$2 pattern=$3 max_mb=$4 tool=$5 rc=0
    shift 5
    /usr/bin/time -f %M -o "$W/rss" "$BIN/$tool" "$@" > "${STDOUT:-$W/stdout}" 2> "$W/err" || rc=$?
    check "$name" "$code" "$pattern" "$max_mb" "$rc" "$tool"
    if [ "$code" != 0 ] && [ -n "$(ls -A "$O")" ]; then bad "$name: left $(ls -A "$O" | tr '\n' ' ')"; fi
    rm -rf "${O:?}"/* "$O"/.[!.]* 2>/dev/null || true
}

# Every file and device an output option points at is under $O, which must be empty after a failure.
ln -s /dev/full "$W/full.y4m"; ln -s /dev/full "$W/full.mp4"; ln -s /dev/full "$W/full.png"; ln -s /dev/full "$W/full.csv"

note "truncations"
size=$(stat -c %s "$F/ok.hvt")
for cut in 5 30 200 $((size / 2)) $((size - 1)); do
    head -c "$cut" "$F/ok.hvt" > "$F/cut.hvt"
    expect "hv-info cut at $cut" 65 "truncated\|not an .hvt" 200 hv-info "$F/cut.hvt"
    expect "hv-mask cut at $cut" 65 "truncated\|not an .hvt" 200 hv-mask "$F/cut.hvt" -o "$O/m.hvt"
    expect "hv-metrics --tokens cut at $cut" 65 "truncated\|not an .hvt" 300 hv-metrics --tokens "$F/cut.hvt"
done
expect "hv-render cut" 65 "truncated" 1100 hv-render --model "$MODEL" "$F/cut.hvt" -o "$O/r.y4m"
head -c 30000 "$F/a.y4m" > "$F/cut.y4m"
expect "hv-encode cut y4m" 65 "truncated" 600 hv-encode --model "$MODEL" "$F/cut.y4m" -o "$O/e.hvt"
expect "hv-metrics cut y4m" 65 "" 300 hv-metrics "$F/cut.y4m" "$F/a.y4m"
head -c $(( $(stat -c %s "$F/a.mp4") / 2 )) "$F/a.mp4" > "$F/cut.mp4"
expect "hv-decode cut mp4" 65 "cut short" 300 hv-decode "$F/cut.mp4" -o "$O/d.y4m"
mkdir -p "$W/cutmodel"; cp "$MODEL/config.json" "$W/cutmodel/"
head -c 1000000 "$MODEL/model.safetensors" > "$W/cutmodel/model.safetensors"
expect "hv-encode cut checkpoint" 65 "safetensors" 300 hv-encode --model "$W/cutmodel" "$F/a.y4m" -o "$O/e.hvt"

note "bit flips"
for at in 13 40 $((size / 3)) $((size - 10)); do
    python3 -c "import sys; d = bytearray(open(sys.argv[1], 'rb').read()); d[int(sys.argv[2])] ^= 0x10; open(sys.argv[3], 'wb').write(d)" \
        "$F/ok.hvt" "$at" "$F/flip.hvt"
    expect "hv-info flip at $at" 65 "checksum\|corrupt" 200 hv-info "$F/flip.hvt"
    expect "hv-mask flip at $at" 65 "checksum\|corrupt" 200 hv-mask "$F/flip.hvt" -o "$O/m.hvt"
done
sed '1s/W256/W2x6/' "$F/a.y4m" > "$F/flip.y4m"
expect "hv-encode flipped y4m header" 65 "bad y4m header" 300 hv-encode --model "$MODEL" "$F/flip.y4m" -o "$O/e.hvt"

note "header and decompression bombs"
expect "hv-info 16 layers of 4096x4096" 65 "limit exceeded" 100 hv-info "$F/bomb-layers.hvt"
expect "hv-mask 16 layers of 4096x4096" 65 "limit exceeded" 100 hv-mask "$F/bomb-layers.hvt" -o "$O/m.hvt"
expect "hv-metrics 16 layers of 4096x4096" 65 "limit exceeded" 100 hv-metrics --tokens "$F/bomb-layers.hvt"
expect "hv-info 4 GiB record" 65 "limit exceeded" 100 hv-info "$F/bomb-payload.hvt"
expect "hv-info 1 TiB zstd frame" 65 "zstd frame of 1099511627776 bytes" 100 hv-info "$F/bomb-zstd.hvt"
expect "hv-info zstd frame without size" 65 "does not state its size" 100 hv-info "$F/nosize.hvt"
expect "hv-info 65535 wide" 65 "frame size 65535x256" 100 hv-info "$F/wide.hvt"
expect "hv-metrics 16384x16384 y4m" 65 "over hv-metrics' limit" 200 hv-metrics "$F/huge.y4m" "$F/huge.y4m"
expect "hv-encode 16384x16384 y4m" 65 "" 300 hv-encode --model "$MODEL" "$F/huge.y4m" -o "$O/e.hvt"
expect "hv-metrics 100000x100000 y4m" 65 "y4m" 200 hv-metrics "$F/bomb-dims.y4m" "$F/bomb-dims.y4m"
expect "hv-metrics endless y4m header" 65 "y4m" 200 hv-metrics "$F/endless.y4m" "$F/endless.y4m"
python3 -c "import struct, sys; open(sys.argv[1], 'wb').write(struct.pack('<Q', 1 << 60) + b'{}')" "$W/cutmodel/model.safetensors"
expect "hv-encode safetensors header of 2^60 bytes" 65 "safetensors" 200 hv-encode --model "$W/cutmodel" "$F/a.y4m" -o "$O/e.hvt"

# One such clip is 64 MiB of indices: a tool that kept every clip would pass 500 MB here.
note "large legal layers (8 clips of 2^24 tokens, 10 KB on disk)"
expect "hv-info large layers" 0 "" 300 hv-info "$F/large.hvt"
expect "hv-metrics --tokens large layers" 0 "" 300 hv-metrics --tokens "$F/large.hvt"
expect "hv-mask large layers" 0 "" 400 hv-mask "$F/large.hvt" -o "$O/m.hvt"
rm -f "$O/m.hvt"
# Tools that render check the model against the header before reading a clip: the large layers are refused at once.
expect "hv-render large layers" 65 "tokens were made by tokenizer hostile" 600 hv-render --model "$MODEL" "$F/large.hvt" -o "$O/r.y4m"
expect "hv-metrics --tokens large layers with REF" 65 "tokens were made by tokenizer hostile" 600 \
    hv-metrics --tokens "$F/large.hvt" "$F/a.y4m" --model "$MODEL"
# hv-metrics scores its largest frame (4096x4096) within its budget (--help: about 1 GiB on any number of cores).
expect "hv-metrics 4096x4096 frames" 0 "" 1400 hv-metrics "$F/big.y4m" "$F/big.y4m"

note "full disk (/dev/full)"
for t in hv-decode hv-encode hv-mask hv-render hv-metrics hv-info hv-train hv-gen hv-manifest hv-bench; do
    STDOUT=/dev/full expect "$t --help > /dev/full" 74 "No space left on device" 200 "$t" --help
done
STDOUT=/dev/full expect "hv-info > /dev/full" 74 "No space left on device" 200 hv-info "$F/ok.hvt"
STDOUT=/dev/full expect "hv-info --json > /dev/full" 74 "No space left on device" 200 hv-info --json "$F/ok.hvt"
STDOUT=/dev/full expect "hv-metrics > /dev/full" 74 "No space left on device" 300 hv-metrics "$F/lf-full.y4m" "$F/lf-full.y4m"
STDOUT=/dev/full expect "hv-metrics --tokens > /dev/full" 74 "No space left on device" 300 hv-metrics --tokens "$F/ok.hvt"
STDOUT=/dev/full expect "hv-decode > /dev/full" 74 "No space left on device" 300 hv-decode "$F/a.mp4"
STDOUT=/dev/full expect "hv-mask > /dev/full" 74 "No space left on device" 200 hv-mask "$F/ok.hvt"
STDOUT=/dev/full expect "hv-encode --print-identity > /dev/full" 74 "No space left on device" 300 hv-encode --model "$MODEL" --print-identity
expect "hv-decode -o full" 74 "No space left on device" 300 hv-decode "$F/a.mp4" -o "$W/full.y4m"
expect "hv-render -o full.y4m" 74 "No space left on device" 1100 hv-render --model "$MODEL" "$F/ok.hvt" -o "$W/full.y4m"
expect "hv-render -o full.mp4" 74 "No space left on device" 1100 hv-render --model "$MODEL" "$F/ok.hvt" -o "$W/full.mp4"
expect "hv-metrics --per-frame full" 74 "No space left on device" 300 hv-metrics "$F/lf-full.y4m" "$F/lf-full.y4m" --per-frame "$W/full.csv"

note "broken pipes (one rule: exit 74, 'Broken pipe')"
# pipe TOOL ARGS...: the tool's output (far more than a pipe holds) read by `head -c 1`.
pipe() {
    local tool=$1 rc
    shift
    set +o pipefail
    /usr/bin/time -f %M -o "$W/rss" "$BIN/$tool" "$@" 2> "$W/err" | head -c 1 > /dev/null
    rc=${PIPESTATUS[0]}
    set -o pipefail
    check "$tool $* | head -c 1" 74 "Broken pipe" 1100 "$rc" "$tool"
}
pipe hv-info "$F/many.hvt"
pipe hv-info --json "$F/many.hvt"
pipe hv-metrics --json "$F/long32.y4m" "$F/long32.y4m"
pipe hv-decode "$F/a.mp4"
pipe hv-mask "$F/many.hvt"
pipe hv-render --model "$MODEL" "$F/ok.hvt" -o -

note "non-video input, stdin"
expect "hv-decode text file" 65 "not a video" 300 hv-decode "$F/notes.txt" -o "$O/d.y4m"
STDOUT=$W/stdin.y4m expect "hv-decode - < mp4" 0 "" 300 hv-decode - --size 64 < "$F/a.mp4"
[ "$(grep -c FRAME "$W/stdin.y4m" || true)" -ge 16 ] || bad "hv-decode - read $(grep -c FRAME "$W/stdin.y4m" || true) frames from stdin, not 16"

note "CRLF and colour-range headers"
expect "hv-metrics CRLF full vs LF full" 0 "" 300 hv-metrics --json "$F/crlf-full.y4m" "$F/lf-full.y4m"
python3 -c "import json, sys; r = json.load(open(sys.argv[1])); sys.exit(0 if r['psnr'] >= 99 else 1)" "$W/stdout" \
    || bad "a CRLF header lost XCOLORRANGE=FULL (its frames differ from the LF file's)"
STDOUT=$W/limited.json expect "hv-metrics CRLF full vs LF limited" 0 "" 300 hv-metrics --json "$F/crlf-full.y4m" "$F/lf-limited.y4m"
python3 -c "import json, sys; r = json.load(open(sys.argv[1])); sys.exit(0 if r['psnr'] < 60 else 1)" "$W/limited.json" \
    || bad "full and limited range read alike"
expect "hv-metrics XCOLORRANGE=PURPLE" 65 "XCOLORRANGE=PURPLE" 300 hv-metrics "$F/purple.y4m" "$F/lf-full.y4m"
expect "hv-encode XCOLORRANGE=PURPLE" 65 "XCOLORRANGE=PURPLE" 300 hv-encode --model "$MODEL" "$F/purple.y4m" -o "$O/e.hvt"
sed '1s/F8:1/F16:1/' "$F/lf-full.y4m" > "$F/rate16.y4m"
expect "hv-metrics different frame rates" 65 "frame rates differ" 300 hv-metrics "$F/rate16.y4m" "$F/lf-full.y4m"

note "NaN and duplicate-key checkpoints"
mkdir -p "$W/nan" "$W/dup"
cp "$MODEL/config.json" "$W/nan/"; cp "$MODEL/config.json" "$W/dup/"
# poison SRC NAN [DUP]: NAN gets SRC with every weight NaN; DUP, if given, SRC with its first tensor listed twice.
poison() {
    python3 - "$@" <<'EOF'
import json, struct, sys
d = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", d[:8])[0]
head, body = json.loads(d[8:8 + n]), bytearray(d[8 + n:])
for k, v in head.items():
    if k != "__metadata__":
        a, b = v["data_offsets"]
        nan = {"BF16": b"\xc0\x7f", "F16": b"\x00\x7e", "F32": b"\x00\x00\xc0\x7f"}[v["dtype"]]
        body[a:b] = nan * ((b - a) // len(nan))
open(sys.argv[2], "wb").write(d[:8 + n] + body)
text = d[8:8 + n].decode()
if len(sys.argv) > 3:
    first = next(k for k in head if k != "__metadata__")
    at = text.index(json.dumps(first))
    end = text.index("}", at) + 1
    dup = (text[:end] + "," + text[at:end] + text[end:]).encode()
    dup += b" " * (-len(dup) % 8)
    open(sys.argv[3], "wb").write(struct.pack("<Q", len(dup)) + dup + d[8 + n:])
EOF
}
poison "$MODEL/model.safetensors" "$W/nan/model.safetensors" "$W/dup/model.safetensors"
expect "hv-encode NaN checkpoint" 65 "NaN" 400 hv-encode --model "$W/nan" "$F/a.y4m" -o "$O/e.hvt"
expect "hv-render NaN checkpoint" 65 "NaN" 400 hv-render --model "$W/nan" "$F/ok.hvt" -o "$O/r.y4m"
expect "hv-metrics NaN checkpoint" 65 "NaN" 400 hv-metrics --tokens "$F/ok.hvt" "$F/a.y4m" --model "$W/nan"
expect "hv-encode duplicate key" 65 "twice" 400 hv-encode --model "$W/dup" "$F/a.y4m" -o "$O/e.hvt"
if [ -s "$GENERATOR/model.safetensors" ]; then
    mkdir -p "$W/gen-nan"; cp "$GENERATOR/config.json" "$W/gen-nan/"
    poison "$GENERATOR/model.safetensors" "$W/gen-nan/model.safetensors"
    expect "hv-gen NaN generator" 65 "NaN" 600 hv-gen "a bird" --model "$W/gen-nan" -o "$O/g.hvt"
fi

note "corrupt and empty databases"
M=$W/db; mkdir -p "$M"
"$BIN/hv-manifest" init "$M/good.db" 2> /dev/null
sqlite3 "$M/good.db" 'PRAGMA wal_checkpoint(TRUNCATE);' > /dev/null
rm -f "$M/good.db-wal" "$M/good.db-shm"
: > "$M/empty.db"
python3 - "$M/good.db" "$M/corrupt.db" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
for page in range(2, len(d) // 4096):   # every b-tree page header but the schema's
    d[page * 4096:page * 4096 + 8] = b"\xff" * 8
open(sys.argv[2], "wb").write(d)
EOF
for db in empty corrupt; do
    sum=$(md5sum < "$M/$db.db")
    for sub in status list export; do
        expect "hv-manifest $sub on a $db database" 65 "not a HiTVideo manifest\|damaged" 200 hv-manifest "$sub" "$M/$db.db"
        [ "$(md5sum < "$M/$db.db")" = "$sum" ] || bad "hv-manifest $sub changed the $db database"
    done
done
[ -z "$(ls "$M"/empty.db-* 2> /dev/null)" ] || bad "read-only subcommands made files beside the empty database: $(ls "$M"/empty.db-*)"
expect "hv-manifest init on a corrupt database" 65 "damaged" 200 hv-manifest init "$M/corrupt.db"
[ "$(md5sum < "$M/corrupt.db")" = "$sum" ] || bad "hv-manifest init changed the corrupt database"
# A 0-byte file (mktemp, touch) holds no manifest yet: init creates one in it and says so.
cases=$((cases + 1))
"$BIN/hv-manifest" init "$M/empty.db" 2> "$W/err" || bad "hv-manifest init on a 0-byte file: $(cat "$W/err")"
grep -q "^created manifest" "$W/err" || bad "hv-manifest init on a 0-byte file says: $(cat "$W/err")"
sum=$(md5sum < "$M/good.db")
expect "hv-manifest status on a good database" 0 "" 200 hv-manifest status "$M/good.db"
[ "$(md5sum < "$M/good.db")" = "$sum" ] || bad "hv-manifest status wrote to the database"

note "second masking requests"
expect "hv-mask" 0 "" 200 hv-mask "$F/ok.hvt" -o "$W/masked.hvt"
STDOUT=$W/again.hvt expect "hv-mask the same request again" 0 "" 200 hv-mask "$W/masked.hvt"
cmp -s "$W/masked.hvt" "$W/again.hvt" || bad "the same masking request changed the file"
for other in "--seed 5" "--layers 1" "--layers 0,1" "--ratio 0.5" "--strategy zero"; do
    # shellcheck disable=SC2086 # two words of options
    STDOUT=$W/again.hvt expect "hv-mask again with $other" 65 "masked" 200 hv-mask "$W/masked.hvt" $other
    [ ! -s "$W/again.hvt" ] || bad "hv-mask again with $other: $(stat -c %s "$W/again.hvt") bytes on stdout"
done

note "kill -9 temporary files"
# The writer is held mid-stream by a FIFO: its temporary file exists, then it is killed with SIGKILL (no cleanup
# can run). The next run writing to the same target removes it; a live process's temporary file is kept.
mkfifo "$W/fifo"
hvtsize=$(stat -c %s "$F/ok.hvt")
for tool in hv-mask hv-render; do
    case $tool in
        hv-mask) target=k.hvt; args=(-o "$O/k.hvt") ;;
        hv-render) target=k.y4m; args=(--model "$MODEL" -o "$O/k.y4m") ;;
    esac
    cases=$((cases + 1))
    "$BIN/$tool" "$W/fifo" "${args[@]}" 2> /dev/null &
    pid=$!
    exec 3> "$W/fifo"
    head -c $((hvtsize - 40)) "$F/ok.hvt" >&3   # all but HEND: the writer waits for the rest
    for _ in $(seq 400); do [ -e "$O/.$target.tmp.$pid" ] && break; sleep 0.05; done
    kill -9 "$pid"; wait "$pid" 2> /dev/null || true
    exec 3>&-
    [ -e "$O/.$target.tmp.$pid" ] || { bad "$tool: no temporary file .$target.tmp.$pid to leave (the case tests nothing)"; continue; }
    : > "$O/.$target.tmp.1"   # pid 1 is alive: its file is not ours to remove
    "$BIN/$tool" "$F/ok.hvt" "${args[@]}" 2> "$W/err" || bad "$tool after a kill -9: $(cat "$W/err")"
    [ ! -e "$O/.$target.tmp.$pid" ] || bad "$tool: the killed writer's .$target.tmp.$pid is still there"
    [ -e "$O/.$target.tmp.1" ] || bad "$tool: a live process's temporary file was removed"
    [ -s "$O/$target" ] || bad "$tool: no output after the rerun"
    rm -rf "${O:?}"/* "$O"/.[!.]* 2>/dev/null || true
done

note "$cases cases, $fails failures, ${SECONDS} s"
[ "$fails" = 0 ]
