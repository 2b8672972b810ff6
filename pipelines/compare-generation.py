#!/usr/bin/env python3
"""Text-to-video with two tokenizers, side by side (the generation half of the paper's Fig. 4).

    pipelines/compare-generation.py BIN_DIR FOOTAGE_DIR OUT_DIR NAME=TOKENIZER_DIR:GENERATOR_DIR[:LM_DATA_DIR] ...
        [--samples N] [--cfg G] [--reuse]

For every captioned training video of pipelines/captions.tsv (its first caption) and every pair: `hv-gen CAPTION
--samples N` (seeds 0..N-1), `hv-render` with that tokenizer, then measures on luma (Y', 8-bit) against the 64-frame windows the generators
were trained on (FOOTAGE_DIR/train/SOURCE/VIDEO.y4m cut at 0, 64, 128, ..., the last one padded, as hv-encode cuts):

- nearest PSNR: whole-clip PSNR to the closest training window of any video (does the sample look like footage
  the model saw, or like nothing?);
- caption hit: whether that closest window belongs to the captioned video (does the text steer the video?);
- the same two against the tokenizer's own reconstruction of those windows, when LM_DATA_DIR (the generator's
  training tokens, VIDEO.hvt as `make lm-data` writes them) is given: that removes the tokenizer's quality from
  the comparison and asks only whether the generator reproduces token sequences it was trained on;
- motion: mean absolute difference of consecutive frames (a flickering, incoherent sample moves far more than
  the reconstructions do; a frozen one far less).

Writes OUT_DIR/<NAME>-<video>.y4m (the samples) and prints markdown tables. Needs numpy.
"""
import argparse
import glob
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from genlib import CLIP, cut, die, motion, nearest, psnr, read_tsv, read_y4m_luma, run  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="Text-to-video with two tokenizers, side by side (Fig. 4).")
    ap.error = lambda message: die(message, 64)
    ap.add_argument("bin_dir")
    ap.add_argument("footage")
    ap.add_argument("out")
    ap.add_argument("pairs", nargs="+", metavar="NAME=TOKENIZER_DIR:GENERATOR_DIR[:LM_DATA_DIR]")
    ap.add_argument("--samples", type=int, default=2, help="samples per caption (seeds 0..N-1)")
    ap.add_argument("--cfg", default="2.5", help="guidance scale (the demo's 2.5)")
    ap.add_argument("--captions", default=os.path.join(HERE, "captions.tsv"), help="NAME<TAB>CAPTION lines")
    ap.add_argument("--reuse", action="store_true", help="keep samples and reconstructions already in OUT_DIR")
    a = ap.parse_args()
    bin_dir, footage, out, samples = a.bin_dir, a.footage, a.out, a.samples
    pairs = []
    for spec in a.pairs:
        if "=" not in spec or ":" not in spec:
            die(f"expected NAME=TOKENIZER_DIR:GENERATOR_DIR[:LM_DATA_DIR], got {spec!r}", 64)
        name, dirs = spec.split("=", 1)
        parts = dirs.split(":")
        pairs.append((name, parts[0], parts[1], parts[2] if len(parts) > 2 else None))
    os.makedirs(out, exist_ok=True)

    # The captioned training videos; photographs (their clips are NAME-vK.y4m) and held-out footage such as the
    # diver have no one training video to compare with and are left out.
    # A video's first line is its caption; the lines after it that repeat its name are further phrasings the
    # generator trains on too, and sampling from the first keeps this comparison what it was before they came.
    caps, seen = [], set()
    for v, c in read_tsv(a.captions, "NAME<TAB>CAPTION"):
        if v not in seen and glob.glob(os.path.join(footage, "train", "*", v + ".y4m")):
            caps.append((v, c))
        seen.add(v)
    if not caps:
        die(f"no captioned training video under {footage}/train/*/ (run make footage)", 66)
    names = [v for v, _ in caps]
    windows, owners = [], []
    for video in names:
        found = glob.glob(os.path.join(footage, "train", "*", video + ".y4m"))
        w = cut(read_y4m_luma(found[0]))
        windows += w
        owners += [video] * len(w)
    real_motion = [motion(w) for w in windows]
    windows = np.stack(windows).astype(np.float32)
    print(f"{len(windows)} training windows of {CLIP} frames from {len(caps)} videos; "
          f"motion of the footage: median {np.median(real_motion):.2f}, range {min(real_motion):.2f}..{max(real_motion):.2f}")

    summary = []
    for name, tok, gen, lm_data in pairs:
        # The same windows through this tokenizer (its encoding of the generator's training data): what the
        # generator could at best reproduce.
        recon = None
        if lm_data:
            recon = []
            for video in names:
                y4m = os.path.join(out, f"{name}-recon-{video}.y4m")
                if not (a.reuse and os.path.exists(y4m)):
                    run(bin_dir, "hv-render", os.path.join(lm_data, video + ".hvt"), "--model", tok, "-o", y4m)
                recon += cut(read_y4m_luma(y4m))
            recon = np.stack(recon).astype(np.float32)
            ceiling = np.mean([psnr(r, w) for r, w in zip(recon, windows)])
            print(f"\n{name}: its reconstruction of the training windows scores {ceiling:.2f} dB (luma) against the "
                  f"footage; their motion: median {np.median([motion(r) for r in recon]):.2f}")
        print(f"\n### {name}\n\n| video | seed | nearest footage window | PSNR dB | caption hit "
              f"| nearest reconstructed window | PSNR dB | motion |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        hits, rhits, near, rnear, moves = 0, 0, [], [], []
        for video, caption in caps:
            hvt = os.path.join(out, f"{name}-{video}.hvt")
            y4m = os.path.join(out, f"{name}-{video}.y4m")
            if not (a.reuse and os.path.exists(y4m)):
                run(bin_dir, "hv-gen", caption, "--samples", str(samples), "--cfg", a.cfg, "--model", gen,
                    "--tokenizer", tok, "-o", hvt)
                run(bin_dir, "hv-render", hvt, "--model", tok, "-o", y4m)
            frames = read_y4m_luma(y4m)
            for s in range(samples):
                clip = frames[s * CLIP:(s + 1) * CLIP].astype(np.float32)
                k, p = nearest(windows, clip)
                hit = owners[k] == video
                hits += hit
                near.append(p)
                moves.append(motion(clip))
                row = f"| {video} | {s} | {owners[k]}#{k - owners.index(owners[k])} | {p:.2f} | {'yes' if hit else 'no'} |"
                if recon is not None:
                    rk, rp = nearest(recon, clip)
                    rhits += owners[rk] == video
                    rnear.append(rp)
                    row += f" {owners[rk]}#{rk - owners.index(owners[rk])} | {rp:.2f} |"
                else:
                    row += " — | — |"
                print(row + f" {moves[-1]:.2f} |")
        n = len(caps) * samples
        summary.append((name, f"{hits}/{n}", f"{np.mean(near):.2f}",
                        f"{rhits}/{n}" if recon is not None else "—",
                        f"{np.mean(rnear):.2f}" if recon is not None else "—", f"{np.median(moves):.2f}"))
    print("\n| tokenizer | caption hits (footage) | mean nearest PSNR dB | caption hits (reconstructions) "
          "| mean nearest PSNR dB | median motion |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in summary:
        print("| " + " | ".join(row) + " |")

if __name__ == "__main__":
    main()
