# make demo: a real clip (the cockatoo close-up from Debian's python3-imageio, held out from training)
# → hv-decode → hv-encode --refine 8 --mask-ratio 0.85 (shipped tokenizer; dense layer masked as hv-mask does, the
# kept tokens refined for the masked render) → hv-info → hv-render to mp4 + contact sheet, and the
# coarse-only storyboard render; then text → tokens with the shipped generator (hv-gen) → hv-render.
DEMO_PROMPT ?= a green tree swaying in the wind against a white sky
DEMO_DIR ?= $(OUT)/demo
# Rounds of decoder-guided refinement of the dense layer's codes (hv-encode --refine; formats/tokenizer.md):
# +0.7 dB on this clip for about 30 s of encoding; 0 encodes faster than real time.
DEMO_REFINE ?= 8
DEMO_CLIP = $(DEMO_DIR)/cockatoo.mp4

$(DEMO_CLIP):
	@mkdir -p $(DEMO_DIR)/pkg
	@cd $(DEMO_DIR)/pkg && (apt-get download python3-imageio >/dev/null 2>&1 || (apt-get update -qq >/dev/null && apt-get download python3-imageio >/dev/null))
	@dpkg-deb -x $(DEMO_DIR)/pkg/python3-imageio_*.deb $(DEMO_DIR)/pkg/root
	@cp $(DEMO_DIR)/pkg/root/usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4 $@

demo: build $(DEMO_CLIP)
	$(BIN)/hv-decode $(DEMO_CLIP) -o $(DEMO_DIR)/cockatoo.y4m
	ffprobe -v error -show_entries stream=width,height,nb_read_frames -count_frames -of csv=p=0 $(DEMO_DIR)/cockatoo.y4m
	@# hv-encode masks as `hv-mask --ratio 0.85` would (which would pass this stream through), so that the refinement
	@# tunes the tokens that are kept for the render with the masked ones repeated: masking after refining cost
	@# about twice as much (formats/tokenizer.md).
	$(BIN)/hv-decode $(DEMO_CLIP) | $(BIN)/hv-encode --refine $(DEMO_REFINE) --mask-ratio 0.85 > $(DEMO_DIR)/demo.hvt
	$(BIN)/hv-info $(DEMO_DIR)/demo.hvt
	$(BIN)/hv-render $(DEMO_DIR)/demo.hvt -o $(DEMO_DIR)/demo.mp4 --contact-sheet $(DEMO_DIR)/demo.png --reference $(DEMO_DIR)/cockatoo.y4m
	$(BIN)/hv-render $(DEMO_DIR)/demo.hvt --layers 3,2 -o $(DEMO_DIR)/storyboard.mp4 --contact-sheet $(DEMO_DIR)/storyboard.png
	$(BIN)/hv-metrics $(DEMO_DIR)/cockatoo.y4m $(DEMO_DIR)/demo.mp4
	@# The generator's own sampling settings (models/generator/sampling.json: no guidance, finer layers at
	@# temperature 0.5); the sweep below shows what guidance does to it.
	$(BIN)/hv-gen "$(DEMO_PROMPT)" --seed 1 -o $(DEMO_DIR)/gen.hvt
	$(BIN)/hv-info $(DEMO_DIR)/gen.hvt
	$(BIN)/hv-render $(DEMO_DIR)/gen.hvt -o $(DEMO_DIR)/gen.mp4 --contact-sheet $(DEMO_DIR)/gen.png
	@# CFG sweep (paper Appendix A): the same prompt and seed at five guidance scales, one contact-sheet row each.
	@for s in 1.0 2.5 5.0 7.5 10.0; do \
	  $(BIN)/hv-gen "$(DEMO_PROMPT)" --seed 1 --cfg $$s -o $(DEMO_DIR)/cfg-$$s.hvt && \
	  $(BIN)/hv-render $(DEMO_DIR)/cfg-$$s.hvt -o $(DEMO_DIR)/cfg-$$s.y4m --contact-sheet $(DEMO_DIR)/cfg-$$s.png || exit 1; \
	done
	ffmpeg -v error -y $(foreach s,1.0 2.5 5.0 7.5 10.0,-i $(DEMO_DIR)/cfg-$(s).png) -filter_complex vstack=inputs=5 $(DEMO_DIR)/cfg-sweep.png
	@echo "demo: wrote $(DEMO_DIR)/demo.mp4, demo.png (reference above reconstruction), storyboard.mp4/.png, gen.mp4/.png ('$(DEMO_PROMPT)'), cfg-sweep.png (rows: cfg 1, 2.5, 5, 7.5, 10)"
