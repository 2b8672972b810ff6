# make test-twin (part of `make test`): the PyTorch twin of the tokenizer (python/) against the Swift tools: tokens
# and render of the shipped checkpoint, one training step's gradients against hv-train's, a torchrun run whose
# checkpoint hv-encode reads, and the GPU run's kit and script on the CPU (Tests/pipelines/test-twin.sh, about 70 s
# on two busy cores). Status 77 means python3 lacks torch, numpy or zstandard: reported as a skip with its reason.
.PHONY: test-twin
test-twin: build
	@rc=0; Tests/pipelines/test-twin.sh '$(BIN)' models/tokenizer || rc=$$?; \
	if [ $$rc = 77 ]; then echo "test-twin: skipped: the twin's Python packages are missing (reason above)" >&2; else exit $$rc; fi

# The tokenizer's training footage packed to travel to a lent GPU (docs/gpu-run.md): .gpukit/, about 23 MiB of
# H.264 holding the y4m planes of stage 3's ten sources (the cartoon cut to its first 1 536 frames, which its 10 %
# cap never reaches in a run) and the log's two held-out clips. pipelines/gpu-train.sh trains from it there.
.PHONY: gpu-kit
gpu-kit: footage
	python3 pipelines/gpu-kit.py pack .gpukit --train $(addprefix $(FOOTAGE)/train/,$(V3_SOURCES)) \
		--heldout $(V2_HELDOUT) --max-frames bbb=1536
