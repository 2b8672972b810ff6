#!/usr/bin/env python3
"""Peer for `hv-bench gen`: KV-cache decoding of one clip by the same generator architecture in PyTorch CPU
(eager, float32, inference_mode, random weights). hv-bench passes the config's dims, so the shapes follow the
preset: a Llama-style decoder (RMSNorm, SwiGLU, rotary attention, final norm) over [text prefix | video tokens].

As Generator.swift does it: the text prefix (caption rows projected with text.proj, right-padded with a pad
vector to --text-length; the unconditional row is the null text) is prefilled in one causal pass; then every
video token of the clip is one step over one new row per sequence: final norm + the layer's factorised head
on the last row, guidance (uncond + (cond - uncond)·scale) when the batch is two, one softmax + multinomial
draw per group of <= --group-bits bits, and the sampled code is fed back as W_m·(±1 bits) + layer_embed[m].

RoPE: the 3D rotary of RoPE.swift (sections t/h/w over the head dim, positions as SequenceLayout.swift)
applied as one rotate-half over the whole head dim — the same arithmetic up to a fixed permutation of the
head dims, which leaves q·k unchanged (the weights are random anyway).

Timing as GenBench.swift: stamp k is taken when token k has been sampled; start is before the prefill;
tokens/s = tokens / (last stamp - start); per-token ms over stamps 0..window and the last window stamps.
An untimed warm-up pass of a few tokens runs first (PyTorch's first calls initialise kernels). The clip is
decoded at exactly --threads threads, the count hv-bench runs ours at: the comparison is at equal threads.

Prints one JSON line. Exits 3 when torch is not installed (the bench prints a loud SKIPPED line then).
"""
import argparse, json, sys, time

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--width", type=int, default=256)
p.add_argument("--depth", type=int, default=4)
p.add_argument("--heads", type=int, default=4)
p.add_argument("--ffn-hidden", type=int, default=688)
p.add_argument("--text-length", type=int, default=32)
p.add_argument("--text-dim", type=int, default=384)
p.add_argument("--prefix-rows", type=int, default=12, help="caption rows given (the rest of the prefix is padding)")
p.add_argument("--layers", default="1x4x4:12,2x8x8:14,4x8x8:16,8x16x16:18",
               help="video layers in sequence order, TxHxW:bits each")
p.add_argument("--group-bits", type=int, default=6)
p.add_argument("--rope-base", type=float, default=10000.0)
p.add_argument("--eps", type=float, default=1e-5)
p.add_argument("--cfg", type=float, default=7.5, help="guidance scale; anything but 1 decodes a batch of two")
p.add_argument("--threads", type=int, default=2, help="threads to decode with (hv-bench passes its own count)")
p.add_argument("--window", type=int, default=100)
p.add_argument("--warmup", type=int, default=32, help="tokens decoded in the untimed warm-up")
a = p.parse_args()
try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print(json.dumps({"error": "torch not installed"}))
    sys.exit(3)

torch.set_num_threads(a.threads)
torch.manual_seed(0)
C, H, L, TL = a.width, a.heads, a.depth, a.text_length
D = C // H
B = 1 if a.cfg == 1 else 2
layers = []
for spec in a.layers.split(","):
    grid, bits = spec.split(":")
    t, h, w = (int(v) for v in grid.split("x"))
    layers.append((t, h, w, int(bits)))
N = sum(t * h * w for t, h, w, _ in layers)
S = TL + N - 1                        # positions that ever enter the cache (the last token is not fed back)


