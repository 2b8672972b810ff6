# gen: the text-to-video generator (issue 7). `train-lm` trains it on captioned .hvt files; `bench-gen`
# measures KV-cache decoding against recomputing the prefix.
.PHONY: train-lm bench-gen gen-demo lm-data eval-gen
# LM_CLIPS: a UTF-8 list with one 'PATH.hvt<TAB>caption' line per token file (paths relative to the list).
# The default is made by `make lm-data`: the training footage tokenized with the shipped tokenizer and
# captioned from pipelines/captions.tsv.
LM_DATA ?= $(OUT)/lm
LM_CLIPS ?= $(LM_DATA)/clips.tsv
LM_CONFIG ?= small
LM_STEPS ?= 2000
LM_OUT ?= models/generator
# Extra options, e.g. LM_FLAGS="--layers 3,2 --resume".
LM_FLAGS ?=
TEXT_ENCODER_DIR ?= models/text-encoder
GEN_PROMPT ?= calm ocean waves at sunset

lm-data: footage
	pipelines/lm-data.sh $(BIN) models/tokenizer $(FOOTAGE) $(LM_DATA)

$(LM_DATA)/clips.tsv:
	$(MAKE) lm-data

train-lm: $(LM_CLIPS)
	$(SWIFT) build $(SWIFT_FLAGS) --product hv-train
	$(BIN)/hv-train lm --clips $(LM_CLIPS) --config $(LM_CONFIG) --steps $(LM_STEPS) --out $(LM_OUT) \
		--text-encoder $(TEXT_ENCODER_DIR) $(LM_FLAGS)

bench: bench-gen
bench-gen:
	$(SWIFT) build $(SWIFT_FLAGS) --product hv-bench
	$(BIN)/hv-bench gen

# Generate one clip from GEN_PROMPT with the trained model and render it.
gen-demo:
	$(SWIFT) build $(SWIFT_FLAGS) --product hv-gen
	$(SWIFT) build $(SWIFT_FLAGS) --product hv-render
	$(BIN)/hv-gen "$(GEN_PROMPT)" --model $(LM_OUT) --text-encoder $(TEXT_ENCODER_DIR) | $(BIN)/hv-render -o out/gen-demo.mp4

# Does the text steer the generator? Every prompt of pipelines/eval-prompts.tsv (paraphrases of training captions,
# never trained on) at each guidance scale of EVAL_GEN_CFG, EVAL_GEN_SEEDS samples each: a hit when the nearest of
# the generator's training windows (rendered with the shipped tokenizer) is the paraphrased caption's source
# (pipelines/eval-gen.py; needs numpy). About 12 s a sample on one core, plus one render of every training clip.
EVAL_GEN_CFG ?= 1,2.5,5,7.5,10
EVAL_GEN_SEEDS ?= 2
eval-gen: build $(LM_CLIPS)
	pipelines/eval-gen.py $(BIN) $(LM_DATA) $(OUT)/eval-gen --generator $(LM_OUT) --tokenizer models/tokenizer \
		--cfg $(EVAL_GEN_CFG) --seeds $(EVAL_GEN_SEEDS) --reuse
