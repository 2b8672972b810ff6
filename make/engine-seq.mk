# engine-seq: sequence half of the tensor engine (attention, LFQ, optimiser, safetensors).
.PHONY: bench-seq golden-seq
# `make bench` runs this section already (hv-bench runs every section); this target runs it alone.
# Attention at S=2448 vs PyTorch CPU SDPA (bench/peer_attention.py, same thread count; skipped loudly
# without torch) and a small transformer training step (time, memory).
bench-seq:
	$(SWIFT) build $(SWIFT_FLAGS) --product hv-bench
	$(BIN)/hv-bench seq

# Regenerate the PyTorch golden files of the sequence ops (needs torch + safetensors; tests do not).
golden-seq:
	python3 Tests/HVEngineTests/Golden/make_golden_seq.py
