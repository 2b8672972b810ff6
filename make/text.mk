# Text encoder weights and the text-encoder benchmark (issue 6). `make deps` (scripts/deps.sh) fetches the
# weights too; the models folder is kept out of git (90 MB).
.PHONY: text-encoder bench-text
TEXT_ENCODER_DIR ?= models/text-encoder

text-encoder:
	@scripts/fetch-text-encoder.sh $(TEXT_ENCODER_DIR)

# The text section of hv-bench (runTextBench, Sources/hv-bench/TextBench.swift) reads models/text-encoder.
# `make bench` runs it already; this target runs it alone.
bench-text: text-encoder
	$(SWIFT) build $(SWIFT_FLAGS) --product hv-bench
	$(BIN)/hv-bench --only text
