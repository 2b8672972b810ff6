# Pretokenization (issue 6): every pending clip of a manifest → hv-decode | hv-encode | hv-mask → one .hvt per
# clip (temporary file + rename) → `hv-manifest done`; then the done clips are packed into shards with an index.
# How to run it, on one machine or many: docs/pretokenize.md. Shard and index layout: formats/shards.md.
#
#   make -j2 pretokenize MANIFEST=data.db TOKENS=tok [SHARDS=0-9] [TOKENIZER=models/tokenizer]
#   make -j2 demo-data                    # the real footage, captioned, embedded, pretokenized; status table
#   make bench-pretokenize                # clips per hour at -j1 and -j2 (also part of `make bench`)
#   make test-pipelines                   # kill -9 / resume / shard-range / fine-tune test (part of `make test`)
#   make test-slurm                       # the Slurm array + merge job on a one-node cluster (part of `make test`)
#
# Included by the top-level Makefile; also works alone (without Swift):
#   make -f pipelines/pretokenize.mk pretokenize BIN=.build/release MANIFEST=... TOKENS=...
# Resumable: a clip's .hvt appears only complete (rename) and is recorded in the manifest after that, so a
# re-run after `kill -9` redoes only the clips the manifest still lists as pending (an .hvt already there is
# verified and recorded, not re-encoded); stale *.tmp.PID files of dead processes are removed.
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
# Clips per packed shard (a shard never mixes splits). PACK=0: tokenize only (pack later, e.g. centrally after
# merging several machines' manifests, with `make pack-shards`).
SHARD_CLIPS ?= 1000
PACK ?= 1
MASK_FLAGS ?= --ratio 0.85 --strategy repeat
# hv-decode options; empty = --size and --fps of the tokenizer's config.json.
DECODE_FLAGS ?=
# Environment of each clip's tools: one BLAS thread per make job (-jN on N cores). Set it empty for -j1 on a
# many-core machine.
WORKER_ENV ?= OPENBLAS_NUM_THREADS=1
# Extra flags for the per-clip make (-k by default: one bad clip does not stop the others).
PRETOK_CLIP_FLAGS ?= -k

# Sub-make of this file with the settings of this run.
PRETOK_SUBMAKE = $(MAKE) --no-print-directory -f $(PRETOK_MK) BIN='$(BIN)' MANIFEST='$(MANIFEST)' \
  TOKENIZER='$(TOKENIZER)' TOKENS='$(TOKENS)' SHARDS='$(SHARDS)' SHARD_COUNT='$(SHARD_COUNT)' \
  SHARD_CLIPS='$(SHARD_CLIPS)' MASK_FLAGS='$(MASK_FLAGS)' DECODE_FLAGS='$(DECODE_FLAGS)' WORKER_ENV='$(WORKER_ENV)' OUT='$(OUT)'

.PHONY: pretokenize pretokenize-clips pack-shards demo-data bench-pretokenize test-pipelines test-slurm

