# make train-tokenizer: fetch the real footage, decode it with hv-decode, train the shipped tokenizer
# configuration and store it (BF16) in models/tokenizer. TOKENIZER_MINUTES bounds the wall time.
FOOTAGE ?= data/footage
TOKENIZER_RUN ?= $(OUT)/tokenizer-run
TOKENIZER_STEPS ?= 10000
TOKENIZER_MINUTES ?= 80

footage: build
	pipelines/footage.sh $(BIN) $(FOOTAGE)

train-tokenizer: footage
	$(BIN)/hv-train tokenizer --data $(FOOTAGE)/train --heldout $(FOOTAGE)/heldout/cockatoo.y4m $(FOOTAGE)/heldout/city.y4m \
	  --out $(TOKENIZER_RUN) --steps $(TOKENIZER_STEPS) --minutes $(TOKENIZER_MINUTES) --crop 64 --lr 3e-4 --l2-weight 1 \
	  --entropy-weight 0.005 --commit-weight 0.05 --perceptual-weight 0.2 --progressive 0,0,0 --truncation 0.1 \
	  --quantization-warmup 0.5 --adversarial-weight 0 --eval-every 1000 --checkpoint-every 250
	$(BIN)/hv-train export --from $(TOKENIZER_RUN) --to models/tokenizer --storage bf16

# Held-out evaluation of the shipped tokenizer (README tables).
eval-tokenizer: footage
	pipelines/evaluate-tokenizer.sh $(BIN) models/tokenizer $(OUT)/eval $(FOOTAGE)/heldout/cockatoo.y4m $(FOOTAGE)/heldout/city.y4m $(FOOTAGE)/heldout/bbb-tail.y4m