def groups(bits):
    n = (bits + a.group_bits - 1) // a.group_bits
    return [bits // n + (1 if i < bits % n else 0) for i in range(n)]


# --- positions (SequenceLayout.swift) and the 3D rotary tables (RoPE.swift) --------------------------------
def centre(idx, grid, ref):
    return int(round((2 * idx + 1) * ref / grid - 1))


refT, refH, refW = (max(l[i] for l in layers) for i in range(3))
coords = [(2 * i, 2 * i, 2 * i) for i in range(TL)]
for t, h, w, _ in layers:
    for ti in range(t):
        for hi in range(h):
            for wi in range(w):
                coords.append((2 * TL + centre(ti, t, refT), centre(hi, h, refH), centre(wi, w, refW)))
hw = 2 * (D // 6)
sections = [D - 2 * hw, hw, hw]
pos = torch.tensor(coords[:S], dtype=torch.float64)                 # [S, 3]
angles = torch.cat([pos[:, ax:ax + 1] * a.rope_base ** (-2 * torch.arange(n // 2, dtype=torch.float64) / n)
                    for ax, n in enumerate(sections)], dim=1)      # [S, D/2]
COS = torch.cat([angles.cos(), angles.cos()], dim=1).float()        # rotate-half layout: [S, D]
SIN = torch.cat([angles.sin(), angles.sin()], dim=1).float()


def rope(x, lo, hi):                  # x [B, H, n, D] at positions lo..<hi
    x1, x2 = x[..., :D // 2], x[..., D // 2:]
    return x * COS[lo:hi] + torch.cat([-x2, x1], dim=-1) * SIN[lo:hi]


# --- random weights (torch.nn.Linear-style uniform init; shapes as GeneratorModel.swift) -------------------
def lin(out_f, in_f, scale=1.0):
    bound = 1 / in_f ** 0.5
    return (torch.rand(out_f, in_f) * 2 - 1) * bound * scale


res = 1 / (2 * L) ** 0.5
W = dict(text=lin(C, a.text_dim), text_b=torch.zeros(C), null=torch.randn(TL, C) * 0.02, pad=torch.randn(C) * 0.02,
         bits=[lin(C, l[3]) for l in layers], layer_embed=torch.randn(len(layers), C) * 0.02, norm=torch.ones(C),
         head=[lin(sum(1 << g for g in groups(l[3])), C) for l in layers],
         head_b=[torch.zeros(sum(1 << g for g in groups(l[3]))) for l in layers])
blocks = [dict(attn_norm=torch.ones(C), qkv=lin(3 * C, C), out=lin(C, C, res), ffn_norm=torch.ones(C),
               gate_up=lin(2 * a.ffn_hidden, C), down=lin(C, a.ffn_hidden, res)) for _ in range(L)]
bit_shifts = [torch.arange(l[3]) for l in layers]
layer_of = []                         # sequence layer of every video token
for m, (t, h, w, _) in enumerate(layers):
    layer_of += [m] * (t * h * w)
head_groups = [groups(l[3]) for l in layers]
text = torch.randn(a.prefix_rows, a.text_dim)


def block_forward(blk, x, kc, vc, lo):
    """x [B, n, C] at positions lo..<lo+n; writes their keys/values into the caches [B, H, S, D]."""
    n = x.shape[1]
    qkv = F.linear(F.rms_norm(x, (C,), blk["attn_norm"], a.eps), blk["qkv"]).view(B, n, 3, H, D)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)                  # each [B, H, n, D]
    kc[:, :, lo:lo + n] = rope(k, lo, lo + n)
    vc[:, :, lo:lo + n] = v
    q = rope(q, lo, lo + n)
    att = F.scaled_dot_product_attention(q, kc[:, :, :lo + n], vc[:, :, :lo + n], is_causal=n > 1 and lo == 0)
    x = x + F.linear(att.transpose(1, 2).reshape(B, n, C), blk["out"])
    g, u = F.linear(F.rms_norm(x, (C,), blk["ffn_norm"], a.eps), blk["gate_up"]).chunk(2, dim=-1)
    return x + F.linear(F.silu(g) * u, blk["down"])


def head_logits(x, m):                # last row of x [B, n, C] -> [B, outputs_m]
    h = F.rms_norm(x[:, -1], (C,), W["norm"], a.eps)
    return F.linear(h, W["head"][m], W["head_b"][m])


def sample(z, m):                     # z [B, outputs_m] -> code (int): guidance, one draw per group
    if B == 2:
        z = z[1] + (z[0] - z[1]) * a.cfg
    else:
        z = z[0]
    code, lo, off = 0, 0, 0
    for g in head_groups[m]:
        k = int(torch.multinomial(torch.softmax(z[lo:lo + (1 << g)], dim=0), 1))
        code |= k << off
        lo += 1 << g
        off += g
    return code


def decode(count, stamps):
    caches = [(torch.empty(B, H, S, D), torch.empty(B, H, S, D)) for _ in range(L)]
    x = torch.empty(B, TL, C)
    rows = min(a.prefix_rows, TL)
    x[0, :rows] = F.linear(text[:rows], W["text"], W["text_b"])
    x[0, rows:] = W["pad"]
    if B == 2:
        x[1] = W["null"]
    for blk, (kc, vc) in zip(blocks, caches):
        x = block_forward(blk, x, kc, vc, 0)
    z = head_logits(x, 0)
    for n in range(count):
        m = layer_of[n]
        code = sample(z, m)
        stamps.append(time.perf_counter())
        if n + 1 == count:
            break
        signs = ((code >> bit_shifts[m]) & 1).float() * 2 - 1
        x = (F.linear(signs, W["bits"][m]) + W["layer_embed"][m]).expand(B, 1, C)
        for blk, (kc, vc) in zip(blocks, caches):
            x = block_forward(blk, x, kc, vc, TL + n)
        z = head_logits(x, layer_of[n + 1])


# Equal threads, no probing for PyTorch's best count: on an idle machine (where `make bench` runs) that count
# is the one given; on a busy one PyTorch's OpenMP barriers collapse (a training job sharing a 2-core machine made
# 2 threads ~70x slower than 1), and so does the comparison — run benchmarks on an idle machine.
with torch.inference_mode():
    decode(min(a.warmup, N), [])
    stamps = []
    start = time.perf_counter()
    decode(N, stamps)

total = stamps[-1] - start
win = min(a.window, N // 4)


def per_token(lo, hi):
    return (stamps[hi] - stamps[lo]) * 1e3 / (hi - lo)


print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                  "batch": B, "tokens": N,
                  "seconds": total, "tokens_per_s": N / total, "prefill_ms": (stamps[0] - start) * 1e3,
                  "window": win, "start_ms": per_token(0, win), "end_ms": per_token(N - 1 - win, N - 1)}))
