#!/usr/bin/env python3
"""Golden values for the HVMetrics tests, from scikit-image (run once; outputs are committed beside it).

Frames: real footage from Debian's opencv-doc package (pedestrians in vtest.avi, frame 300; the tree in
tree.avi, frame 40), centre-cropped to a square and scaled to 256x256 by ffmpeg (bicubic). Each reference
gets distortions made here with a fixed seed: vtest — Gaussian noise (sigma 12), a 5x5 box blur, JPEG
quality 20 (ffmpeg mjpeg -q:v 20); tree — JPEG and a brightness/contrast change plus mild noise. A fifth,
small non-square pair (97x61, odd sizes, cut from the vtest frame, with noise) checks the valid-region
crop on rectangles; it is too small for MS-SSIM.

Writes ref_<name>.rgb / dist_<k>.rgb (raw RGB24, row-major) and golden.json, one entry per pair:
  psnr       skimage.metrics.peak_signal_noise_ratio(ref, dist, data_range=255)
  ssim       structural_similarity(ref, dist, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
             data_range=255, channel_axis=-1)
  ssim_luma  the same on BT.601 luma 0.299 R + 0.587 G + 0.114 B (float64, unrounded)
  msssim     a numpy/scipy implementation of Wang 2003 on scipy's Gaussian filter (what skimage uses): 5 scales,
             2x2 average pooling, cs at scales 1-4, SSIM at 5, each clamped at 0, channels averaged; when torch
             and pytorch-msssim are installed it is asserted to agree with pytorch_msssim.ms_ssim(data_range=255)
             within 1e-5 (pytorch_msssim's float32 taps); null for frames whose short side is below 176
  msssim_luma  the same on luma
Usage (from any folder): python3 make_golden.py [--footage DIR]   (DIR holds vtest.avi and tree.avi;
default /work/footage/ex/usr/share/doc/opencv-doc/examples/data — `apt-get download opencv-doc` and
`dpkg-deb -x` it to get them elsewhere). Needs ffmpeg, numpy, scipy, scikit-image; torch + pytorch-msssim
optional.
"""
import argparse
import json
import os
import subprocess

import numpy as np
from scipy.ndimage import gaussian_filter, uniform_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

HERE = os.path.dirname(os.path.abspath(__file__))


def frame(path, n, size=256):
    vf = f"select=eq(n\\,{n}),crop='min(iw,ih)':'min(iw,ih)',scale={size}:{size}:flags=bicubic"
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vf", vf, "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(size, size, 3).copy()


def jpeg(img, q):
    h, w, _ = img.shape
    enc = subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", "-",
                          "-q:v", str(q), "-f", "mjpeg", "-"], input=img.tobytes(), check=True, capture_output=True).stdout
    raw = subprocess.run(["ffmpeg", "-v", "error", "-f", "mjpeg", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         input=enc, check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3).copy()


def to_u8(x):
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def luma(img):
    x = img.astype(np.float64)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def ssim_parts(x, y):
    """Mean SSIM and mean cs over the valid region, from scipy's Gaussian filter (what skimage uses)."""
    f = lambda a: gaussian_filter(a, 1.5, truncate=3.5, mode="reflect")
    ux, uy = f(x), f(y)
    vx, vy, vxy = f(x * x) - ux * ux, f(y * y) - uy * uy, f(x * y) - ux * uy
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    cs = (2 * vxy + c2) / (vx + vy + c2)
    l = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1)
    return (l * cs)[5:-5, 5:-5].mean(), cs[5:-5, 5:-5].mean()


def msssim_numpy(planes_x, planes_y):
    w = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    out = []
    for x, y in zip(planes_x, planes_y):
        v = 1.0
        for j in range(5):
            if j > 0:
                h2, w2 = x.shape[0] // 2, x.shape[1] // 2
                x = x[:2 * h2, :2 * w2].reshape(h2, 2, w2, 2).mean(axis=(1, 3))
                y = y[:2 * h2, :2 * w2].reshape(h2, 2, w2, 2).mean(axis=(1, 3))
            s, cs = ssim_parts(x, y)
            v *= max(s if j == 4 else cs, 0) ** w[j]
        out.append(v)
    return float(np.mean(out))


def msssim_torch(planes_x, planes_y):
    try:
        import torch
        from pytorch_msssim import ms_ssim
    except ImportError:
        return None
    X = torch.from_numpy(np.stack(planes_x)[None].astype(np.float64))
    Y = torch.from_numpy(np.stack(planes_y)[None].astype(np.float64))
    return float(ms_ssim(X, Y, data_range=255, size_average=True))


def msssim(ref, dist, use_luma):
    if min(ref.shape[:2]) < 176:
        return None
    px = [luma(ref)] if use_luma else [ref[..., c].astype(np.float64) for c in range(3)]
    py = [luma(dist)] if use_luma else [dist[..., c].astype(np.float64) for c in range(3)]
    mine = msssim_numpy(px, py)
    theirs = msssim_torch(px, py)
    if theirs is not None:
        # pytorch_msssim builds its Gaussian taps in float32, hence agreement to ~1e-6, not 1e-12.
        assert abs(mine - theirs) < 1e-5, (mine, theirs)
    return mine


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--footage", default="/work/footage/ex/usr/share/doc/opencv-doc/examples/data")
    a = ap.parse_args()
    rng = np.random.default_rng(7)
    vtest = frame(os.path.join(a.footage, "vtest.avi"), 300)
    tree = frame(os.path.join(a.footage, "tree.avi"), 40)
    small = vtest[90:151, 60:157].copy()  # 61 rows x 97 columns
    pairs = [
        ("vtest", vtest, "noise sigma 12", to_u8(vtest + rng.normal(0, 12, vtest.shape))),
        ("vtest", vtest, "box blur 5x5", to_u8(uniform_filter(vtest.astype(np.float64), size=(5, 5, 1), mode="reflect"))),
        ("vtest", vtest, "jpeg q20", jpeg(vtest, 20)),
        ("tree", tree, "jpeg q12", jpeg(tree, 12)),
        ("tree", tree, "contrast 0.8, +20, noise sigma 3", to_u8(0.8 * tree + 20 + rng.normal(0, 3, tree.shape))),
        ("small", small, "noise sigma 8 (97x61)", to_u8(small + rng.normal(0, 8, small.shape))),
    ]
    common = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    out = []
    written = set()
    for k, (name, ref, what, dist) in enumerate(pairs):
        if name not in written:
            ref.tofile(os.path.join(HERE, f"ref_{name}.rgb"))
            written.add(name)
        dist.tofile(os.path.join(HERE, f"dist_{k}.rgb"))
        out.append({
            "pair": k, "ref": name, "distortion": what, "width": ref.shape[1], "height": ref.shape[0],
            "psnr": peak_signal_noise_ratio(ref, dist, data_range=255),
            "ssim": structural_similarity(ref, dist, channel_axis=-1, **common),
            "ssim_luma": structural_similarity(luma(ref), luma(dist), **common),
            "msssim": msssim(ref, dist, False),
            "msssim_luma": msssim(ref, dist, True),
        })
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
