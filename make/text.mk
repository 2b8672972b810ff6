# Text encoder weights and the text-encoder benchmark (issue 6). `make deps` is expected to call
# `text-encoder`; the models folder is kept out of git (90 MB).
.PHONY: text-encoder bench-text
TEXT_ENCODER_DIR ?= models/text-encoder

text-encoder:
	@scripts/fetch-text-encoder.sh $(TEXT_ENCODER_DIR)

# hv-bench text runs runTextBench() (Sources/hv-bench/TextBench.swift), which reads models/text-encoder.
bench-text: text-encoder
	$(SWIFT) build $(SWIFT_FLAGS) --product hv-bench
	$(BIN)/hv-bench text

bench: bench-text
