#!/usr/bin/env python3
"""Peer for `hv-bench train`: one training step of the small2 tokenizer in PyTorch (CPU), timed like ours.

Usage: peer_train_tokenizer.py THREADS [CROP] [STEPS] [f32|bf16] [FRAMES] [BATCH] [MICRO]. BATCH crops a step run
forward and backward MICRO at a time (stacked on the batch axis of one tensor, PyTorch's own way to put a batch on
its threads; default 1: in turn), their gradients averaged, before one update (hv-train --batch). bf16 runs the model's forward under
torch.autocast("cpu", dtype=torch.bfloat16) (oneDNN's bfloat16 convolutions, on AMX where the CPU has it; the
losses and the optimiser stay float32): the peer of `hv-bench train --bf16-ab`. Pins itself to the first THREADS cores and uses
torch.set_num_threads(THREADS). Prints one JSON line: ms_per_step (median of STEPS after two warm-up steps),
maxrss_mb (peak resident set), params. Exits 3 when PyTorch is not installed.

The model follows Sources/HVTokenizer (Encoder3D, ResBlock3D, TokenLayer, HierarchicalTokenizer, Decoder3D) with
the small2 config: space-to-depth stem 2x4x4 + 1x1x1 conv; stages 32/64/128 (1, 2, 2 ResNet blocks; strided
3x3x3 down convs 2x2x2); RMSNorm per position (eps 1e-6), SiLU; causal convs whose past frames repeat the first
frame (a stride-2 conv pads one frame, a 3-tap conv two), "same" zero padding in space; four token layers
(avg-pool, 1x3x3 conv, per-token RMS normalisation, sign with a straight-through gradient, 1x1x1 up projection,
nearest up-sampling, causal 3x3x3 conv; residual r - sg(u)); decoder 192/96/48 with nearest up-sampling + conv,
1x3x3 head and depth-to-space. Loss: L1 + MSE + 0.2 * multi-scale image-gradient L1 (GradientLoss.swift) +
commitment + the LFQ entropy penalty (per-sample bit entropies minus the exact codebook entropy of the mean
distribution) + the residual-matching term; then global-norm clipping, AdamW and the EMA of the weights — the
v2 recipe of make/train.mk. Differences: PyTorch's NCDHW layout and oneDNN convolutions; the soft-to-hard
quantisation blend is left out (it is an element-wise mix at hardness < 1).
"""
import json
import os
import resource
import sys
import time

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
crop = int(sys.argv[2]) if len(sys.argv) > 2 else 64
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
precision = sys.argv[4] if len(sys.argv) > 4 else "f32"
frames = int(sys.argv[5]) if len(sys.argv) > 5 else crop
batch = int(sys.argv[6]) if len(sys.argv) > 6 else 1
micro = max(1, min(batch, int(sys.argv[7]) if len(sys.argv) > 7 else 1))

try:
    os.sched_setaffinity(0, set(range(min(threads, os.cpu_count() or 1))))
except (AttributeError, OSError):
    pass

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print(json.dumps({"skip": "PyTorch is not installed"}))
    sys.exit(3)

torch.set_num_threads(threads)
torch.manual_seed(0)


