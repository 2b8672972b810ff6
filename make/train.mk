# make train-tokenizer: fetch the real footage, decode it with hv-decode, train the shipped tokenizer
# configuration and store it (BF16) in models/tokenizer. TOKENIZER_MINUTES bounds the wall time.
FOOTAGE ?= data/footage
TOKENIZER_RUN ?= $(OUT)/tokenizer-run
TOKENIZER_STEPS ?= 2400
TOKENIZER_MINUTES ?= 85

footage: build
	pipelines/footage.sh $(BIN) $(FOOTAGE)

train-tokenizer: footage
	$(BIN)/hv-train tokenizer --data $(FOOTAGE)/train --heldout $(FOOTAGE)/heldout/cockatoo.y4m $(FOOTAGE)/heldout/city.y4m \
	  --out $(TOKENIZER_RUN) --steps $(TOKENIZER_STEPS) --minutes $(TOKENIZER_MINUTES) --adversarial-start 0.75
	$(BIN)/hv-train export --from $(TOKENIZER_RUN) --to models/tokenizer --storage bf16
