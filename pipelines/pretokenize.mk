# Pretokenization (issue 6): every pending clip of a manifest → hv-decode | hv-encode | hv-mask → one .hvt per
# clip (temporary file + rename) → `hv-manifest done`; then `hv-manifest pack` packs the done clips into
# WebDataset tar shards with an index.
# How to run it, on one machine or many: docs/pretokenize.md. Shard and index layout: formats/shards.md.
#
#   make -j2 pretokenize MANIFEST=data.db TOKENS=tok [SHARDS=0-9] [TOKENIZER=models/tokenizer]
#   make -j2 demo-data                    # the real footage, captioned, embedded, pretokenized; status table
#   make bench-pretokenize                # clips per hour at -j1 and -j2 (also part of `make bench`)
#   make bench-pretokenize-real           # the same with the shipped tokenizer on 12 real 64-frame clips
#   make test-pipelines                   # kill -9 / resume / shard-range / fine-tune test (part of `make test`)
#   make test-slurm                       # the Slurm array + merge job on a one-node cluster (part of `make test`)
#   make test-webdataset                  # the shards read by PyPI webdataset (part of `make test`)
#
# Included by the top-level Makefile; also works alone (without Swift):
#   make -f pipelines/pretokenize.mk pretokenize BIN=.build/release MANIFEST=... TOKENS=...
# Resumable: a clip's .hvt appears only complete (rename) and is recorded in the manifest after that, so a
# re-run after `kill -9` redoes only the clips the manifest still lists as pending (an .hvt already there is
# verified and recorded, not re-encoded); stale *.tmp.PID files of dead processes are removed, before the clips
# and again after them (a killed predecessor's process may still be exiting when a new run starts).
SHELL := /bin/bash
PRETOK_MK := $(lastword $(MAKEFILE_LIST))
OUT ?= out
# Tool folder; the top-level Makefile sets it from `swift build --show-bin-path`.
BIN ?= .build/release
MANIFEST ?= $(OUT)/demo-data/manifest.db
TOKENIZER ?= models/tokenizer
TOKENS ?= $(OUT)/tokens
# Work shards of this run: A-B (of SHARD_COUNT), K, or A-B/N / K/N; empty = every clip.
SHARDS ?=
SHARD_COUNT ?= 100
# Clips per packed shard at most (a shard never mixes splits). PACK=0: tokenize only (pack later, e.g. centrally
# after merging several machines' manifests, with `make pack-shards` or `hv-manifest pack`).
SHARD_CLIPS ?= 1000
PACK ?= 1
MASK_FLAGS ?= --ratio 0.85 --strategy repeat
# hv-encode options, e.g. --refine 8 (decoder-guided refinement of the dense layer: +0.5 dB, ~15× the encode time).
ENCODE_FLAGS ?=
# hv-decode options; empty = --size and --fps of the tokenizer's config.json.
DECODE_FLAGS ?=
# Environment of each clip's tools: one thread per make job, so -jN on N cores runs N threads: one OpenBLAS thread
# and one for the engine's own loops and FFmpeg (HV_THREADS; unset, each tool splits its convs over every core and
# -j2 on 2 cores runs 4 busy threads). Set it empty for -j1 on a many-core machine.
WORKER_ENV ?= OPENBLAS_NUM_THREADS=1 HV_THREADS=1
# Extra flags for the per-clip make (-k by default: one bad clip does not stop the others).
PRETOK_CLIP_FLAGS ?= -k

# Sub-make of this file with the settings of this run.
PRETOK_SUBMAKE = $(MAKE) --no-print-directory -f $(PRETOK_MK) BIN='$(BIN)' MANIFEST='$(MANIFEST)' \
  TOKENIZER='$(TOKENIZER)' TOKENS='$(TOKENS)' SHARDS='$(SHARDS)' SHARD_COUNT='$(SHARD_COUNT)' \
  SHARD_CLIPS='$(SHARD_CLIPS)' MASK_FLAGS='$(MASK_FLAGS)' ENCODE_FLAGS='$(ENCODE_FLAGS)' DECODE_FLAGS='$(DECODE_FLAGS)' WORKER_ENV='$(WORKER_ENV)' OUT='$(OUT)'

