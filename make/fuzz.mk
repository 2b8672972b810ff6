# make fuzz: libFuzzer on the .hvt and y4m parsers (swiftc -sanitize=fuzzer,address), FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= $(OUT)/fuzz
SWIFTC ?= swiftc
FUZZ_FLAGS = -sanitize=fuzzer,address -parse-as-library -O -module-name Fuzz

fuzz: fuzz-hvt fuzz-y4m

# HVCore (the error protocol) as its own small module, so the parsers compile unchanged.
$(FUZZ_DIR)/HVCore.o: Sources/HVCore/Errors.swift
	@mkdir -p $(FUZZ_DIR)
	$(SWIFTC) -sanitize=address -O -wmo -parse-as-library -module-name HVCore -emit-module -emit-module-path $(FUZZ_DIR)/HVCore.swiftmodule -emit-object -o $@ $^

$(FUZZ_DIR)/hvt-fuzz: Tests/Fuzz/HVTFuzz.swift $(wildcard Sources/HVFormat/*.swift) $(FUZZ_DIR)/HVCore.o
	$(SWIFTC) $(FUZZ_FLAGS) -I $(FUZZ_DIR) -I Sources/CZstd -lzstd $^ -o $@

$(FUZZ_DIR)/y4m-fuzz: Tests/Fuzz/Y4MFuzz.swift Sources/HVMedia/Y4MReader.swift Sources/HVMedia/Y4MHeader.swift Sources/HVMedia/RGBFrame.swift Sources/HVMedia/ColorConversion.swift Sources/HVMedia/MediaError.swift $(FUZZ_DIR)/HVCore.o
	$(SWIFTC) $(FUZZ_FLAGS) -I $(FUZZ_DIR) $^ -o $@

fuzz-hvt: deps $(FUZZ_DIR)/hvt-fuzz
	@mkdir -p $(FUZZ_DIR)/hvt-corpus
	@python3 bench/make_fuzz_seeds.py $(FUZZ_DIR)/hvt-corpus
	$(FUZZ_DIR)/hvt-fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -rss_limit_mb=2048 $(FUZZ_DIR)/hvt-corpus

fuzz-y4m: deps $(FUZZ_DIR)/y4m-fuzz
	@mkdir -p $(FUZZ_DIR)/y4m-corpus
	@printf 'YUV4MPEG2 W4 H2 F8:1 C420jpeg\nFRAME\n0123456789ab' > $(FUZZ_DIR)/y4m-corpus/seed1
	@printf 'YUV4MPEG2 W2 H2 F25:1 Ip A1:1 C444 XCOLORRANGE=FULL\nFRAME\n012345678901FRAME\n' > $(FUZZ_DIR)/y4m-corpus/seed2
	$(FUZZ_DIR)/y4m-fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -rss_limit_mb=2048 $(FUZZ_DIR)/y4m-corpus
