# hv-metrics: speed against scikit-image, and regeneration of the golden values (needs scikit-image,
# ffmpeg and the opencv-doc footage; the outputs are committed, tests never run Python).
.PHONY: bench-metrics golden-metrics
METRICS_FOOTAGE ?= /work/footage/ex/usr/share/doc/opencv-doc/examples/data

# `make bench` already runs every hv-bench subcommand (metrics included), so this target is not hooked into
# `bench`; it runs the metrics bench alone.
# PSNR+SSIM+MS-SSIM frames/s on 256² RGB pairs, both cores, vs scikit-image on the same frames.
bench-metrics: build
	$(BIN)/hv-bench --only metrics

golden-metrics:
	python3 Tests/HVMetricsTests/Golden/make_golden.py --footage $(METRICS_FOOTAGE)
