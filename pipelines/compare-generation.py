#!/usr/bin/env python3
"""Text-to-video with two tokenizers, side by side (the generation half of the paper's Fig. 4).

    pipelines/compare-generation.py BIN_DIR FOOTAGE_DIR OUT_DIR NAME=TOKENIZER_DIR:GENERATOR_DIR ... [--samples N] [--cfg G]

For every caption of pipelines/captions.tsv and every NAME=tokenizer:generator pair: `hv-gen CAPTION --samples N`
(seeds 0..N-1), `hv-render` with that tokenizer, then three measures on luma (Y', 8-bit), against the 64-frame
windows the generators were trained on (FOOTAGE_DIR/train/VIDEO.y4m cut at 0, 64, 128, ... and the last one padded, as hv-encode cuts them):

- nearest PSNR: whole-clip PSNR to the closest training window of any video (does the sample look like footage
  the model saw, or like nothing?);
- caption hit: whether that closest window belongs to the captioned video (does the text steer the video?);
- motion: mean absolute difference of consecutive frames, beside the same for the training windows (a
  flickering, incoherent sample moves far more than footage does; a frozen one far less).

Writes OUT_DIR/<NAME>-<video>.y4m (the samples) and prints a markdown table per pair plus a summary.
Needs numpy.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CLIP = 64


def read_y4m_luma(path):
    """All frames' Y' planes of a y4m file, uint8 [frames, height, width]."""
    with open(path, "rb") as f:
        data = f.read()
    end = data.index(b"\n")
    header = data[:end].split(b" ")
    if header[0] != b"YUV4MPEG2":
        raise SystemExit(f"compare-generation: error: {path} is not y4m")
    fields = {h[:1]: h[1:] for h in header[1:]}
    w, h = int(fields[b"W"]), int(fields[b"H"])
    chroma = fields.get(b"C", b"420jpeg").decode()
    if chroma.startswith("444"):
        frame = 3 * w * h
    elif chroma.startswith("mono"):
        frame = w * h
    else:  # 4:2:0
        frame = w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)
    frames, pos = [], end + 1
    while pos < len(data):
        nl = data.index(b"\n", pos)
        if not data[pos:nl].startswith(b"FRAME"):
            raise SystemExit(f"compare-generation: error: {path}: bad frame marker")
        pos = nl + 1
        frames.append(np.frombuffer(data, np.uint8, w * h, pos).reshape(h, w))
        pos += frame
    return np.stack(frames)


def psnr(a, b):
    mse = np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def motion(clip):
    return float(np.mean(np.abs(np.diff(clip.astype(np.int16), axis=0))))


def captions(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            name, caption = line.split("\t", 1)
            out.append((name, caption))
    return out


def main():
    ap = argparse.ArgumentParser(description="Text-to-video with two tokenizers, side by side (Fig. 4).")
    ap.add_argument("bin_dir")
    ap.add_argument("footage")
    ap.add_argument("out")
    ap.add_argument("pairs", nargs="+", metavar="NAME=TOKENIZER_DIR:GENERATOR_DIR")
    ap.add_argument("--samples", type=int, default=2, help="samples per caption (seeds 0..N-1)")
    ap.add_argument("--cfg", default="2.5", help="guidance scale (the demo's 2.5)")
    ap.add_argument("--captions", default=os.path.join(HERE, "captions.tsv"), help="NAME<TAB>CAPTION lines")
    a = ap.parse_args()
    bin_dir, footage, out, samples = a.bin_dir, a.footage, a.out, a.samples
    pairs = []
    for spec in a.pairs:
        if "=" not in spec or ":" not in spec:
            ap.error(f"expected NAME=TOKENIZER_DIR:GENERATOR_DIR, got {spec!r}")
        name, dirs = spec.split("=", 1)
        tok, gen = dirs.split(":", 1)
        pairs.append((name, tok, gen))
    os.makedirs(out, exist_ok=True)

    caps = captions(a.captions)
    windows, owners, real_motion = [], [], []
    for video, _ in caps:
        frames = read_y4m_luma(os.path.join(footage, "train", video + ".y4m"))
        for s in range(0, len(frames), CLIP):
            w = frames[s:s + CLIP]
            if len(w) < CLIP:  # the last partial clip, padded with its last frame as hv-encode pads it
                w = np.concatenate([w, np.repeat(w[-1:], CLIP - len(w), axis=0)])
            windows.append(w)
            owners.append(video)
            real_motion.append(motion(w))
    windows = np.stack(windows).astype(np.float32)
    print(f"{len(windows)} training windows of {CLIP} frames from {len(caps)} videos; "
          f"motion of the footage: median {np.median(real_motion):.2f}, range {min(real_motion):.2f}..{max(real_motion):.2f}")

    summary = []
    for name, tok, gen in pairs:
        print(f"\n### {name}\n\n| video | seed | nearest PSNR dB | nearest window | caption hit | motion |")
        print("| --- | --- | --- | --- | --- | --- |")
        hits, near, moves = 0, [], []
        for video, caption in caps:
            hvt = os.path.join(out, f"{name}-{video}.hvt")
            y4m = os.path.join(out, f"{name}-{video}.y4m")
            subprocess.run([os.path.join(bin_dir, "hv-gen"), caption, "--samples", str(samples), "--cfg", a.cfg, "--model", gen,
                            "--tokenizer", tok, "-o", hvt], check=True)
            subprocess.run([os.path.join(bin_dir, "hv-render"), hvt, "--model", tok, "-o", y4m], check=True)
            frames = read_y4m_luma(y4m)
            for s in range(samples):
                clip = frames[s * CLIP:(s + 1) * CLIP].astype(np.float32)
                mse = np.mean((windows - clip[None]) ** 2, axis=(1, 2, 3))
                k = int(np.argmin(mse))
                p = 10 * np.log10(255.0 ** 2 / max(mse[k], 1e-12))
                hit = owners[k] == video
                m = motion(clip)
                hits += hit
                near.append(p)
                moves.append(m)
                print(f"| {video} | {s} | {p:.2f} | {owners[k]}#{k - owners.index(owners[k])} | {'yes' if hit else 'no'} | {m:.2f} |")
        n = len(caps) * samples
        summary.append((name, hits, n, float(np.mean(near)), float(np.median(moves))))
    print("\n| tokenizer | caption hits | mean nearest PSNR dB | median motion (footage: %.2f) |" % np.median(real_motion))
    print("| --- | --- | --- | --- |")
    for name, hits, n, p, m in summary:
        print(f"| {name} | {hits}/{n} | {p:.2f} | {m:.2f} |")


if __name__ == "__main__":
    main()
