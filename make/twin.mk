# make test-twin (part of `make test`): the PyTorch twin of the tokenizer (python/) against the Swift tools: tokens
# and render of the shipped checkpoint, one training step's gradients against hv-train's, and a torchrun run whose
# checkpoint hv-encode reads (Tests/pipelines/test-twin.sh, about 40 s on two busy cores). Status 77 means python3
# lacks torch, numpy or zstandard: reported as a skip with its reason.
.PHONY: test-twin
test-twin: build
	@rc=0; Tests/pipelines/test-twin.sh '$(BIN)' models/tokenizer || rc=$$?; \
	if [ $$rc = 77 ]; then echo "test-twin: skipped: the twin's Python packages are missing (reason above)" >&2; else exit $$rc; fi
