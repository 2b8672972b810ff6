#!/usr/bin/env python3
"""Peer timing for hv-bench: scikit-image PSNR + SSIM (Gaussian, as hv-metrics) + an MS-SSIM built on
its filters, on N random 256x256 RGB frame pairs. Prints frames per second."""
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
rng = np.random.default_rng(0)
a = rng.integers(0, 256, (n, 256, 256, 3), dtype=np.uint8)
b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)


def msssim(x, y):
    w = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    v = 1.0
    for j in range(5):
        f = lambda z: gaussian_filter(z, 1.5, truncate=3.5)
        ux, uy = f(x), f(y)
        vx, vy, vxy = f(x * x) - ux * ux, f(y * y) - uy * uy, f(x * y) - ux * uy
        cs = ((2 * vxy + 58.5225) / (vx + vy + 58.5225))[5:-5, 5:-5]
        l = ((2 * ux * uy + 6.5025) / (ux * ux + uy * uy + 6.5025))[5:-5, 5:-5]
        v *= max((l * cs).mean() if j == 4 else cs.mean(), 0) ** w[j]
        if j < 4:
            x = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3))
            y = y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
    return v


t0 = time.perf_counter()
for i in range(n):
    peak_signal_noise_ratio(a[i], b[i], data_range=255)
    structural_similarity(a[i], b[i], gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1)
    for c in range(3):
        msssim(a[i, ..., c].astype(np.float64), b[i, ..., c].astype(np.float64))
print(f"{n / (time.perf_counter() - t0):.3f}")