class CausalConv3d(nn.Module):
    """Causal in time (past frames repeat the first frame), 'same' zero padding in space."""

    def __init__(self, cin, cout, k, stride=(1, 1, 1)):
        super().__init__()
        self.pad_t = k[0] - stride[0]
        self.conv = nn.Conv3d(cin, cout, k, stride=stride, padding=(0, (k[1] - 1) // 2, (k[2] - 1) // 2))

    def forward(self, x):
        if self.pad_t > 0:
            x = torch.cat([x[:, :, :1].expand(-1, -1, self.pad_t, -1, -1), x], dim=2)
        return self.conv(x)


class RMSNorm(nn.Module):
    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.w = nn.Parameter(torch.ones(c))
        self.eps = eps

    def forward(self, x):
        r = torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)
        return x * r * self.w.view(1, -1, 1, 1, 1)


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n1, self.c1 = RMSNorm(c), CausalConv3d(c, c, (3, 3, 3))
        self.n2, self.c2 = RMSNorm(c), CausalConv3d(c, c, (3, 3, 3))

    def forward(self, x):
        h = self.c1(F.silu(self.n1(x)))
        return x + self.c2(F.silu(self.n2(h)))


def space_to_depth(x, f):
    b, c, t, h, w = x.shape
    x = x.view(b, c, t // f[0], f[0], h // f[1], f[1], w // f[2], f[2])
    return x.permute(0, 3, 5, 7, 1, 2, 4, 6).reshape(b, c * f[0] * f[1] * f[2], t // f[0], h // f[1], w // f[2])


def depth_to_space(x, f):
    b, cd, t, h, w = x.shape
    c = cd // (f[0] * f[1] * f[2])
    x = x.view(b, f[0], f[1], f[2], c, t, h, w)
    return x.permute(0, 4, 5, 1, 6, 2, 7, 3).reshape(b, c, t * f[0], h * f[1], w * f[2])


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = CausalConv3d(96, 32, (1, 1, 1))
        self.stages = nn.ModuleList([nn.Sequential(ResBlock(32)), nn.Sequential(ResBlock(64), ResBlock(64)),
                                     nn.Sequential(ResBlock(128), ResBlock(128))])
        self.downs = nn.ModuleList([CausalConv3d(32, 64, (3, 3, 3), (2, 2, 2)),
                                    CausalConv3d(64, 128, (3, 3, 3), (2, 2, 2))])
        self.norm, self.proj = RMSNorm(128), CausalConv3d(128, 128, (1, 1, 1))

    def forward(self, x):
        h = self.stem(space_to_depth(x, (2, 4, 4)))
        for i, stage in enumerate(self.stages):
            h = stage(h)
            if i < len(self.downs):
                h = self.downs[i](h)
        return self.proj(F.silu(self.norm(h)))


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_in = CausalConv3d(128, 192, (3, 3, 3))
        self.stages = nn.ModuleList([nn.Sequential(ResBlock(192), ResBlock(192)), nn.Sequential(ResBlock(96), ResBlock(96)),
                                     nn.Sequential(ResBlock(48))])
        self.ups = nn.ModuleList([CausalConv3d(192, 96, (3, 3, 3)), CausalConv3d(96, 48, (3, 3, 3))])
        self.norm, self.head = RMSNorm(48), CausalConv3d(48, 96, (1, 3, 3))

    def forward(self, z):
        h = self.conv_in(z)
        for i, stage in enumerate(self.stages):
            h = stage(h)
            if i < len(self.ups):
                h = self.ups[i](F.interpolate(h, scale_factor=2, mode="nearest"))
        return depth_to_space(self.head(F.silu(self.norm(h))), (2, 4, 4))


def half_distribution(p):
    """Product distribution over the 2^m codes of the bits in p [N, m] (bit j of the code = bit j)."""
    d = torch.ones(p.shape[0], 1)
    for j in range(p.shape[1]):
        pj = p[:, j:j + 1]
        d = torch.cat([d * (1 - pj), d * pj], dim=1)
    return d


def entropy(q, dim=-1):
    return -(q * torch.log(q.clamp_min(1e-12))).sum(dim)


class TokenLayer(nn.Module):
    def __init__(self, bits, pool):
        super().__init__()
        self.bits, self.pool = bits, pool
        self.down = CausalConv3d(128, bits, (1, 3, 3))
        self.up_proj = CausalConv3d(bits, 128, (1, 1, 1))
        self.up_conv = CausalConv3d(128, 128, (3, 3, 3))

    def forward(self, r, entropy_weight, commit_weight):
        pooled = F.avg_pool3d(r, self.pool) if self.pool != (1, 1, 1) else r
        e = self.down(pooled)
        e = e * torch.rsqrt(e.pow(2).mean(dim=1, keepdim=True) + 1e-6)
        q = e + (torch.sign(e) - e).detach()          # straight-through (sign(0) never happens on real data)
        x = e.permute(0, 2, 3, 4, 1).reshape(-1, self.bits)
        commit = (x - torch.sign(x).detach()).pow(2).mean()
        p = torch.sigmoid(4 * x)
        per_sample = (-(p * torch.log(p.clamp_min(1e-12)) + (1 - p) * torch.log((1 - p).clamp_min(1e-12)))).sum(1).mean()
        lo = self.bits // 2
        a, b = half_distribution(p[:, :lo]), half_distribution(p[:, lo:])
        codebook = entropy((a.t() @ b / x.shape[0]).flatten())
        u = self.up_conv(F.interpolate(self.up_proj(q), scale_factor=self.pool, mode="nearest")
                         if self.pool != (1, 1, 1) else self.up_proj(q))
        return u, commit_weight * commit + entropy_weight * (per_sample - codebook)


class Tokenizer(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = Encoder(), Decoder()
        # Layer 0 (densest) … 3; pools from the 8x16x16 latent of a full clip to the paper grids.
        self.layers = nn.ModuleList([TokenLayer(18, (1, 1, 1)), TokenLayer(16, (2, 2, 2)), TokenLayer(14, (4, 2, 2)),
                                     TokenLayer(12, (8, 4, 4))])

    def forward(self, x):
        z = self.encoder(x)
        zhat, r, aux = torch.zeros_like(z), z, 0.0
        for layer in reversed(self.layers):
            u, l = layer(r, 0.005, 0.05)
            aux = aux + l + 0.001 * (u - r.detach()).pow(2).mean()
            zhat = zhat + u
            r = r - u.detach()
        return self.decoder(zhat), aux


def gradient_l1(p, t):
    """Mean |Δp − Δt| over horizontal and vertical neighbours, at full and half resolution (GradientLoss.swift)."""
    def one(p, t):
        dx = (p[..., 1:] - p[..., :-1]) - (t[..., 1:] - t[..., :-1])
        dy = (p[..., 1:, :] - p[..., :-1, :]) - (t[..., 1:, :] - t[..., :-1, :])
        return dx.abs().mean() + dy.abs().mean()
    return one(p, t) + one(F.avg_pool3d(p, (1, 2, 2)), F.avg_pool3d(t, (1, 2, 2)))


model = Tokenizer()
params = [p for p in model.parameters()]
decay = [p for n, p in model.named_parameters() if n.endswith("conv.weight")]
no_decay = [p for n, p in model.named_parameters() if not n.endswith("conv.weight")]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0}],
                        lr=3e-4, betas=(0.9, 0.99), eps=1e-8)
ema = [p.detach().clone() for p in params]
clips = torch.rand(micro, 3, frames, crop, crop) * 2 - 1


def step():
    opt.zero_grad(set_to_none=False)
    done = 0
    while done < batch:
        n = min(micro, batch - done)
        clip = clips[:n]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            recon, aux = model(clip)
        recon, aux = recon.float(), aux.float()
        loss = (recon - clip).abs().mean() + (recon - clip).pow(2).mean() + 0.2 * gradient_l1(recon, clip) + aux
        (loss * n / batch).backward()
        done += n
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    with torch.no_grad():
        torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - 0.999)


def peak_rss_mib():
    # VmHWM starts afresh at exec; ru_maxrss keeps the peak of the process image exec replaced (here the forked
    # hv-bench, which may already have grown), so it is the fallback only where /proc is missing.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


for _ in range(2):
    step()
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1000)
times.sort()
print(json.dumps({"ms_per_step": times[len(times) // 2], "min_ms": times[0], "threads": threads, "precision": precision, "micro": micro,
                  "maxrss_mb": peak_rss_mib(),
                  "params": sum(p.numel() for p in params)}))
