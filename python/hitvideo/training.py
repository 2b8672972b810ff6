"""The training recipe of `hv-train tokenizer` (Sources/HVTokenizer/TokenizerTrainer.swift, GradientLoss.swift,
Discriminator3D.swift, HVEngine/AdamW.swift) for the PyTorch twin: losses, learning-rate schedule, progressive layer
schedule with truncated coarse-only steps, soft-to-hard quantisation warm-up, AdamW with decoupled weight decay on
conv weights only, global-norm clipping, the EMA of the weights, and the clip sampler.

Per sample, the loss is L1 + l2·MSE + perceptual·gradient-L1 + Σ_active layers (entropy·(E H(p) − H(E p)) +
commit·mean((e − sg q)²) + residual·mean((u − sg r)²)) [+ adversarial·hinge-G after adversarialStart]; a batch is the
mean over its samples (the LFQ entropies are per sample, as Swift computes them).
"""
import dataclasses
import math
import os
import random

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .model import CausalConv3d, lfq_losses, space_to_depth
from .y4m import read_y4m


@dataclasses.dataclass
class Options:
    """TokenizerTrainingOptions with hv-train tokenizer's defaults."""
    steps: int = 4000
    lr: float = 4e-4
    warmup_steps: int = 100
    min_lr_fraction: float = 0.1
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    crop: int = 128
    batch: int = 1
    perceptual_weight: float = 0.5
    l2_weight: float = 0.0
    temporal_weight: float = 0.0
    entropy_weight: float = 0.02
    commit_weight: float = 0.25
    entropy_temperature: float = 1.0
    adversarial_weight: float = 0.05
    adversarial_start: float = 0.6
    progressive: tuple = (0.05, 0.12, 0.2)
    truncation: float = 0.25
    quantization_warmup: float = 0.3
    residual_weight: float = 0.0
    mask_training: bool = False
    freeze_tokens: bool = False
    ema: float = 0.0
    lr_scales: tuple = ()          # (prefix, scale) pairs
    subtraction_ramp: int = 0
    seed: int = 1


