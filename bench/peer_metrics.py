#!/usr/bin/env python3
"""Peer timing for hv-bench metrics: scikit-image PSNR + SSIM (gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255, channel_axis=-1, as hv-metrics) + an MS-SSIM built on
scipy.ndimage.gaussian_filter (the filter skimage's SSIM uses; Wang 2003, 5 scales, as hv-metrics), on
the frames hv-bench wrote. Single process, as scikit-image runs. Prints frames per second (best of 3).
Usage: peer_metrics.py N WIDTH HEIGHT FRAMES.rgb   (N reference frames, then N distorted, raw RGB24)
       peer_metrics.py N                           (N random 256x256 pairs)
"""
import sys
import time

try:
    import numpy as np
    from scipy.ndimage import gaussian_filter
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
except ImportError:
    print("SKIP scikit-image not installed")
    sys.exit(0)

n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
if len(sys.argv) > 4:
    w, h = int(sys.argv[2]), int(sys.argv[3])
    frames = np.fromfile(sys.argv[4], dtype=np.uint8).reshape(2 * n, h, w, 3)
    a, b = frames[:n], frames[n:]
else:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (n, 256, 256, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)

W = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]


def msssim(x, y):
    v = 1.0
    for j in range(5):
        if j > 0:
            h2, w2 = x.shape[0] // 2, x.shape[1] // 2
            x = x[:2 * h2, :2 * w2].reshape(h2, 2, w2, 2).mean(axis=(1, 3))
            y = y[:2 * h2, :2 * w2].reshape(h2, 2, w2, 2).mean(axis=(1, 3))
        f = lambda z: gaussian_filter(z, 1.5, truncate=3.5)
        ux, uy = f(x), f(y)
        vx, vy, vxy = f(x * x) - ux * ux, f(y * y) - uy * uy, f(x * y) - ux * uy
        cs = ((2 * vxy + 58.5225) / (vx + vy + 58.5225))[5:-5, 5:-5]
        l = ((2 * ux * uy + 6.5025) / (ux * ux + uy * uy + 6.5025))[5:-5, 5:-5]
        v *= max((l * cs).mean() if j == 4 else cs.mean(), 0) ** W[j]
    return v


def run():
    for i in range(n):
        peak_signal_noise_ratio(a[i], b[i], data_range=255)
        structural_similarity(a[i], b[i], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                              data_range=255, channel_axis=-1)
        for c in range(3):
            msssim(a[i, ..., c].astype(np.float64), b[i, ..., c].astype(np.float64))


best = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    run()
    best = min(best, time.perf_counter() - t0)
print(f"{n / best:.3f}")
