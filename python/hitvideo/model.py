"""The hierarchical tokenizer as torch.nn.Modules (Sources/HVTokenizer: Encoder3D, ResBlock3D, TokenLayer,
HierarchicalTokenizer, Decoder3D, Shortcuts; paper section 3.2).

Layout: PyTorch's [B, C, T, H, W]; conv weights are held as PyTorch's [Cout, Cin, kt, kh, kw] and turned into the
Swift engine's [kt, kh, kw, Cin, Cout] only in checkpoint.py. Every state_dict key is the Swift parameter name, so a
checkpoint maps one to one. Operations follow HVEngine exactly: causal convs that repeat the first frame into the
past (and the last past the end), "same" zero padding in space, GroupNorm with statistics per frame, RMSNorm over
the channels of a position, nearest up-sampling, non-overlapping average pooling.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import TokenizerConfig


class CausalConv3d(nn.Module):
    """Conv3d.swift: output frame t sees input frames up to (t+1)·st − 1 + lookahead; frames before the first repeat
    the first, frames after the last repeat the last. T' = ceil(T/st); space "same" with (k−1)/2 zeros each side."""

    def __init__(self, cin, cout, kernel, stride=(1, 1, 1), lookahead=0):
        super().__init__()
        self.kernel, self.stride, self.lookahead = tuple(kernel), tuple(stride), lookahead
        self.weight = nn.Parameter(torch.empty(cout, cin, *kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        # Kaiming-uniform for SiLU, as the Swift engine: U(−b, b), b = sqrt(6 / fan_in).
        bound = math.sqrt(6.0 / (cin * kernel[0] * kernel[1] * kernel[2]))
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)

    def forward(self, x):
        kt, st = self.kernel[0], self.stride[0]
        T = x.shape[2]
        out_t = -(-T // st)
        first = st - kt + self.lookahead
        idx = torch.arange(first, (out_t - 1) * st + kt + first, device=x.device).clamp_(0, T - 1)
        if idx.numel() != T or bool((idx != torch.arange(T, device=x.device)).any()):
            x = x.index_select(2, idx)
        pad = ((self.kernel[1] - 1) // 2, (self.kernel[2] - 1) // 2)
        return F.conv3d(x, self.weight, self.bias, self.stride, (0, pad[0], pad[1]))


class RMSNorm(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps) * self.weight.view(1, -1, 1, 1, 1)


class FrameGroupNorm(nn.Module):
    """GroupNorm with statistics per frame (over H, W and the group's channels), eps 1e-6: statistics over all
    frames would leak future frames into earlier latents."""

    def __init__(self, c, groups, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.groups, self.eps = groups, eps

    def forward(self, x):
        B, C, T, H, W = x.shape
        g = x.view(B, self.groups, C // self.groups, T, H, W)
        mean = g.mean(dim=(2, 4, 5), keepdim=True)
        var = (g - mean).pow(2).mean(dim=(2, 4, 5), keepdim=True)
        y = ((g - mean) * torch.rsqrt(var + self.eps)).view(B, C, T, H, W)
        return y * self.weight.view(1, -1, 1, 1, 1) + self.bias.view(1, -1, 1, 1, 1)


def block_norm(c, cfg: TokenizerConfig):
    return RMSNorm(c, cfg.norm_epsilon) if cfg.norm == "rms" else FrameGroupNorm(c, cfg.norm_groups)


class ColourShortcut(nn.Module):
    """y[j] = mean of x[i] over i ≡ j (mod 3) (Shortcuts.swift): no parameters, a fixed [Cout, Cin] matrix."""

    def __init__(self, cin, cout):
        super().__init__()
        m = torch.zeros(cout, cin)
        counts = [len(range(k, cin, 3)) for k in range(3)]
        for j in range(cout):
            for i in range(j % 3, cin, 3):
                m[j, i] = 1.0 / counts[j % 3]
        self.register_buffer("matrix", m, persistent=False)

    def forward(self, x):
        return torch.einsum("oi,bithw->bothw", self.matrix, x)


def space_to_depth(x, f):
    """[B, C, T, H, W] → [B, ft·fh·fw·C, T/ft, H/fh, W/fw], channel order (ft, fh, fw, C), C fastest."""
    b, c, t, h, w = x.shape
    x = x.reshape(b, c, t // f[0], f[0], h // f[1], f[1], w // f[2], f[2])
    return x.permute(0, 3, 5, 7, 1, 2, 4, 6).reshape(b, c * f[0] * f[1] * f[2], t // f[0], h // f[1], w // f[2])


def depth_to_space(x, f):
    b, cd, t, h, w = x.shape
    c = cd // (f[0] * f[1] * f[2])
    x = x.reshape(b, f[0], f[1], f[2], c, t, h, w)
    return x.permute(0, 4, 5, 1, 6, 2, 7, 3).reshape(b, c, t * f[0], h * f[1], w * f[2])


def upsample(x, f):
    if tuple(f) == (1, 1, 1):
        return x
    return x.repeat_interleave(f[0], 2).repeat_interleave(f[1], 3).repeat_interleave(f[2], 4)


def avg_pool(x, f):
    return x if tuple(f) == (1, 1, 1) else F.avg_pool3d(x, f)


class ResBlock3D(nn.Module):
    """Norm → SiLU → Conv 3×3×3 → Norm → SiLU → Conv 3×3×3, plus the input."""

    def __init__(self, c, cfg):
        super().__init__()
        self.norm1, self.conv1 = block_norm(c, cfg), CausalConv3d(c, c, (3, 3, 3))
        self.norm2, self.conv2 = block_norm(c, cfg), CausalConv3d(c, c, (3, 3, 3))
        with torch.no_grad():
            self.conv2.weight.mul_(0.0 if cfg.shortcuts else 0.1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class Encoder3D(nn.Module):
    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        self.patch, sc = cfg.patch, cfg.shortcuts
        c0 = cfg.stages[0][0]
        self.stem = CausalConv3d(3 * math.prod(cfg.patch), c0, (1, 1, 1))
        self.stem_shortcut = ColourShortcut(3, c0) if sc else None
        self.downs_f = []
        for i, (c, blocks, down) in enumerate(cfg.stages):
            stage = nn.Module()
            for b in range(blocks):
                setattr(stage, f"block{b}", ResBlock3D(c, cfg))
            if down != (1, 1, 1):
                stage.down = CausalConv3d(c, cfg.stages[i + 1][0], (3, 3, 3), down)
                stage.down_shortcut = ColourShortcut(c, cfg.stages[i + 1][0]) if sc else None
            setattr(self, f"stage{i}", stage)
            self.downs_f.append(down)
        self.blocks_per_stage = [b for _, b, _ in cfg.stages]
        last = cfg.stages[-1][0]
        self.norm_out = block_norm(last, cfg) if cfg.output_norm else None
        self.proj_out = CausalConv3d(last, cfg.latent_channels, (1, 1, 1))
        self.out_shortcut = ColourShortcut(last, cfg.latent_channels) if sc else None
        if sc:
            with torch.no_grad():
                self.stem.weight.mul_(0.1)
                for i in range(len(cfg.stages)):
                    d = getattr(getattr(self, f"stage{i}"), "down", None)
                    if d is not None:
                        d.weight.mul_(0.1)
                self.proj_out.weight.zero_()

    def forward(self, x):
        h = self.stem(space_to_depth(x, self.patch))
        if self.stem_shortcut is not None:
            h = h + self.stem_shortcut(avg_pool(x, self.patch))
        for i, n in enumerate(self.blocks_per_stage):
            stage = getattr(self, f"stage{i}")
            for b in range(n):
                h = getattr(stage, f"block{b}")(h)
            if hasattr(stage, "down"):
                y = stage.down(h)
                h = y + stage.down_shortcut(avg_pool(h, self.downs_f[i])) if stage.down_shortcut is not None else y
        g = self.norm_out(h) if self.norm_out is not None else h
        z = self.proj_out(F.silu(g))
        return z + self.out_shortcut(h) if self.out_shortcut is not None else z


class Decoder3D(nn.Module):
    """Mirrors the encoder, deepest stage first; nearest up-sampling then a causal 3×3×3 conv between stages, and
    with `frame_branches` a zero-initialised channel-to-time branch beside each that doubles time (FrameBranch in
    Decoder3D.swift)."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        sc = cfg.shortcuts
        stages = list(reversed(cfg.decoder_stages))
        self.patch = cfg.patch
        self.conv_in = CausalConv3d(cfg.latent_channels, stages[0][0], (3 + cfg.lookahead, 3, 3), lookahead=cfg.lookahead)
        self.in_shortcut = ColourShortcut(cfg.latent_channels, stages[0][0]) if sc else None
        self.ups_f, self.blocks_per_stage = [], []
        for i, (c, blocks, _) in enumerate(stages):
            stage = nn.Module()
            for b in range(blocks):
                setattr(stage, f"block{b}", ResBlock3D(c, cfg))
            if i + 1 < len(stages):
                nxt, f = stages[i + 1][0], stages[i + 1][2]
                stage.up = CausalConv3d(c, nxt, (3, 3, 3))
                stage.up_shortcut = ColourShortcut(c, nxt) if sc else None
                stage.frames = CausalConv3d(c, nxt * f[0], (1, 3, 3)) if cfg.frame_branches and f[0] > 1 else None
                if stage.frames is not None:
                    with torch.no_grad():
                        stage.frames.weight.zero_()
                self.ups_f.append(f)
            else:
                self.ups_f.append(None)
            setattr(self, f"stage{i}", stage)
            self.blocks_per_stage.append(blocks)
        last = stages[-1][0]
        self.norm_out = block_norm(last, cfg) if cfg.output_norm else None
        self.head = CausalConv3d(last, 3 * math.prod(cfg.patch), (1, 3, 3))
        self.head_shortcut = ColourShortcut(last, 3 * math.prod(cfg.patch)) if sc else None
        if sc:
            with torch.no_grad():
                self.conv_in.weight.mul_(0.1)
                for i in range(len(stages) - 1):
                    getattr(self, f"stage{i}").up.weight.mul_(0.1)
                self.head.weight.zero_()

    def forward(self, z):
        h = self.conv_in(z)
        if self.in_shortcut is not None:
            h = h + self.in_shortcut(z)
        for i, n in enumerate(self.blocks_per_stage):
            stage = getattr(self, f"stage{i}")
            for b in range(n):
                h = getattr(stage, f"block{b}")(h)
            if self.ups_f[i] is not None:
                f = self.ups_f[i]
                y = stage.up(upsample(h, f))
                if stage.up_shortcut is not None:
                    y = y + upsample(stage.up_shortcut(h), f)
                if stage.frames is not None:
                    y = y + upsample(depth_to_space(stage.frames(h), (f[0], 1, 1)), (1, f[1], f[2]))
                h = y
        g = self.norm_out(h) if self.norm_out is not None else h
        y = self.head(F.silu(g))
        if self.head_shortcut is not None:
            y = y + self.head_shortcut(h)
        return depth_to_space(y, self.patch)


class TokenLayer(nn.Module):
    """down: avg-pool → conv (1,k,k) C→bits → per-token RMS normalisation → LFQ; up: conv 1×1×1 → nearest
    up-sampling → causal 3×3×3 conv (TokenLayer.swift)."""

    def __init__(self, index, cfg: TokenizerConfig):
        super().__init__()
        self.index, self.bits, self.pool = index, cfg.layers[index][2], cfg.pool(index)
        C = cfg.latent_channels
        k = 1 if index > 0 and cfg.pointwise_coarse_down else 3
        self.down = CausalConv3d(C, self.bits, (1, k, k))
        self.up_proj = CausalConv3d(self.bits, C, (1, 1, 1))
        self.up_conv = CausalConv3d(C, C, (3, 3, 3))
        self.mask_embedding = nn.Parameter(torch.zeros(self.bits))
        if cfg.shortcuts:
            with torch.no_grad():
                self.up_conv.weight.zero_()

    def project(self, r):
        """Residual [B, C, T, H, W] → normalised pre-quantisation activations [B, bits, t, h, w]."""
        e = self.down(avg_pool(r, self.pool))
        return e * torch.rsqrt(e.pow(2).mean(dim=1, keepdim=True) + 1e-6)

    def expand(self, q):
        return self.up_conv(upsample(self.up_proj(q), self.pool))


def codes_to_indices(e):
    """[B, bits, t, h, w] → int64 [B, t, h, w]: Σ_i bit_i·2^i, bit i set when channel i is positive."""
    w = (1 << torch.arange(e.shape[1], device=e.device, dtype=torch.int64)).view(1, -1, 1, 1, 1)
    return ((e > 0).to(torch.int64) * w).sum(dim=1)


def indices_to_codes(idx, bits):
    """int64 [B, t, h, w] → ±1 float [B, bits, t, h, w]."""
    b = (idx.unsqueeze(1) >> torch.arange(bits, device=idx.device).view(1, -1, 1, 1, 1)) & 1
    return b.to(torch.float32) * 2 - 1


def _softplus_entropy(a):
    """Binary entropy of σ(a), written so that its gradient is exactly −a·σ(a)(1−σ(a)) (LFQ.swift's)."""
    s = torch.sigmoid(a)
    return F.softplus(a) - a * s


def _half_distribution(p):
    """Product distribution over the 2^m codes of bits p [..., N, m], bit j of the code being bit j."""
    d = torch.ones(*p.shape[:-1], 1, dtype=p.dtype, device=p.device)
    for j in range(p.shape[-1]):
        pj = p[..., j:j + 1]
        d = torch.cat([d * (1 - pj), d * pj], dim=-1)
    return d


EXACT_ENTROPY_LIMIT = 18


def lfq_losses(e, temperature=1.0, per_sample=False):
    """LFQ auxiliary terms of e [B, bits, ...] (LFQ.swift): (commitment mean((e − sg(sign e))²), per-sample entropy
    E_n H(p_n), codebook entropy H(E_n p_n)); p(bit = +1) = σ(4·e/τ). The codebook entropy is exact for ≤ 18 bits
    (low/high halves, one matrix product) and the sum of the bit marginals' entropies above. With `per_sample`
    each term is a [B] vector over the batch's samples, each sample its own codebook distribution (as Swift, which
    runs a batch's samples one at a time), in one batched pass: a loop over the samples made a GPU step wait on
    kernel launches, not arithmetic (docs/gpu-run.md)."""
    bits = e.shape[1]
    x = e.movedim(1, -1).reshape(e.shape[0] if per_sample else 1, -1, bits)
    q = torch.where(x > 0, 1.0, -1.0).detach()
    commit = (x - q).pow(2).mean(dim=(1, 2))
    k = 4.0 / temperature
    a = k * x
    entropy = _softplus_entropy(a).sum(dim=2).mean(dim=1)
    p = torch.sigmoid(a)
    if bits <= EXACT_ENTROPY_LIMIT:
        lo = bits // 2
        A, Bh = _half_distribution(p[..., :lo]), _half_distribution(p[..., lo:])
        P = torch.bmm(A.transpose(1, 2), Bh) / x.shape[1]
        codebook = -(P * torch.log(P.clamp_min(1e-30))).sum(dim=(1, 2))
    else:
        m = p.mean(dim=1)
        codebook = -(m * torch.log(m.clamp_min(1e-12)) + (1 - m) * torch.log((1 - m).clamp_min(1e-12))).sum(dim=1)
    if per_sample:
        return commit, entropy, codebook
    return commit[0], entropy[0], codebook[0]


class HierarchicalTokenizer(nn.Module):
    """encode: video → encoder → latent z; layers coarsest first: r = z; codes_m = LFQ(down_m(r));
    u_m = up_m(codes_m); r ← r − sg(u_m). decode: ẑ = Σ u_m over the given layers → decoder → video."""

    def __init__(self, cfg: TokenizerConfig, seed=None):
        super().__init__()
        if seed is not None:
            torch.manual_seed(seed)
        self.config = cfg
        self.encoder = Encoder3D(cfg)
        self.hierarchy = nn.ModuleDict({str(i): TokenLayer(i, cfg) for i in range(len(cfg.layers))})
        self.decoder = Decoder3D(cfg)
        self.tokens_of = None  # name@sha256 of the checkpoint whose tokens this one keeps (frozen-token fine-tune)

    @property
    def layers(self):
        return [self.hierarchy[str(i)] for i in range(len(self.hierarchy))]

    def token_parameters(self):
        """What decides the tokens: encoder, every down path, the up paths of all but the densest layer."""
        ps = list(self.encoder.parameters())
        for i, l in enumerate(self.layers):
            ps += list(l.down.parameters())
            if i > 0:
                ps += list(l.up_proj.parameters()) + list(l.up_conv.parameters())
        return ps

    def render_parameters(self):
        l0 = self.layers[0]
        return (list(l0.up_proj.parameters()) + list(l0.up_conv.parameters())
                + [l.mask_embedding for l in self.layers] + list(self.decoder.parameters()))

    def forward(self, x, finest=0, hardness=1.0, subtraction=1.0, mask_fraction=0.0, generator=None):
        """Training pass (HierarchicalTokenizer.forward): x [B, 3, T, H, W] in [−1, 1] → (reconstruction, per-layer
        dicts of pre (the normalised pre-quantisation activations e, for lfq_losses), residual (unweighted
        mean((u − sg r)²)) and indices; None for the layers a coarse-only step leaves out). The decoder sees
        e + hardness·(sign e − e) with the gradient straight through; with mask_fraction, that share of layer 0's
        tokens (never in its first latent frame) is replaced by the learned mask embedding."""
        z = self.encoder(x)
        zhat = torch.zeros_like(z)
        stats = [None] * len(self.layers)
        r = z
        for m in reversed(range(finest, len(self.layers))):
            layer = self.layers[m]
            e = layer.project(r)
            sign = torch.where(e > 0, 1.0, -1.0)
            q = e + (hardness * (sign - e)).detach()
            if m == 0 and mask_fraction > 0:
                plane = e.shape[3] * e.shape[4]
                u = torch.rand(e.shape[0], 1, *e.shape[2:], generator=generator)
                masked = u < mask_fraction
                masked.view(e.shape[0], -1)[:, :plane] = False
                q = torch.where(masked, layer.mask_embedding.view(1, -1, 1, 1, 1), q)
            u = layer.expand(q)
            stats[m] = {"pre": e, "residual": (u - r.detach()).pow(2).mean(), "indices": codes_to_indices(e.detach())}
            zhat = zhat + u
            if m > finest:
                r = r - subtraction * u.detach()
        return self.decoder(zhat), stats

    def _encoder_input(self, x):
        s = self.config.encoder_size
        if s and x.shape[-1] == self.config.frame_size and (s != x.shape[-2] or s != x.shape[-1]):
            b, c, t, h, w = x.shape
            y = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
            y = F.interpolate(y, size=(s, s), mode="bilinear", align_corners=False, antialias=False)
            x = y.reshape(b, t, c, s, s).permute(0, 2, 1, 3, 4)
        return x

    @torch.no_grad()
    def encode(self, x, return_latent=False):
        """x [B, 3, T, H, W] in [−1, 1] → token indices per layer, densest first, each int64 [B, t, h, w]. With
        return_latent also the pre-quantisation activations per layer (to measure how close to 0 a flipped bit is)."""
        z = self.encoder(self._encoder_input(x))
        r, idx, pre = z, [None] * len(self.layers), [None] * len(self.layers)
        for m in reversed(range(len(self.layers))):
            layer = self.layers[m]
            e = layer.project(r)
            idx[m], pre[m] = codes_to_indices(e), e
            if m > 0:
                r = r - layer.expand(torch.where(e > 0, 1.0, -1.0))
        return (idx, pre) if return_latent else idx

    @torch.no_grad()
    def decode(self, indices, frames, height, width, masks=None, strategy="repeat"):
        """indices: per layer (densest first) int64 [B, t, h, w] or None (layer not used); masks likewise bool or
        None; strategy: how masked tokens are filled (repeat: the same token one latent frame earlier; zero; learned).
        → video [B, 3, frames, height, width], unclamped."""
        cfg = self.config
        d = cfg.total_down
        h, w = height, width
        if cfg.encoder_size and height == cfg.frame_size and width == cfg.frame_size:
            h = w = cfg.encoder_size
        B = next(i for i in indices if i is not None).shape[0]
        dev = next(i for i in indices if i is not None).device
        zhat = torch.zeros(B, cfg.latent_channels, frames // d[0], h // d[1], w // d[2], device=dev)
        for m in reversed(range(len(self.layers))):
            if indices[m] is None:
                continue
            layer = self.layers[m]
            idx = indices[m].clone()
            mask = None if masks is None else masks[m]
            if mask is not None and strategy == "repeat":
                for t in range(1, idx.shape[1]):
                    idx[:, t] = torch.where(mask[:, t], idx[:, t - 1], idx[:, t])
            q = indices_to_codes(idx, layer.bits)
            if mask is not None and strategy in ("zero", "learned"):
                fill = torch.zeros(layer.bits, device=dev) if strategy == "zero" else layer.mask_embedding
                q = torch.where(mask.unsqueeze(1), fill.view(1, -1, 1, 1, 1), q)
            zhat = zhat + layer.expand(q)
        y = self.decoder(zhat)
        if (h, w) != (height, width):
            b, c, t = y.shape[:3]
            y2 = y.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
            y2 = F.interpolate(y2, size=(height, width), mode="bilinear", align_corners=False, antialias=False)
            y = y2.reshape(b, t, c, height, width).permute(0, 2, 1, 3, 4)
        return y