def learning_rate(o: Options, step: int) -> float:
    """LRSchedule: linear warm-up to the peak, cosine decay to min_lr_fraction · peak at `steps`."""
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    progress = min(1.0, (step - o.warmup_steps) / max(1, o.steps - o.warmup_steps))
    floor = o.lr * o.min_lr_fraction
    return floor + (o.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def finest_layer(o: Options, n_layers: int, step: int, rng: random.Random) -> int:
    """The densest layer trained at `step`: coarsest alone until the first fraction, one more layer at each; once
    all are on, a `truncation` share of steps decodes from a random coarser truncation."""
    finest = n_layers - 1
    for k, f in enumerate(o.progressive):
        if step >= f * o.steps:
            finest = max(0, n_layers - 2 - k)
    if finest == 0 and n_layers > 1 and rng.random() < o.truncation:
        finest = 1 + rng.randrange(n_layers - 1)
    return finest


def gradient_l1(p, t):
    """Mean |Δp − Δt| over horizontal and vertical neighbours at full and (when H, W ≥ 4 and even) half resolution."""
    def one(p, t):
        dx = (p[..., 1:] - p[..., :-1]) - (t[..., 1:] - t[..., :-1])
        dy = (p[..., 1:, :] - p[..., :-1, :]) - (t[..., 1:, :] - t[..., :-1, :])
        return dx.abs().mean() + dy.abs().mean()
    H, W = p.shape[-2:]
    loss = one(p, t)
    if H >= 4 and W >= 4 and H % 2 == 0 and W % 2 == 0:
        loss = loss + one(F.avg_pool3d(p, (1, 2, 2)), F.avg_pool3d(t, (1, 2, 2)))
    return loss


def temporal_l1(p, t, scales=3):
    """Mean |Δₜp − Δₜt| over consecutive frames, at full resolution and 2×2-averaged again up to `scales` scales
    (GradientLoss.temporal in Swift). p, t: [B, 3, T, H, W]."""
    loss = p.new_zeros(())
    for k in range(scales):
        if p.shape[2] < 2:
            break
        loss = loss + ((p[:, :, 1:] - p[:, :, :-1]) - (t[:, :, 1:] - t[:, :, :-1])).abs().mean()
        H, W = p.shape[-2:]
        if not (H >= 2 and W >= 2 and H % 2 == 0 and W % 2 == 0):
            break
        p, t = F.avg_pool3d(p, (1, 2, 2)), F.avg_pool3d(t, (1, 2, 2))
    return loss


class Discriminator3D(nn.Module):
    """Space-to-depth 2×4×4 → conv (1,3,3) → SiLU → two strided 3×3×3 convs with SiLU → 1×1×1 head: one logit per
    spatio-temporal patch. Not part of a checkpoint (its state is in the train state)."""

    def __init__(self, channels=32):
        super().__init__()
        self.conv1 = CausalConv3d(96, channels, (1, 3, 3))
        self.conv2 = CausalConv3d(channels, 2 * channels, (3, 3, 3), (2, 2, 2))
        self.conv3 = CausalConv3d(2 * channels, 2 * channels, (3, 3, 3), (2, 2, 2))
        self.head = CausalConv3d(2 * channels, 1, (1, 1, 1))

    def forward(self, x):
        h = F.silu(self.conv1(space_to_depth(x, (2, 4, 4))))
        h = F.silu(self.conv2(h))
        return self.head(F.silu(self.conv3(h)))


def decays(name, p):
    """AdamW decays conv weights only (biases, norm weights and mask embeddings are `decays: false` in Swift)."""
    return name.endswith(".weight") and p.dim() == 5


def make_optimizer(named_params, o: Options, betas=(0.9, 0.99), weight_decay=None):
    """AdamW with one group per (decay, learning-rate scale); each group's 'scale' multiplies the scheduled rate."""
    wd = o.weight_decay if weight_decay is None else weight_decay
    groups = {}
    for n, p in named_params:
        scale = 1.0
        for prefix, s in o.lr_scales:
            if n.startswith(prefix):
                scale = s
        key = (decays(n, p), scale)
        groups.setdefault(key, []).append(p)
    return torch.optim.AdamW([{"params": ps, "weight_decay": wd if d else 0.0, "scale": s}
                              for (d, s), ps in groups.items()], lr=o.lr, betas=betas, eps=1e-8)


def set_learning_rate(opt, lr):
    for g in opt.param_groups:
        g["lr"] = lr * g["scale"]


def model_loss(model, x, o: Options, finest, hardness, subtraction, mask_fraction=0.0):
    """Loss of a batch x [B, 3, T, H, W] without the adversarial term → (loss, reconstruction, log dict). The LFQ
    entropies are computed per sample and averaged, as Swift runs the samples of a batch one at a time; the image
    losses are means over the batch, which equal the mean of the samples' means (samples are the same size)."""
    recon, stats = model(x, finest=finest, hardness=hardness, subtraction=subtraction,
                         mask_fraction=mask_fraction)
    l1 = (recon - x).abs().mean()
    l2 = (recon - x).pow(2).mean()
    perceptual = gradient_l1(recon, x)
    loss = l1 + o.l2_weight * l2 + o.perceptual_weight * perceptual
    temporal = 0.0
    if o.temporal_weight > 0:
        t = temporal_l1(recon, x)
        loss = loss + o.temporal_weight * t
        temporal = t.item()
    log = {"l1": l1.item(), "perceptual": perceptual.item(), "residual": 0.0, "temporal": temporal,
           "entropy": {}, "commit": {}, "usage": {}}
    for m, s in enumerate(stats):
        if s is None:
            continue
        # Per-sample LFQ terms (the batch's codebook distribution would otherwise mix samples).
        c, h, cb = lfq_losses(s["pre"], o.entropy_temperature, per_sample=True)
        commit = c.mean()
        entropy = (h - cb).mean()
        loss = loss + o.entropy_weight * entropy + o.commit_weight * commit + o.residual_weight * s["residual"]
        log["entropy"][m] = o.entropy_weight * entropy.item()
        log["commit"][m] = commit.item()
        log["residual"] += o.residual_weight * s["residual"].item()
        log["usage"][m] = int(torch.unique(s["indices"][0]).numel())
    return loss, recon, log


class ClipSampler:
    """Random windows of framesPerClip frames from y4m videos held in memory as uint8 RGB, random square crops and
    horizontal flips (ClipDataset.sample). Short videos repeat their last frame. With `sources` (one name per path)
    naming more than one source, a window's source is drawn by `capped_weights` and then a video of that source by
    its length (ClipDataset.setSources); otherwise a video is drawn by its length."""

    def __init__(self, paths, seed, sources=None, kinds=None):
        self.videos, names = [], []
        for i, p in enumerate(paths):
            frames, _ = read_y4m(p)
            if len(frames):
                self.videos.append(frames)
                names.append(sources[i] if sources else "")
        if not self.videos:
            raise ValueError("no frames in the training videos")
        self.lengths = np.array([len(v) for v in self.videos])
        self.rng = np.random.default_rng(seed)
        self.by_source = []
        if len(set(names)) > 1:
            self.weights = capped_weights(names, kinds or {})
            for s in sorted(self.weights):
                idx = [i for i, n in enumerate(names) if n == s]
                if idx:
                    self.by_source.append((self.weights[s], np.array(idx)))

    def pick_video(self):
        idx = np.arange(len(self.videos))
        if self.by_source:
            u, acc = self.rng.random(), 0.0
            idx = self.by_source[-1][1]
            for w, members in self.by_source:
                acc += w
                if u < acc:
                    idx = members
                    break
        pick = int(self.rng.integers(self.lengths[idx].sum()))
        return self.videos[int(idx[np.searchsorted(np.cumsum(self.lengths[idx]), pick, side="right")])]

    def sample(self, frames, crop):
        return pixels_to_tensor(self.sample_pixels(frames, crop))

    def sample_pixels(self, frames, crop):
        """The window `sample` converts, as uint8 [T, crop, crop, 3] (a batch of them can travel to a GPU as bytes)."""
        return np.ascontiguousarray(self._window(*self._draw(frames, crop), frames, crop))

    def sample_batch(self, n, frames, crop, pool=None):
        """n windows, the same as n calls of sample_pixels (the same draws in the same order), as uint8
        [n, T, crop, crop, 3]; `pool` (a concurrent.futures executor) copies them on its threads, since numpy
        lets go of the GIL while it copies: on the H200's host one thread gathered 16 windows of 64×128² in 82 ms,
        longer than the GPU's step, and 16 threads in 16 ms (docs/gpu-run.md)."""
        draws = [self._draw(frames, crop) for _ in range(n)]
        out = np.empty((n, frames, crop, crop, 3), dtype=np.uint8)

        def fill(i):
            out[i] = self._window(*draws[i], frames, crop)
        if pool is None:
            for i in range(n):
                fill(i)
        else:
            list(pool.map(fill, range(n)))
        return out

    def _draw(self, frames, crop):
        v = self.pick_video()
        start = int(self.rng.integers(len(v) - frames + 1)) if len(v) > frames else 0
        H, W = v.shape[1:3]
        cy = int(self.rng.integers(H - crop + 1)) if H > crop else 0
        cx = int(self.rng.integers(W - crop + 1)) if W > crop else 0
        return v, start, cy, cx, bool(self.rng.integers(2))

    @staticmethod
    def _window(v, start, cy, cx, flip, frames, crop):
        idx = np.minimum(np.arange(start, start + frames), len(v) - 1)
        c = v[idx, cy:cy + crop, cx:cx + crop]
        return c[:, :, ::-1] if flip else c


def capped_weights(sources, kinds, max_share=0.25, kind_caps=(("cartoon", 0.10),)):
    """ClipDataset.cappedWeights: every source equal, then each capped kind's sources together at most its cap and no
    source above max_share, the excess spread over the rest in proportion."""
    names = sorted(set(sources))
    w = {n: 1 / len(names) for n in names}
    kind_fixed = set()
    for _ in range(20):
        fixed = set(kind_fixed)
        for kind, cap in kind_caps:
            members = [n for n in names if kinds.get(n) == kind]
            share = sum(w[m] for m in members)
            if share > cap:
                for m in members:
                    w[m] *= cap / share
                    fixed.add(m)
                    kind_fixed.add(m)
        for n in names:
            if w[n] > max_share:
                w[n] = max_share
                fixed.add(n)
        free = [n for n in names if n not in fixed]
        excess = 1 - sum(w.values())
        if abs(excess) < 1e-12:
            break
        if not free:
            open_ = [n for n in names if n not in kind_fixed]
            for n in open_:
                w[n] += excess / len(open_)
            break
        free_total = sum(w[n] for n in free)
        for n in free:
            w[n] += excess * w[n] / free_total
    return w


def source_kinds(items):
    """Source kinds from a sources.tsv (columns source, kind, …) in each --data folder or the folder above it."""
    kinds = {}
    for d in items:
        for f in (os.path.join(d, "sources.tsv"), os.path.join(os.path.dirname(os.path.normpath(d)), "sources.tsv")):
            if os.path.isfile(f):
                with open(f, encoding="utf-8") as fh:
                    for line in fh.read().split("\n")[1:]:
                        cols = line.split("\t")
                        if len(cols) >= 2:
                            kinds[cols[0]] = cols[1]
    return kinds


def pixels_to_tensor(c):
    """uint8 [T, H, W, 3] → [3, T, H, W] as ClipDataset.fill: p · (1/127.5) − 1 in float32."""
    return batch_to_tensor(torch.from_numpy(c)[None])[0]


def batch_to_tensor(u8):
    """uint8 [B, T, H, W, 3] (on any device) → float32 [B, 3, T, H, W]; two rounded operations, as ClipDataset.fill,
    so a batch converted on a GPU holds the same values as one converted here."""
    x = u8.to(torch.float32) * torch.tensor(1 / 127.5, dtype=torch.float32, device=u8.device) - 1
    return x.permute(0, 4, 1, 2, 3).contiguous()


def videos_by_source(items):
    """(path, source) of every training video, as hv-train's expandVideosBySource: a file's source is its folder's
    name; in a folder given, its own files belong to it and each subfolder (but `cache`) is a source of its own."""
    out = []
    for it in items:
        if not os.path.isdir(it):
            out.append((it, os.path.basename(os.path.dirname(os.path.abspath(it)))))
            continue
        top = os.path.basename(os.path.normpath(it))
        out += [(os.path.join(it, f), top) for f in sorted(os.listdir(it)) if f.endswith(".y4m")]
        for name in sorted(os.listdir(it)):
            sub = os.path.join(it, name)
            if os.path.isdir(sub) and name != "cache":
                out += [(p, name) for p in video_paths([sub])]
    return out


def video_paths(items):
    """y4m files, and the .y4m files under folders (recursively, sorted: DIR/SOURCE/*.y4m as hv-train takes them)."""
    out = []
    for it in items:
        if os.path.isdir(it):
            out += sorted(os.path.join(d, f) for d, _, fs in os.walk(it) for f in fs if f.endswith(".y4m"))
        else:
            out.append(it)
    return out
