# gen: the text-to-video generator (issue 7). `train-lm` trains it on the token shards of `lm-shards` (or on a
# caption list, LM_CLIPS=...); `bench-gen` measures KV-cache decoding against recomputing the prefix.
.PHONY: train-lm bench-gen gen-demo lm-data lm-shards eval-gen
# The generator's data through the dataset pipeline (docs/gen.md): one manifest video per captioned training
# source of pipelines/captions.tsv — the videos, and each photograph's clips NAME-vK.y4m with its caption plus the
# clip's framing and camera motion (pipelines/lm-data.sh --metadata, the captions `lm-data` writes) — every clip in
# the train split, captions embedded, pretokenized with TOKENIZER and no masking (the generator models every token;
# hv-mask --ratio 0 masks none), packed into LM_SHARDS_DIR/tokens/shards/train/. Clips of 8 s (64 frames, one
# tokenizer window) and every shorter rest down to one frame (--min-seconds 0.125: the 5-frame g1 and g2 count, as
# in lm-data). LM_SOURCES: only these names of
# captions.tsv (empty: all), e.g. LM_SOURCES='tree shepard aqua' to try the path in a minute.
LM_SHARDS_DIR ?= $(OUT)/lm-shards
LM_SHARDS ?= $(LM_SHARDS_DIR)/tokens/shards
LM_SOURCES ?=
# LM_CLIPS: train on a UTF-8 list with one 'PATH.hvt<TAB>caption' line per token file (paths relative to the list)
# instead of the shards, e.g. LM_CLIPS=out/lm/clips.tsv as `make lm-data` writes it (the training footage tokenized
# with the shipped tokenizer, whole videos, captioned from pipelines/captions.tsv).
LM_DATA ?= $(OUT)/lm
LM_CLIPS ?=
LM_CONFIG ?= small
LM_STEPS ?= 4000
LM_OUT ?= models/generator
# The shipped generator's recipe: every source drawn equally often (docs/gen.md, "Every source drawn equally"), and
# every caption also read in three shortened phrasings (word dropout), those near a prompt of either evaluation
# list left out so that eval-gen's paraphrases stay unseen (docs/gen.md, "Word dropout, shipped").
LM_RECIPE ?= --balance-sources --word-dropout 0.3 --holdout-prompts pipelines/eval-prompts.tsv \
	--holdout-prompts pipelines/eval-prompts-report.tsv
# Its second stage: the same run, weights and AdamW moments, continued to LM_STEPS2 steps, the cosine schedule
# recomputed over them from a 1e-3 peak (docs/gen.md, "Twice the steps" and "The scene is drawn, then lost");
# LM_STEPS2= stops after the first stage. Then sampling.json, the settings this generator samples best with
# (formats/generator.md), which hv-gen uses unless told otherwise.
LM_STEPS2 ?= 8000
LM_RECIPE2 ?= --lr 1e-3
LM_SAMPLING ?= {"cfg": [1], "temperature": [0.5], "rerank": 8, "rerank_likelihood": true, "rerank_first": 16, "rerank_layers": 3, "note": "make eval-gen: chosen on 26 paraphrases x 8 seeds, checked on the 39 report-only ones x 8 seeds, 2026-12-07: docs/gen.md"}
# Extra options, e.g. LM_FLAGS="--layers 3,2". LM_FLAGS=--resume continues a stopped run from the checkpoint in
# LM_OUT (weights, AdamW moments, step): a stage it has already passed only evaluates and trains nothing.
LM_FLAGS ?=
TEXT_ENCODER_DIR ?= models/text-encoder
GEN_PROMPT ?= calm ocean waves at sunset

lm-data: footage
	pipelines/lm-data.sh $(BIN) models/tokenizer $(FOOTAGE) $(LM_DATA)

$(LM_DATA)/clips.tsv:
	$(MAKE) lm-data

