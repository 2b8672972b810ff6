# make test-hostile (part of `make test`): every tool on truncated, bit-flipped, bomb and large legal inputs, a full
# disk, closed pipes, corrupt and empty manifests, NaN checkpoints, CRLF headers and writers killed with kill -9;
# each case asserts exit code, one error line, peak memory and no partial output (Tests/pipelines/test-hostile.sh,
# about a minute on two busy cores).
.PHONY: test-hostile
test-hostile: build
	Tests/pipelines/test-hostile.sh '$(BIN)' models/tokenizer
