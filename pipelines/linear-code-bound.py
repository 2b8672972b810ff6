#!/usr/bin/env python3
"""What a linear transform code does at L0's geometry: the principal components of 8×16×16×3 blocks of training
footage, K per block, applied to held-out clips, continuous and sign-quantised (K bits a block, each decoded as
±E|c|), and as a transform code: the same components scalar-quantised with K bits a block in all, given greedily
one at a time to the component whose quantiser (Lloyd-Max, fitted on the training blocks) then loses the least, so a
component may get several bits or none — beside the blocks' mean colour. A bound to read the tokenizer's continuous bypass and its codes against
(docs/tokenizer-journal.md, "Session of 2026-12-02, sixth").

    pipelines/linear-code-bound.py TRAIN_DIR HELDOUT_DIR [--videos 60] [--blocks 400] [-k 18]
"""
import argparse
import glob
import os
import random
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from hitvideo.y4m import read_y4m  # noqa: E402  (bit-exact with hv-train's reader; numpy only)


def blocks(x):
    t, h, w, c = x.shape
    return x.reshape(t // 8, 8, h // 16, 16, w // 16, 16, c).transpose(0, 2, 4, 1, 3, 5, 6).reshape(-1, 8 * 16 * 16 * c)


def unblocks(b, shape):
    t, h, w, c = shape
    return b.reshape(t // 8, h // 16, w // 16, 8, 16, 16, c).transpose(0, 3, 1, 4, 2, 5, 6).reshape(shape)


def lloyd(c, levels, iters=30):
    """1-D Lloyd-Max codebook of `levels` values for samples c (sorted reconstruction points)."""
    if levels == 1:
        return np.array([c.mean()])
    pts = np.quantile(c, (np.arange(levels) + 0.5) / levels)
    for _ in range(iters):
        edges = (pts[1:] + pts[:-1]) / 2
        idx = np.searchsorted(edges, c)
        sums = np.bincount(idx, c, levels)
        counts = np.bincount(idx, None, levels)
        pts = np.where(counts > 0, sums / np.maximum(counts, 1), pts)
        pts.sort()
    return pts


def quantise(c, pts):
    return pts[np.searchsorted((pts[1:] + pts[:-1]) / 2, c)]


def allocate(train_c, total_bits, max_bits=8):
    """Greedy bit allocation over components: each bit goes where it lowers the training distortion most."""
    k = train_c.shape[1]
    bits = [0] * k
    books = [lloyd(train_c[:, i], 1) for i in range(k)]
    err = [np.mean((train_c[:, i] - quantise(train_c[:, i], books[i])) ** 2) for i in range(k)]
    cand = {}
    for _ in range(total_bits):
        best, gain = None, -1.0
        for i in range(k):
            if bits[i] >= max_bits:
                continue
            if (i, bits[i] + 1) not in cand:
                pts = lloyd(train_c[:, i], 2 ** (bits[i] + 1))
                cand[(i, bits[i] + 1)] = (pts, np.mean((train_c[:, i] - quantise(train_c[:, i], pts)) ** 2))
            g = err[i] - cand[(i, bits[i] + 1)][1]
            if g > gain:
                best, gain = i, g
        bits[best] += 1
        books[best], err[best] = cand[(best, bits[best])]
    return bits, books


def psnr(a, b):
    return 10 * np.log10(255 ** 2 / np.mean((a - np.clip(b, 0, 255)) ** 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("train")
    ap.add_argument("heldout")
    ap.add_argument("--videos", type=int, default=60)
    ap.add_argument("--blocks", type=int, default=400, help="blocks drawn per training video")
    ap.add_argument("-k", type=int, default=18, help="components, and bits a block of the sign and scalar codes")
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.train, "*", "*.y4m")))
    held = sorted(glob.glob(os.path.join(a.heldout, "**", "*.y4m"), recursive=True))
    if not files or not held:
        print(f"linear-code-bound: error: no y4m files in {a.train if not files else a.heldout}", file=sys.stderr)
        sys.exit(66)
    random.Random(0).shuffle(files)
    rng = np.random.default_rng(1)
    xs = []
    for f in files[:a.videos]:
        v = read_y4m(f)[0][:64]
        b = blocks(v[:len(v) // 8 * 8].astype(np.float32))
        xs.append(b[rng.choice(len(b), min(a.blocks, len(b)), replace=False)])
    x = np.concatenate(xs)
    mu = x.mean(0)
    xc = x - mu
    # The leading components by a randomised range finder (four power iterations): the full SVD of a 6 144-wide
    # matrix is minutes of one core, and only K components are needed.
    q = np.random.default_rng(2).standard_normal((xc.shape[1], a.k + 12)).astype(np.float32)
    for _ in range(4):
        q, _ = np.linalg.qr(xc.T @ (xc @ q))
    _, _, vb = np.linalg.svd(xc @ q, full_matrices=False)
    p = (q @ vb.T)[:, :a.k].T
    train_c = xc @ p.T
    scale = np.abs(train_c).mean(0)
    bits, books = allocate(train_c, a.k)
    print(f"{len(x)} blocks of {len(files[:a.videos])} training videos, {a.k} components")
    print("scalar code's bits per component, leading first: " + " ".join(str(b) for b in bits))
    print("clip | block means | continuous | signs | scalar")
    rows = []
    for f in held:
        v = read_y4m(f)[0][:64]
        v = v[:len(v) // 8 * 8].astype(np.float32)
        b = blocks(v)
        c = (b - mu) @ p.T
        means = np.repeat(b.reshape(len(b), -1, 3).mean(1, keepdims=True), b.shape[1] // 3, 1).reshape(b.shape)
        r = (psnr(v, unblocks(means, v.shape)), psnr(v, unblocks(c @ p + mu, v.shape)),
             psnr(v, unblocks((np.sign(c) * scale) @ p + mu, v.shape)),
             psnr(v, unblocks(np.stack([quantise(c[:, i], books[i]) for i in range(a.k)], 1) @ p + mu, v.shape)))
        rows.append(r)
        print(f"{os.path.basename(f)} | " + " | ".join(f"{x:.2f}" for x in r))
    print("mean | " + " | ".join(f"{x:.2f}" for x in np.mean(rows, 0)))


if __name__ == "__main__":
    main()