lm-shards: footage text-encoder
	@[ -s '$(TOKENIZER)/model.safetensors' ] || { echo "lm-shards: error: no tokenizer checkpoint in '$(TOKENIZER)' (pass TOKENIZER=DIR)" >&2; exit 66; }
	pipelines/lm-data.sh --metadata $(FOOTAGE) $(LM_SHARDS_DIR)/videos.csv $(LM_SOURCES)
	$(BIN)/hv-manifest init $(LM_SHARDS_DIR)/manifest.db
	$(BIN)/hv-manifest add $(LM_SHARDS_DIR)/manifest.db --metadata $(LM_SHARDS_DIR)/videos.csv --video-dir $(FOOTAGE) \
		--min-seconds 0.125
	$(BIN)/hv-manifest split $(LM_SHARDS_DIR)/manifest.db --val-fraction 0 --seed 0
	$(BIN)/hv-manifest embed $(LM_SHARDS_DIR)/manifest.db --model $(TEXT_ENCODER_DIR)
	+@$(PRETOK_SUBMAKE) pretokenize MANIFEST='$(LM_SHARDS_DIR)/manifest.db' TOKENS='$(LM_SHARDS_DIR)/tokens' MASK_FLAGS='--ratio 0'
	$(BIN)/hv-manifest status $(LM_SHARDS_DIR)/manifest.db

$(LM_SHARDS)/train/index.json:
	$(MAKE) lm-shards

train-lm: $(if $(LM_CLIPS),$(LM_CLIPS),$(LM_SHARDS)/train/index.json)
	$(SWIFT) build $(SWIFT_FLAGS) --product hv-train
	$(BIN)/hv-train lm $(if $(LM_CLIPS),--clips $(LM_CLIPS),--shards $(LM_SHARDS)) --config $(LM_CONFIG) --steps $(LM_STEPS) \
		--out $(LM_OUT) --text-encoder $(TEXT_ENCODER_DIR) $(LM_RECIPE) $(LM_FLAGS)
	$(if $(LM_STEPS2),$(BIN)/hv-train lm $(if $(LM_CLIPS),--clips $(LM_CLIPS),--shards $(LM_SHARDS)) --config $(LM_CONFIG) \
		--steps $(LM_STEPS2) --resume --out $(LM_OUT) --text-encoder $(TEXT_ENCODER_DIR) $(LM_RECIPE) $(LM_RECIPE2) $(LM_FLAGS))
	$(if $(LM_STEPS2),echo '$(LM_SAMPLING)' > $(LM_OUT)/sampling.json)

bench: bench-gen
# At one thread (one core, one BLAS thread) and at every core, PyTorch at the same count each time; without
# guidance (one row: the shipped generator's sampling.json, cfg 1) and with the paper's (two rows, cfg 7.5).
bench-gen:
	$(SWIFT) build $(SWIFT_FLAGS) --product hv-bench
	for cfg in 1 7.5; do OPENBLAS_NUM_THREADS=1 taskset -c 0 $(BIN)/hv-bench gen --cfg $$cfg && $(BIN)/hv-bench gen --cfg $$cfg || exit; done

# Generate one clip from GEN_PROMPT with the trained model and render it.
gen-demo:
	$(SWIFT) build $(SWIFT_FLAGS) --product hv-gen
	$(SWIFT) build $(SWIFT_FLAGS) --product hv-render
	$(BIN)/hv-gen "$(GEN_PROMPT)" --model $(LM_OUT) --text-encoder $(TEXT_ENCODER_DIR) | $(BIN)/hv-render -o out/gen-demo.mp4

