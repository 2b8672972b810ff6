#!/usr/bin/env python3
"""Text-to-video with two tokenizers, side by side (the generation half of the paper's Fig. 4).

    pipelines/compare-generation.py BIN_DIR FOOTAGE_DIR OUT_DIR NAME=TOKENIZER_DIR:GENERATOR_DIR[:LM_DATA_DIR] ...
        [--samples N] [--cfg G] [--reuse]

For every caption of pipelines/captions.tsv and every pair: `hv-gen CAPTION --samples N` (seeds 0..N-1),
`hv-render` with that tokenizer, then measures on luma (Y', 8-bit) against the 64-frame windows the generators
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
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CLIP = 64


def die(message, code):
    """One line on stderr and a sysexits code (64 usage, 65 bad data, 66 missing input)."""
    print(f"compare-generation: error: {message}", file=sys.stderr)
    sys.exit(code)


def read_y4m_luma(path):
    """All frames' Y' planes of a y4m file, uint8 [frames, height, width]."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        die(f"cannot read {path}: {e.strerror}", 66)
    end = data.find(b"\n")
    header = data[:end].split(b" ")
    if end < 0 or header[0] != b"YUV4MPEG2":
        die(f"{path} is not y4m", 65)
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
        nl = data.find(b"\n", pos)
        if nl < 0 or not data[pos:nl].startswith(b"FRAME") or nl + 1 + frame > len(data):
            die(f"{path}: truncated or bad frame at byte {pos}", 65)
        pos = nl + 1
        frames.append(np.frombuffer(data, np.uint8, w * h, pos).reshape(h, w))
        pos += frame
    return np.stack(frames)


def psnr(a, b):
    mse = np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def motion(clip):
    return float(np.mean(np.abs(np.diff(clip.astype(np.int16), axis=0))))


def cut(frames):
    """64-frame windows at 0, 64, 128, ...; the last partial one padded with its last frame, as hv-encode pads."""
    out = []
    for s in range(0, len(frames), CLIP):
        w = frames[s:s + CLIP]
        if len(w) < CLIP:
            w = np.concatenate([w, np.repeat(w[-1:], CLIP - len(w), axis=0)])
        out.append(w)
    return out


def nearest(windows, clip):
    """Index of the window closest to clip (MSE) and the PSNR to it."""
    mse = np.mean((windows - clip[None]) ** 2, axis=(1, 2, 3))
    k = int(np.argmin(mse))
    return k, 10 * np.log10(255.0 ** 2 / max(float(mse[k]), 1e-12))


def run(bin_dir, tool, *args):
    """Runs one of our tools; on failure it has printed its own one-line error, and we stop with its code."""
    path = os.path.join(bin_dir, tool)
    if not os.access(path, os.X_OK):
        die(f"{path} is missing (build the tools first: make build)", 66)
    code = subprocess.run([path, *args]).returncode
    if code != 0:
        sys.exit(code)


def captions(path):
    out = []
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        die(f"cannot read {path}: {e.strerror}", 66)
    with f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            if "\t" not in line:
                die(f"{path}: expected NAME<TAB>CAPTION, got {line!r}", 65)
            name, caption = line.split("\t", 1)
            out.append((name, caption))
    return out


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

    caps = captions(a.captions)
    names = [v for v, _ in caps]
    windows, owners = [], []
    for video in names:
        found = glob.glob(os.path.join(footage, "train", "*", video + ".y4m"))
        if not found:
            die(f"no training video {video!r} under {footage}/train/*/ (run make footage)", 66)
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
