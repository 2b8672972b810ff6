# HiTVideo for Swift — build, test, demo, bench.
# `make demo` runs the main job end to end on shipped sample data; `make test` runs every test.
SHELL := /bin/bash
SWIFT ?= swift
# One configuration for tools and tests: optimised (the engine is unusably slow unoptimised),
# with testing enabled so that test targets can use @testable imports.
SWIFT_FLAGS ?= -c release -Xswiftc -enable-testing
BIN = $(shell $(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)
OUT ?= out

.PHONY: all deps build test demo bench fuzz clean
all: build

deps:
	@scripts/deps.sh

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

# test-pipelines, test-slurm, test-webdataset (pipelines/pretokenize.mk): the pretokenization pipeline killed with
# kill -9 and resumed, and lm-data/eval-gen after a tokenizer change; the Slurm array and merge job on a one-node
# cluster; the shards read by PyPI webdataset.
# test-hostile (make/hostile.mk): every tool's error contract on hostile input.
# test-twin (make/twin.mk): the PyTorch twin (python/) against hv-encode, hv-render and hv-train.
test: build test-pipelines test-slurm test-webdataset test-hostile test-twin
	$(SWIFT) test $(SWIFT_FLAGS)

clean:
	rm -rf .build $(OUT)

# Area fragments (demo steps, benches, fuzzers, pipelines) live in make/*.mk.
include $(sort $(wildcard make/*.mk))
# Pretokenization (manifest → .hvt per clip → shards + index), make demo-data, bench-pretokenize, test-pipelines.
include pipelines/pretokenize.mk