.PHONY: pretokenize pretokenize-clips pack-shards demo-data bench-pretokenize bench-pretokenize-real test-pipelines test-slurm test-webdataset

# Shell prologue shared by the recipes: checks, tokenizer hash, decode flags, work-shard selection
# (sel: hv-manifest option; tag: file-name tag). The hash is the checkpoint's token identity
# as hv-encode writes it into .hvt headers (`hv-encode --print-identity`): for a frozen-token fine-tune (such as
# the shipped models/tokenizer) that of the checkpoint whose tokens it kept (tokens_of), not a hash of its files.
define pretok_setup
set -euo pipefail; \
die() { echo "pretokenize: error: $$*" >&2; exit 66; }; \
for t in hv-decode hv-encode hv-mask hv-info hv-manifest; do [ -x '$(BIN)'/$$t ] || die "$(BIN)/$$t is missing (build the tools first: make build, or pass BIN=DIR)"; done; \
[ -s '$(TOKENIZER)/config.json' ] && [ -s '$(TOKENIZER)/model.safetensors' ] || die "no tokenizer checkpoint in '$(TOKENIZER)' (config.json + model.safetensors): train one with 'make train-tokenizer' or pass TOKENIZER=DIR"; \
[ -s '$(MANIFEST)' ] || die "no manifest '$(MANIFEST)': create one with hv-manifest init/add (docs/manifest.md) or pass MANIFEST=FILE"; \
tokid=$$('$(BIN)'/hv-encode --model '$(TOKENIZER)' --print-identity) || die "cannot read the tokenizer checkpoint '$(TOKENIZER)'"; \
hash=$${tokid##*@}; [[ $$hash =~ ^[0-9a-f]{64}$$ ]] || die "hv-encode --print-identity printed '$$tokid', not name@sha256"; \
decode='$(DECODE_FLAGS)'; \
if [ -z "$$decode" ]; then \
  size=$$(grep -o '"frameSize" *: *[0-9]*' '$(TOKENIZER)/config.json' | head -n 1 | grep -o '[0-9]*$$'); \
  fps=$$(grep -o '"fps" *: *[0-9]*' '$(TOKENIZER)/config.json' | head -n 1 | grep -o '[0-9]*$$'); \
  [ -n "$$size" ] && [ -n "$$fps" ] || die "cannot read frameSize/fps from $(TOKENIZER)/config.json; pass DECODE_FLAGS"; \
  decode="--size $$size --fps $$fps"; \
fi; \
spec='$(SHARDS)'; sel=; tag=all; \
if [ -n "$$spec" ]; then \
  case $$spec in */*) n=$${spec#*/}; r=$${spec%/*} ;; *) n='$(SHARD_COUNT)'; r=$$spec ;; esac; \
  a=$${r%-*}; b=$${r#*-}; \
  [[ $$a =~ ^[0-9]+$$ && $$b =~ ^[0-9]+$$ && $$n =~ ^[0-9]+$$ ]] && [ "$$a" -le "$$b" ] && [ "$$b" -lt "$$n" ] || die "SHARDS='$$spec' is not A-B, K, A-B/N or K/N with A <= B < N"; \
  sel="--shards $$a-$$b/$$n"; tag=$$a-$$b-of-$$n; \
fi; \
alive() { if [ -r "/proc/$$1/status" ]; then ! grep -q '^State:[[:space:]]*Z' "/proc/$$1/status"; else kill -0 "$$1" 2>/dev/null; fi; }; \
clean_stale() { for f in "$$1"/*.tmp.* "$$1"/.*.tmp.*; do [ -e "$$f" ] || continue; p=$${f##*.tmp.}; p=$${p%%.*}; \
  alive "$$p" || rm -f "$$f"; done; }
endef

# Tokenize the pending clips of the selected work shards, then pack.
pretokenize:
	+@$(pretok_setup); \
	mkdir -p '$(TOKENS)/clips' '$(TOKENS)/shards' '$(TOKENS)/.lists'; \
	clean_stale '$(TOKENS)/clips'; clean_stale '$(TOKENS)/shards'; clean_stale '$(TOKENS)/.lists'; \
	list='$(TOKENS)/.lists/pending-'$$tag.tsv; \
	'$(BIN)'/hv-manifest list '$(MANIFEST)' --pending $$sel > "$$list.tmp.$$$$"; mv -f "$$list.tmp.$$$$" "$$list"; \
	n=$$(wc -l < "$$list"); \
	if [ "$$n" -gt 0 ]; then \
	  echo "pretokenize: $$n pending clips$${sel:+ ($$sel)}, tokens of $${tokid%@*}@$${hash:0:12}, hv-decode $$decode"; \
	  $(PRETOK_SUBMAKE) $(PRETOK_CLIP_FLAGS) pretokenize-clips PRETOK_LIST="$$list" TOK_HASH=$$hash DECODE_FLAGS="$$decode" \
	    || { echo "pretokenize: error: some clips failed (hv-manifest list '$(MANIFEST)' --failed; after fixing: hv-manifest reset '$(MANIFEST)' and re-run)" >&2; exit 1; }; \
	fi; \
	rm -f "$$list"; \
	clean_stale '$(TOKENS)/clips'; \
	nf=$$('$(BIN)'/hv-manifest list '$(MANIFEST)' --failed $$sel | wc -l); \
	[ "$$nf" = 0 ] || echo "pretokenize: warning: $$nf clips failed in an earlier run and were skipped (hv-manifest list '$(MANIFEST)' --failed; hv-manifest reset '$(MANIFEST)' retries them)" >&2
	+@$(if $(filter 1,$(PACK)),$(PRETOK_SUBMAKE) pack-shards,echo "pretokenize: PACK=$(PACK): not packing")

# One phony target per pending clip (ids from PRETOK_LIST, written by `pretokenize`), run in parallel by -jN.
ifdef PRETOK_LIST
PRETOK_IDS := $(shell cut -f1 '$(PRETOK_LIST)')
PRETOK_CLIP_TARGETS := $(addprefix pretok-clip-,$(PRETOK_IDS))
.PHONY: $(PRETOK_CLIP_TARGETS)
pretokenize-clips: $(PRETOK_CLIP_TARGETS)
endif

# `hv-info --json` → "TOKENIZER_HASH STORED_BITS MASKED_FRACTION" over every layer of every clip record (awk: no
# interpreter start-up per clip; the keys tokens/maskedTokens/storedBits occur only in per-layer entries).
PRETOK_STATS_AWK = { s = $$0; while (match(s, /"(tokenizerHash|storedBits|maskedTokens|tokens)" *: *("[0-9a-f]*"|[0-9]+)/)) { \
  kv = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH); k = kv; sub(/" *:.*/, "", k); sub(/^"/, "", k); \
  v = kv; sub(/^[^:]*: */, "", v); gsub(/"/, "", v); if (k == "tokenizerHash") h = v; else n[k] += v } } \
  END { if (h == "" || n["tokens"] == 0) exit 1; printf "%s %d %.6f\n", h, n["storedBits"], n["maskedTokens"] / n["tokens"] }