# Shell prologue shared by the recipes: checks, tokenizer hash, decode flags, work-shard selection
# (sel: hv-manifest option; where: SQL condition; tag: file-name tag). The hash is the checkpoint's token identity
# as hv-encode writes it into .hvt headers (`hv-encode --print-identity`): for a frozen-token fine-tune (such as
# the shipped models/tokenizer) that of the checkpoint whose tokens it kept (tokens_of), not a hash of its files.
define pretok_setup
set -euo pipefail; \
die() { echo "pretokenize: error: $$*" >&2; exit 66; }; \
for t in hv-decode hv-encode hv-mask hv-info hv-manifest; do [ -x '$(BIN)'/$$t ] || die "$(BIN)/$$t is missing (build the tools first: make build, or pass BIN=DIR)"; done; \
[ -s '$(TOKENIZER)/config.json' ] && [ -s '$(TOKENIZER)/model.safetensors' ] || die "no tokenizer checkpoint in '$(TOKENIZER)' (config.json + model.safetensors): train one with 'make train-tokenizer' or pass TOKENIZER=DIR"; \
[ -s '$(MANIFEST)' ] || die "no manifest '$(MANIFEST)': create one with hv-manifest init/add (docs/manifest.md) or pass MANIFEST=FILE"; \
command -v sqlite3 >/dev/null || die "sqlite3 is missing (make deps)"; \
tokid=$$('$(BIN)'/hv-encode --model '$(TOKENIZER)' --print-identity) || die "cannot read the tokenizer checkpoint '$(TOKENIZER)'"; \
hash=$${tokid##*@}; [[ $$hash =~ ^[0-9a-f]{64}$$ ]] || die "hv-encode --print-identity printed '$$tokid', not name@sha256"; \
decode='$(DECODE_FLAGS)'; \
if [ -z "$$decode" ]; then \
  size=$$(grep -o '"frameSize" *: *[0-9]*' '$(TOKENIZER)/config.json' | head -n 1 | grep -o '[0-9]*$$'); \
  fps=$$(grep -o '"fps" *: *[0-9]*' '$(TOKENIZER)/config.json' | head -n 1 | grep -o '[0-9]*$$'); \
  [ -n "$$size" ] && [ -n "$$fps" ] || die "cannot read frameSize/fps from $(TOKENIZER)/config.json; pass DECODE_FLAGS"; \
  decode="--size $$size --fps $$fps"; \
fi; \
spec='$(SHARDS)'; sel=; where=1; tag=all; \
if [ -n "$$spec" ]; then \
  case $$spec in */*) n=$${spec#*/}; r=$${spec%/*} ;; *) n='$(SHARD_COUNT)'; r=$$spec ;; esac; \
  a=$${r%-*}; b=$${r#*-}; \
  [[ $$a =~ ^[0-9]+$$ && $$b =~ ^[0-9]+$$ && $$n =~ ^[0-9]+$$ ]] && [ "$$a" -le "$$b" ] && [ "$$b" -lt "$$n" ] || die "SHARDS='$$spec' is not A-B, K, A-B/N or K/N with A <= B < N"; \
  sel="--shards $$a-$$b/$$n"; where="c.shard_key % $$n BETWEEN $$a AND $$b"; tag=$$a-$$b-of-$$n; \
fi; \
sq() { sqlite3 -bail -cmd '.timeout 30000' "$$@"; }; \
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
	         | env $(WORKER_ENV) '$(BIN)'/hv-encode --model '$(TOKENIZER)' | '$(BIN)'/hv-mask $(MASK_FLAGS) > "$$tmp"; } 2> "$$tmp.err"; then \
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

# Pack done, unpacked clips (of this tokenizer and these work shards) into TOKENS/shards: SPLIT-FIRSTCLIP-TOK8.hvts
# (complete .hvt files back to back) + SPLIT-FIRSTCLIP-TOK8.tsv (their index), each written under a temporary
# name and renamed, then recorded in the manifest by `hv-manifest shard` (shard row + token_file.shard_id, one
# transaction);
# TOKENS/shards/index.tsv lists every recorded shard's clips. Layout: formats/shards.md.
PRETOK_INDEX_HEADER = shard\tmember\toffset\tbytes\tclip_id\tsplit\tvideo\tclip_idx\tstart_seconds\tduration_seconds\tframes\tcaption_id\tcaption
pack-shards:
	@$(pretok_setup); \
	dir='$(TOKENS)/shards'; mkdir -p "$$dir"; clean_stale "$$dir"; adir=$$(cd "$$dir" && pwd -P); \
	mkdir -p '$(TOKENS)/.lists'; rows='$(TOKENS)/.lists/rows.tmp.'$$$$; trap 'rm -f "$$rows" "$$dir"/*.tmp.$$$$' EXIT; \
	sq -separator $$'\t' '$(MANIFEST)' "SELECT ifnull(c.split, 'none'), t.clip_id, t.path, t.bytes, \
	  replace(replace(replace(v.key, char(9), ' '), char(10), ' '), char(13), ' '), c.idx, c.start_seconds, c.duration_seconds, c.frame_count, \
	  ifnull(cap.id, '-'), replace(replace(replace(ifnull(cap.text, ''), char(9), ' '), char(10), ' '), char(13), ' ') \
	  FROM token_file t JOIN clip c ON c.id = t.clip_id JOIN video v ON v.id = c.video_id JOIN clip_status s ON s.clip_id = c.id \
	  LEFT JOIN caption cap ON cap.id = ifnull((SELECT id FROM caption WHERE clip_id = c.id ORDER BY id LIMIT 1), \
	                                           (SELECT id FROM caption WHERE video_id = c.video_id AND clip_id IS NULL ORDER BY id LIMIT 1)) \
	  WHERE t.shard_id IS NULL AND t.tokenizer_hash = '$$hash' AND s.state = 'done' AND ($$where) ORDER BY 1, 2" > "$$rows"; \
	packed=0; cur=; count=0; \
	finish() { \
	  [ "$$count" -gt 0 ] || return 0; \
	  mv -f "$$dir/$$name.hvts.tmp.$$$$" "$$dir/$$name.hvts"; mv -f "$$dir/$$name.tsv.tmp.$$$$" "$$dir/$$name.tsv"; \
	  "$(BIN)/hv-manifest" shard '$(MANIFEST)' "$$adir/$$name.hvts" --tokenizer-hash "$$hash" --bytes "$$offset" --clips "$$ids" \
	    $$([ "$$cur" = none ] || echo "--split $$cur") || die "recording shard $$name failed"; \
	  echo "pretokenize: packed $$count clips ($$offset bytes) into $$dir/$$name.hvts"; \
	  packed=$$((packed + count)); count=0; }; \
	while IFS=$$'\t' read -r split id path bytes video idx start dur frames capid caption; do \
	  if [ "$$split" != "$$cur" ] || [ "$$count" -ge '$(SHARD_CLIPS)' ]; then \
	    finish; cur=$$split; offset=0; ids=; \
	    name=$$split-$$(printf %08d "$$id")-$${hash:0:8}; \
	    : > "$$dir/$$name.hvts.tmp.$$$$"; printf '$(PRETOK_INDEX_HEADER)\n' > "$$dir/$$name.tsv.tmp.$$$$"; \
	  fi; \
	  size=$$(stat -c %s "$$path") || die "token file $$path of clip $$id is missing"; \
	  [ "$$size" = "$$bytes" ] || die "token file $$path is $$size bytes, the manifest says $$bytes"; \
	  cat "$$path" >> "$$dir/$$name.hvts.tmp.$$$$"; \
	  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$$name.hvts" "$$count" "$$offset" "$$size" "$$id" "$$split" "$$video" \
	    "$$idx" "$$start" "$$dur" "$$frames" "$$capid" "$$caption" >> "$$dir/$$name.tsv.tmp.$$$$"; \
	  offset=$$((offset + size)); count=$$((count + 1)); ids=$${ids:+$$ids,}$$id; \
	done < "$$rows"; \
	finish; \
	exec 9>> '$(TOKENS)/.lists/index.lock'; flock 9; \
	itmp='$(TOKENS)/.lists/index.tsv.tmp.'$$$$; trap 'rm -f "$$rows" "$$itmp" "$$dir"/*.tmp.$$$$' EXIT; \
	{ printf '$(PRETOK_INDEX_HEADER)\n'; \
	  sq '$(MANIFEST)' "SELECT path FROM shard WHERE tokenizer_hash = '$$hash' ORDER BY path" | while IFS= read -r p; do \
	    if [ "$$(dirname "$$p")" = "$$adir" ] && [ -s "$${p%.hvts}.tsv" ]; then tail -n +2 "$${p%.hvts}.tsv"; fi; done; } > "$$itmp"; \
	if cmp -s "$$itmp" "$$dir/index.tsv"; then \
	  [ "$$packed" -gt 0 ] || echo "pretokenize: nothing to pack"; \
	else \
	  mv -f "$$itmp" "$$dir/index.tsv"; echo "pretokenize: $$dir/index.tsv lists $$(($$(wc -l < "$$dir/index.tsv") - 1)) clips"; \
	fi

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
bench: bench-pretokenize
bench-pretokenize: build
	Tests/pipelines/bench-pretokenize.sh '$(BIN)' '$(BENCH_PRETOK_DIR)' '$(BENCH_PRETOK_CLIPS)' '$(BENCH_PRETOK_TOKENIZER)' '$(BENCH_PRETOK_VIDEOS)'

# kill -9 midway then resume, finished re-run, two shard ranges, a frozen-token fine-tune of the tokenizer
# (Tests/pipelines/test-pretokenize.sh), with the shipped tokenizer; TEST_PRETOK_TOKENIZER= (empty): a throwaway tiny one.
TEST_PRETOK_TOKENIZER ?= models/tokenizer
test-pipelines: build
	Tests/pipelines/test-pretokenize.sh '$(BIN)' '$(TEST_PRETOK_TOKENIZER)'

# pipelines/slurm/ on a real one-node Slurm cluster started for the test (Tests/pipelines/test-slurm.sh, 30 s to
# a minute): one task killed with kill -9, the node set down once, merge, resubmit list, tokens compared with a
# one-machine run. Status 77 means that Slurm's daemons cannot run on this machine: reported as a skip with its reason.
test-slurm: build
	@rc=0; Tests/pipelines/test-slurm.sh '$(BIN)' || rc=$$?; \
	if [ $$rc = 77 ]; then echo "test-slurm: skipped: Slurm cannot run here (reason above)" >&2; else exit $$rc; fi
