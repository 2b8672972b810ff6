#!/usr/bin/env python3
"""Peer for `hv-bench seq`: PyTorch CPU causal scaled_dot_product_attention, forward and backward,
on the same shapes as our kernel ([B, S, heads, headDim] -> torch's [B, heads, S, headDim]), float32.

Prints one JSON line: {"torch": version, "threads": n, "forward_ms": best, "backward_ms": best}.
backward_ms is the backward pass alone (forward+backward time minus forward time, best of runs).
Exits 3 when torch is not installed (the bench prints a loud SKIPPED line then).
"""
import argparse, json, sys, time

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--batch", type=int, default=1)
p.add_argument("--seq", type=int, default=2448)
p.add_argument("--heads", type=int, default=8)
p.add_argument("--dim", type=int, default=64)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--repeats", type=int, default=5)
a = p.parse_args()
try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print(json.dumps({"error": "torch not installed"}))
    sys.exit(3)

torch.set_num_threads(a.threads)
torch.manual_seed(0)
shape = (a.batch, a.heads, a.seq, a.dim)
q, k, v = (torch.randn(shape, requires_grad=True) for _ in range(3))
dy = torch.randn(shape)


def fwd():
    with torch.no_grad():
        F.scaled_dot_product_attention(q, k, v, is_causal=True)


def fwd_bwd():
    o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    o.backward(dy)


def best(fn):
    fn()  # warm-up
    times = []
    for _ in range(a.repeats):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return min(times) * 1000


f = best(fwd)
fb = best(fwd_bwd)
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "forward_ms": f, "backward_ms": max(fb - f, 0.0)}))