$(PRETOK_CLIP_TARGETS): pretok-clip-%:
	@set -uo pipefail; id=$*; \
	IFS=$$'\t' read -r _ src start dur < <(grep -m1 "^$$id"$$'\t' '$(PRETOK_LIST)'); \
	out='$(TOKENS)/clips/'$$id.hvt; tmp=$$out.tmp.$$$$; \
	trap 'rm -f "$$tmp" "$$tmp.err"' EXIT; \
	stats() { '$(BIN)'/hv-info --json "$$1" 2>/dev/null | awk '$(PRETOK_STATS_AWK)'; }; \
	if [ -s "$$out" ] && read -r h bits masked < <(stats "$$out") && [ "$$h" = '$(TOK_HASH)' ]; then \
	  how="kept (already tokenized)"; \
	else \
	  rm -f "$$out"; \
	  if ! { env $(WORKER_ENV) '$(BIN)'/hv-decode "$$src" --start "$$start" --duration "$$dur" $(DECODE_FLAGS) \
	         | env $(WORKER_ENV) '$(BIN)'/hv-encode --model '$(TOKENIZER)' $(ENCODE_FLAGS) | '$(BIN)'/hv-mask $(MASK_FLAGS) > "$$tmp"; } 2> "$$tmp.err"; then \
	    msg=$$(grep -m1 'error' "$$tmp.err" || grep -v '^$$' "$$tmp.err" | tail -n 1); \
	    echo "pretokenize: clip $$id failed: $$msg" >&2; \
	    '$(BIN)'/hv-manifest fail '$(MANIFEST)' "$$id" --error "$${msg:-hv-decode | hv-encode | hv-mask failed}"; exit 1; \
	  fi; \
	  read -r h bits masked < <(stats "$$tmp") && [ "$$h" = '$(TOK_HASH)' ] || { echo "pretokenize: clip $$id: output unreadable or its tokenizer hash ($${h:-none}) is not the token identity of $(TOKENIZER) ($(TOK_HASH))" >&2; exit 1; }; \
	  mv -f "$$tmp" "$$out"; how=tokenized; \
	fi; \
	'$(BIN)'/hv-manifest done '$(MANIFEST)' "$$id" --token-file "$$out" --tokenizer-hash "$$h" --bits "$$bits" \
	  --masked-fraction "$$masked" --worker "$${HOSTNAME:-$$(hostname)}/$$$$" && \
	echo "pretokenize: clip $$id $$how: $$(stat -c %s "$$out") bytes, $$bits bits, masked $$masked"

