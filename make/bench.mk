# make bench: engine and tool speed, each against a peer measured in the same run.
BENCH_CLIP ?= $(OUT)/bench/vtest.avi

$(BENCH_CLIP):
	@mkdir -p $(OUT)/bench/pkg
	@cd $(OUT)/bench/pkg && (apt-get download opencv-doc >/dev/null 2>&1 || (apt-get update -qq >/dev/null && apt-get download opencv-doc >/dev/null))
	@dpkg-deb -x $(OUT)/bench/pkg/opencv-doc_*.deb $(OUT)/bench/pkg/root
	@cp $(OUT)/bench/pkg/root/usr/share/doc/opencv-doc/examples/data/vtest.avi $@

bench: build bench-decode
	$(BIN)/hv-bench

# hv-decode vs ffmpeg doing the same job (fps 8, short side 256, centre crop) on a real clip.
bench-decode: build $(BENCH_CLIP)
	@bench/decode_vs_ffmpeg.sh $(BIN)/hv-decode $(BENCH_CLIP)
