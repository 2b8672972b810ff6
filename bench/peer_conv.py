#!/usr/bin/env python3
"""Peer timings for hv-bench: PyTorch CPU conv3d forward and backward on the tokenizer's layer shapes.
Prints one line per shape: name fwd_seconds bwd_seconds. Uses the same thread count as hv-bench (2).
Usage: peer_conv.py THREADS f32|bf16 NAME:CIN:COUT:T:S ...; bf16 times the convs on bfloat16 tensors (oneDNN's
bfloat16 kernels, on AMX where the CPU has it), the peer of hv-bench's AMX column. Each shape (hv-bench passes its
own list) is a 3×3×3 causal conv from CIN to COUT channels on T frames of S×S."""
import sys
import time

try:
    import torch
except ImportError:
    print("SKIP torch not installed")
    sys.exit(0)

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
dtype = torch.bfloat16 if len(sys.argv) > 2 and sys.argv[2] == "bf16" else torch.float32
shapes = [(n, int(a), int(b), int(c), int(d)) for n, a, b, c, d in (arg.split(":") for arg in sys.argv[3:])]
for name, cin, cout, t, s in shapes:
    x = torch.randn(1, cin, t + 2, s, s, dtype=dtype, requires_grad=True)  # causal: 2 frames of past padding
    conv = torch.nn.Conv3d(cin, cout, 3, padding=(0, 1, 1), dtype=dtype)
    def run():
        y = conv(x)
        return y
    for _ in range(3):  # warm-up as timed; after two rounds the first shape's backward still ran 2–20× slow
        y = run(); y.backward(torch.ones_like(y))
    reps = 5
    t0 = time.perf_counter()
    for _ in range(reps):
        y = run()
    fwd = (time.perf_counter() - t0) / reps
    g = torch.ones_like(y)
    t0 = time.perf_counter()
    for _ in range(reps):
        y = run(); y.backward(g)
    both = (time.perf_counter() - t0) / reps
    print(name, f"{fwd:.5f}", f"{max(both - fwd, 1e-9):.5f}")