# Pack the done clips not yet in a shard (this tokenizer, these work shards) into WebDataset tar shards,
# TOKENS/shards/SPLIT/shard-NNNNNN.tar + SPLIT/index.json, recorded in the manifest: `hv-manifest pack` (temporary
# file + rename per shard, one transaction per record). Layout: formats/shards.md.
pack-shards:
	@$(pretok_setup); \
	'$(BIN)'/hv-manifest pack '$(MANIFEST)' --out '$(TOKENS)/shards' --tokenizer-hash "$$hash" --clips-per-shard '$(SHARD_CLIPS)' $$sel > /dev/null

# ---- make demo-data: the real footage (data/footage) with the captions of pipelines/captions.tsv --------------
DEMO_DATA ?= $(OUT)/demo-data
FOOTAGE ?= data/footage
TEXT_ENCODER_DIR ?= models/text-encoder
# Videos (names in pipelines/captions.tsv, files FOOTAGE/train/SOURCE/NAME.y4m; captioned videos that are not
# training footage, such as diver, are left out): `all` adds bbb (several minutes with the shipped tokenizer on 2 cores).
DEMO_DATA_VIDEOS ?= balle lego shepard tree vtest
DEMO_DATA_VAL_FRACTION ?= 0.2

demo-data: build text-encoder $(if $(wildcard $(FOOTAGE)/train/*/*.y4m),,footage)
	@[ -s '$(TOKENIZER)/model.safetensors' ] || { echo "demo-data: error: no tokenizer checkpoint in '$(TOKENIZER)' yet: train it with 'make train-tokenizer' (or pass TOKENIZER=DIR)" >&2; exit 66; }
	@set -euo pipefail; mkdir -p '$(DEMO_DATA)'; csv='$(DEMO_DATA)/videos.csv'; \
	{ echo 'id,path,caption'; \
	  awk -F'\t' -v want=' $(DEMO_DATA_VIDEOS) ' '$$1 !~ /^(#|$$)/ && (want ~ / all / || index(want, " " $$1 " ")) { \
	    gsub(/"/, "\"\"", $$2); printf "%s,\"%s\"\n", $$1, $$2 }' pipelines/captions.tsv | \
	  while IFS=, read -r name caption; do \
	    for f in '$(FOOTAGE)'/train/*/"$$name".y4m; do if [ -e "$$f" ]; then echo "$$name,$${f#'$(FOOTAGE)'/},$$caption"; fi; done; \
	  done; } > "$$csv.tmp"; \
	if cmp -s "$$csv.tmp" "$$csv"; then rm -f "$$csv.tmp"; else mv -f "$$csv.tmp" "$$csv"; fi
	$(BIN)/hv-manifest init $(DEMO_DATA)/manifest.db
	$(BIN)/hv-manifest add $(DEMO_DATA)/manifest.db --metadata $(DEMO_DATA)/videos.csv --video-dir $(FOOTAGE)
	$(BIN)/hv-manifest split $(DEMO_DATA)/manifest.db --val-fraction $(DEMO_DATA_VAL_FRACTION) --seed 0
	$(BIN)/hv-manifest embed $(DEMO_DATA)/manifest.db --model $(TEXT_ENCODER_DIR)
	+@$(PRETOK_SUBMAKE) pretokenize MANIFEST='$(DEMO_DATA)/manifest.db' TOKENS='$(DEMO_DATA)/tokens'
	$(BIN)/hv-manifest status $(DEMO_DATA)/manifest.db

# ---- bench and test ------------------------------------------------------------------------------------------
# Clips per hour at -j1 and -j2 and their ratio. Default: the tiny tokenizer trained on the fly on generated
# clips; BENCH_PRETOK_TOKENIZER=models/tokenizer BENCH_PRETOK_VIDEOS=data/footage/train measures the real thing.
BENCH_PRETOK_DIR ?= $(OUT)/bench/pretokenize
BENCH_PRETOK_TOKENIZER ?=
BENCH_PRETOK_VIDEOS ?=
BENCH_PRETOK_CLIPS ?= 48
BENCH_PRETOK_REPEATS ?= 1
bench: bench-pretokenize
bench-pretokenize: build
	Tests/pipelines/bench-pretokenize.sh '$(BIN)' '$(BENCH_PRETOK_DIR)' '$(BENCH_PRETOK_CLIPS)' '$(BENCH_PRETOK_TOKENIZER)' \
	  '$(BENCH_PRETOK_VIDEOS)' '$(BENCH_PRETOK_REPEATS)'

# The same with the shipped tokenizer on real 64-frame clips: BENCH_PRETOK_CLIPS (12) clips of data/footage/train
# (the same ones every time), -j1 and -j2 alternating BENCH_PRETOK_REPEATS (2) times, best of each. Pause other
# work on the machine first: the ratio means something only on free cores.
bench-pretokenize-real: BENCH_PRETOK_TOKENIZER = $(TOKENIZER)
bench-pretokenize-real: BENCH_PRETOK_VIDEOS = $(FOOTAGE)/train
bench-pretokenize-real: BENCH_PRETOK_CLIPS = 12
bench-pretokenize-real: BENCH_PRETOK_REPEATS = 2
bench-pretokenize-real: bench-pretokenize

# kill -9 midway then resume, finished re-run, two shard ranges, a frozen-token fine-tune of the tokenizer
# (Tests/pipelines/test-pretokenize.sh), with the shipped tokenizer; TEST_PRETOK_TOKENIZER= (empty): a throwaway tiny one.
# Then the generator's data against a changed tokenizer (Tests/pipelines/test-lm-data.sh, tiny models, seconds).
TEST_PRETOK_TOKENIZER ?= models/tokenizer
test-pipelines: build
	Tests/pipelines/test-pretokenize.sh '$(BIN)' '$(TEST_PRETOK_TOKENIZER)'
	Tests/pipelines/test-lm-data.sh '$(BIN)'

# pipelines/slurm/ on a real one-node Slurm cluster started for the test (Tests/pipelines/test-slurm.sh, 30 s to
# a minute): one task killed with kill -9, the node set down once, merge, resubmit list, tokens compared with a
# one-machine run. Status 77 means that Slurm's daemons cannot run on this machine: reported as a skip with its reason.
test-slurm: build
	@rc=0; Tests/pipelines/test-slurm.sh '$(BIN)' || rc=$$?; \
	if [ $$rc = 77 ]; then echo "test-slurm: skipped: Slurm cannot run here (reason above)" >&2; else exit $$rc; fi

# The shards read by the ecosystem's reader (Tests/pipelines/test-webdataset.sh, about 15 s): PyPI webdataset in a
# venv kept in TEST_WDS_VENV (made on the first run), formats/hvt_reader.py, every clip once with its tokens,
# caption and embedding. Status 77 means that pip could not install the packages: reported as a skip with its reason.
TEST_WDS_VENV ?= $(OUT)/venv-webdataset
test-webdataset: build text-encoder
	@rc=0; Tests/pipelines/test-webdataset.sh '$(BIN)' '$(TEXT_ENCODER_DIR)' '$(TEST_WDS_VENV)' || rc=$$?; \
	if [ $$rc = 77 ]; then echo "test-webdataset: skipped: the Python packages cannot be installed here (reason above)" >&2; else exit $$rc; fi