# Does the text steer the generator? Every prompt of EVAL_GEN_PROMPTS (paraphrases of training captions,
# never trained on) at each guidance scale of EVAL_GEN_CFG, EVAL_GEN_SEEDS samples each: a hit when the nearest of
# the generator's training windows (rendered with the shipped tokenizer) is the paraphrased caption's source
# (pipelines/eval-gen.py; needs numpy). About 12 s a sample on one core, plus one render of every training clip,
# made once per tokenizer and kept in LM_DATA/recon/ for every generator evaluated on the same data.
# Then the generator's bits per token per layer (null text) on the held-out clips of EVAL_GEN_HELDOUT against its
# training clips (`hv-train lm-bits`; a few minutes).
# Samples are kept (--reuse) in a folder per generator, so evaluating another LM_OUT never reads the last one's.
EVAL_GEN_CFG ?= 1,2.5,5,7.5,10
EVAL_GEN_SEEDS ?= 2
# Seeds EVAL_GEN_FIRST_SEED.. instead of 0..: fresh samples to confirm settings chosen on the first ones.
EVAL_GEN_FIRST_SEED ?= 0
# The shipped generator's sampling.json temperature (eval-gen passes --cfg and --temperature explicitly).
EVAL_GEN_TEMPERATURE ?= 0.5
# The shipped sampling.json's drafts: the most probable of 16 drafts of L3, then the most probable of 8 drafts of
# L2 and L1 after it (EVAL_GEN_RERANK=1 EVAL_GEN_RERANK_FIRST=1: plain sampling; hv-gen --rerank, --rerank-first,
# --rerank-layers, --rerank-likelihood).
EVAL_GEN_RERANK ?= 8
EVAL_GEN_RERANK_LIKELIHOOD ?= yes
EVAL_GEN_RERANK_FIRST ?= 16
EVAL_GEN_RERANK_LAYERS ?= 3
# The prompts: pipelines/eval-prompts.tsv, on which sampling settings have been chosen, or the report-only
# pipelines/eval-prompts-report.tsv (the 39 other sources, never used for a choice).
EVAL_GEN_PROMPTS ?= pipelines/eval-prompts.tsv
# Captions --rerank's drafts are weighed against (hv-gen --contrast); empty: the null text.
EVAL_GEN_CONTRAST ?=
# A manifest (e.g. $(LM_SHARDS_DIR)/manifest.db): sample each prompt's nearest stored caption instead (eval-gen --snap).
EVAL_GEN_SNAP ?=
EVAL_GEN_DIR ?= $(OUT)/eval-gen-$(notdir $(LM_OUT))$(if $(filter-out pipelines/eval-prompts.tsv,$(EVAL_GEN_PROMPTS)),-$(basename $(notdir $(EVAL_GEN_PROMPTS))))
# Held-out clips (never trained on) whose bits per token are printed beside the training clips'; empty: skipped.
EVAL_GEN_HELDOUT ?= $(FOOTAGE)/heldout
eval-gen: build $(LM_DATA)/clips.tsv
	pipelines/eval-gen.py $(BIN) $(LM_DATA) $(EVAL_GEN_DIR) --generator $(LM_OUT) --tokenizer models/tokenizer \
		--prompts $(EVAL_GEN_PROMPTS) --cfg $(EVAL_GEN_CFG) --seeds $(EVAL_GEN_SEEDS) --first-seed $(EVAL_GEN_FIRST_SEED) --temperature $(EVAL_GEN_TEMPERATURE) --rerank $(EVAL_GEN_RERANK) --rerank-first $(EVAL_GEN_RERANK_FIRST) --rerank-layers $(EVAL_GEN_RERANK_LAYERS) $(if $(and $(EVAL_GEN_RERANK_LIKELIHOOD),$(filter-out 1,$(EVAL_GEN_RERANK)),$(if $(EVAL_GEN_CONTRAST),,yes)),--rerank-likelihood) $(if $(EVAL_GEN_CONTRAST),--contrast $(EVAL_GEN_CONTRAST)) $(if $(EVAL_GEN_SNAP),--snap $(EVAL_GEN_SNAP)) --reuse \
		$(if $(EVAL_GEN_HELDOUT),--heldout $(EVAL_GEN_HELDOUT))
