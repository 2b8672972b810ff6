#!/usr/bin/env python3
"""Golden values for HVMetrics tests, from scikit-image (run once; the outputs are committed).

Frames: real footage (frame 40 of the held-out cockatoo clip and frame 300 of vtest, both decoded by
hv-decode to 256x256), each paired with three distortions made here with a fixed seed: Gaussian noise,
a 5x5 box blur, and JPEG quality 20 (through ffmpeg). Writes pair_<k>_{ref,dist}.rgb (raw RGB24) and
golden.json with PSNR and SSIM (RGB and luma) from skimage, and MS-SSIM from a numpy/scipy reference
implementation of Wang 2003 that follows the same conventions as the Swift code (documented in
ImageQuality.swift).
Usage: make_golden.py REF1.y4m REF2.y4m   (run from this folder)
"""
import json
import subprocess
import sys

import numpy as np
from scipy.ndimage import gaussian_filter, uniform_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def frame(path, n):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vf", f"select=eq(n\\,{n})", "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(256, 256, 3)


def jpeg(img, q):
    enc = subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "256x256", "-i", "-",
                          "-q:v", str(q), "-f", "mjpeg", "-"], input=img.tobytes(), check=True, capture_output=True).stdout
    raw = subprocess.run(["ffmpeg", "-v", "error", "-f", "mjpeg", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         input=enc, check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(256, 256, 3)


def luma(img):
    x = img.astype(np.float64)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def ssim_parts(x, y):
    f = lambda a: gaussian_filter(a, 1.5, truncate=3.5, mode="reflect")
    ux, uy = f(x), f(y)
    vx, vy, vxy = f(x * x) - ux * ux, f(y * y) - uy * uy, f(x * y) - ux * uy
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    cs = (2 * vxy + c2) / (vx + vy + c2)
    l = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1)
    return (l * cs)[5:-5, 5:-5].mean(), cs[5:-5, 5:-5].mean()


def msssim_plane(x, y):
    w = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    v = 1.0
    for j in range(5):
        s, cs = ssim_parts(x, y)
        v *= max(s if j == 4 else cs, 0) ** w[j]
        if j < 4:
            x = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3))
            y = y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
    return v


def main():
    rng = np.random.default_rng(7)
    refs = [frame(sys.argv[1], 40), frame(sys.argv[2], 300)]
    out = []
    k = 0
    for ref in refs:
        noisy = np.clip(ref.astype(np.float64) + rng.normal(0, 12, ref.shape), 0, 255).round().astype(np.uint8)
        blur = uniform_filter(ref.astype(np.float64), size=(5, 5, 1), mode="reflect").round().astype(np.uint8)
        for dist in (noisy, blur, jpeg(ref, 20)):
            ref.tofile(f"pair_{k}_ref.rgb")
            dist.tofile(f"pair_{k}_dist.rgb")
            common = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
            out.append({
                "pair": k,
                "psnr": peak_signal_noise_ratio(ref, dist, data_range=255),
                "ssim": structural_similarity(ref, dist, channel_axis=-1, **common),
                "ssim_luma": structural_similarity(luma(ref), luma(dist), **common),
                "msssim": float(np.mean([msssim_plane(ref[..., c].astype(np.float64), dist[..., c].astype(np.float64)) for c in range(3)])),
            })
            k += 1
    json.dump(out, open("golden.json", "w"), indent=1)


if __name__ == "__main__":
    main()
