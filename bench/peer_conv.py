#!/usr/bin/env python3
"""Peer timings for hv-bench: PyTorch CPU conv3d forward and backward on the tokenizer's layer shapes.
Uses the same thread count as hv-bench.

Usage: peer_conv.py THREADS f32|bf16 [--serve] NAME:CIN:COUT:T:S ...
Each shape (hv-bench passes its own list) is a 3×3×3 causal conv from CIN to COUT channels on T frames of S×S;
bf16 times the convs on bfloat16 tensors (oneDNN's bfloat16 kernels, on AMX where the CPU has it), the peer of
hv-bench's AMX column.

Without --serve it prints one line per shape, "NAME fwd_seconds bwd_seconds", each the best of five timed calls.
With --serve it prints "READY", then answers every NAME read from stdin with one timed forward and one timed
backward ("NAME fwd bwd"). hv-bench alternates those requests with its own calls on the same shape, so the two
sides share whatever load this machine's neighbours put on it at that moment, and takes the best of each side's
rounds: on a shared VM a shape's time moves by a third between runs, more than the ratios it is meant to show."""
import sys
import time

try:
    import torch
except ImportError:
    print("SKIP torch not installed", flush=True)
    sys.exit(0)

args = sys.argv[1:]
serve = "--serve" in args
args = [a for a in args if a != "--serve"]
torch.set_num_threads(int(args[0]) if args else 2)
dtype = torch.bfloat16 if len(args) > 1 and args[1] == "bf16" else torch.float32
shapes = {n: (int(a), int(b), int(c), int(d)) for n, a, b, c, d in (arg.split(":") for arg in args[2:])}
built = {}


def layer(name):
    """The shape's input and conv, warmed up on first use: after two rounds the first shape's backward still ran
    2–20× slow, so three."""
    if name not in built:
        built.clear()    # hv-bench asks for one shape at a time: keep one shape's tensors
        cin, cout, t, s = shapes[name]
        x = torch.randn(1, cin, t + 2, s, s, dtype=dtype, requires_grad=True)  # causal: 2 frames of past padding
        conv = torch.nn.Conv3d(cin, cout, 3, padding=(0, 1, 1), dtype=dtype)
        for _ in range(3):
            y = conv(x)
            y.backward(torch.ones_like(y))
        built[name] = (x, conv, torch.ones_like(y))
    return built[name]


def once(name):
    """One forward and the backward of a second forward, each timed alone, after an untimed forward and backward
    (hv-bench ran in between: the caches and the thread pool start where they would in a run of this layer)."""
    x, conv, g = layer(name)
    conv(x).backward(g)
    t0 = time.perf_counter()
    conv(x)
    fwd = time.perf_counter() - t0
    y = conv(x)
    t0 = time.perf_counter()
    y.backward(g)
    return fwd, time.perf_counter() - t0


if serve:
    print("READY", flush=True)
    for line in sys.stdin:
        name = line.strip()
        if name not in shapes:
            print(f"UNKNOWN {name}", flush=True)
            continue
        fwd, bwd = once(name)
        print(name, f"{fwd:.6f}", f"{bwd:.6f}", flush=True)
else:
    for name in shapes:
        runs = [once(name) for _ in range(5)]
        print(name, f"{min(r[0] for r in runs):.6f}", f"{min(r[1] for r in runs):.6f}")
