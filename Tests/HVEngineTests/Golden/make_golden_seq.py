#!/usr/bin/env python3
"""Golden tensors for the sequence half of HVEngine, from PyTorch CPU (float64 math, stored as F32).

Run once from the package root:  python3 Tests/HVEngineTests/Golden/make_golden_seq.py
Writes small safetensors files next to this script (written by the `safetensors` package itself, so they
also test our reader). Conventions mirrored from the Swift code:
  - attention q/k/v/o: [B, S, heads, headDim], scale 1/sqrt(headDim), causal;
  - RoPE: "rotate half" within each section of the head dim; section of n dims pairs (i, i + n/2) with
    frequency base^(-2i/n); 3D sections (t, h, w) = (D - 2*2*floor(D/6), 2*floor(D/6), 2*floor(D/6));
  - LFQ: bit i = channel i > 0, code distribution softmax(2 x.c / tau) over all c in {-1,1}^d (explicit);
  - cross-entropy: sum_n w_n ce_n / sum_n w_n over targets != ignore_index.
"""
import math, os
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(1234)


def f32(d):
    return {k: (v.detach().to(torch.float32).contiguous() if v.is_floating_point() else v.contiguous()) for k, v in d.items()}


def attention():
    B, S, H, D = 2, 7, 3, 8
    q, k, v, dy = (torch.randn(B, S, H, D, dtype=torch.float64) for _ in range(4))
    q.requires_grad_(); k.requires_grad_(); v.requires_grad_()
    o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True).transpose(1, 2)
    (o * dy).sum().backward()
    save_file(f32(dict(q=q, k=k, v=v, dy=dy, o=o, dq=q.grad, dk=k.grad, dv=v.grad)), os.path.join(HERE, "seq_attention.safetensors"))


def norms():
    N, C = 5, 12
    out = {}
    for kind, eps in (("layernorm", 1e-5), ("rmsnorm", 1e-6)):
        x = torch.randn(N, C, dtype=torch.float64, requires_grad=True)
        w = (1 + 0.3 * torch.randn(C, dtype=torch.float64)).requires_grad_()
        b = (0.2 * torch.randn(C, dtype=torch.float64)).requires_grad_()
        dy = torch.randn(N, C, dtype=torch.float64)
        if kind == "layernorm":
            y = F.layer_norm(x, (C,), w, b, eps)
        else:
            y = x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w
        (y * dy).sum().backward()
        d = {f"{kind}.x": x, f"{kind}.w": w, f"{kind}.dy": dy, f"{kind}.y": y, f"{kind}.dx": x.grad, f"{kind}.dw": w.grad}
        if kind == "layernorm":
            d.update({f"{kind}.b": b, f"{kind}.db": b.grad})
        out.update(d)
    save_file(f32(out), os.path.join(HERE, "seq_norms.safetensors"))


def rope_apply(x, pos, sections, base):
    # x [S, H, D]; pos [S, len(sections)]
    outs, off = [], 0
    for k, n in enumerate(sections):
        seg = x[..., off:off + n]
        half = n // 2
        freq = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / n)
        ang = pos[:, k:k + 1].to(torch.float64) * freq[None, :]          # [S, half]
        c, s = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
        a, b = seg[..., :half], seg[..., half:]
        outs += [a * c - b * s, b * c + a * s]
        off += n
    # reassemble section by section: [a', b'] per section
    res, i = [], 0
    for n in sections:
        res += [outs[i], outs[i + 1]]; i += 2
    return torch.cat(res, dim=-1)


def rope():
    out = {}
    S, H, D = 6, 2, 16
    x = torch.randn(S, H, D, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(S, H, D, dtype=torch.float64)
    pos = torch.arange(S)[:, None] + 3
    y = rope_apply(x, pos, [D], 10000.0)
    (y * dy).sum().backward()
    out.update({"rope1d.x": x, "rope1d.dy": dy, "rope1d.y": y, "rope1d.dx": x.grad, "rope1d.pos": pos.to(torch.float32)})
    S, H, D = 8, 2, 32
    hw = 2 * (D // 6)
    sections = [D - 2 * hw, hw, hw]
    x = torch.randn(S, H, D, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(S, H, D, dtype=torch.float64)
    pos = torch.randint(0, 9, (S, 3))
    y = rope_apply(x, pos, sections, 10000.0)
    (y * dy).sum().backward()
    out.update({"rope3d.x": x, "rope3d.dy": dy, "rope3d.y": y, "rope3d.dx": x.grad, "rope3d.pos": pos.to(torch.float32)})
    save_file(f32(out), os.path.join(HERE, "seq_rope.safetensors"))


def cross_entropy():
    N, V, ignore = 9, 11, -100
    logits = (2 * torch.randn(N, V, dtype=torch.float64)).requires_grad_()
    targets = torch.randint(0, V, (N,))
    targets[2] = ignore; targets[6] = ignore
    w = torch.rand(N, dtype=torch.float64) + 0.5
    ce = F.cross_entropy(logits, targets, ignore_index=ignore, reduction="none")
    keep = (targets != ignore).to(torch.float64)
    loss = (ce * w * keep).sum() / (w * keep).sum()
    loss.backward()
    save_file(f32({"logits": logits, "targets": targets.to(torch.float32), "weights": w, "loss": loss.reshape(1),
                   "dlogits": logits.grad}), os.path.join(HERE, "seq_crossentropy.safetensors"))


def lfq():
    N, d, tau = 16, 6, 0.5
    wc, we, gamma = 0.25, 0.1, 1.0
    x = (0.5 * torch.randn(N, d, dtype=torch.float64)).requires_grad_()
    dq = torch.randn(N, d, dtype=torch.float64)
    sign = torch.where(x > 0, 1.0, -1.0).to(torch.float64)
    q = x + (sign - x).detach()                                   # straight-through
    idx = ((x > 0).long() * (2 ** torch.arange(d))).sum(-1)
    commit = ((x - q.detach()) ** 2).mean()
    codes = torch.tensor([[1.0 if (c >> i) & 1 else -1.0 for i in range(d)] for c in range(2 ** d)], dtype=torch.float64)
    prob = torch.softmax(2 * x @ codes.T / tau, dim=-1)          # [N, 2^d], the explicit code distribution
    hs = -(prob * torch.log(prob)).sum(-1).mean()
    avg = prob.mean(0)
    hc = -(avg * torch.log(avg)).sum()
    total = (q * dq).sum() + wc * commit + we * (hs - gamma * hc)
    total.backward()
    save_file(f32({"x": x, "dq": dq, "q": q, "indices": idx.to(torch.float32), "commit": commit.reshape(1),
                   "sample_entropy": hs.reshape(1), "codebook_entropy": hc.reshape(1), "dx": x.grad,
                   "params": torch.tensor([tau, wc, we, gamma])}), os.path.join(HERE, "seq_lfq.safetensors"))


def adamw():
    p1 = torch.randn(4, 3, dtype=torch.float64)
    p2 = torch.randn(3, dtype=torch.float64)
    w1, w2 = p1.clone().requires_grad_(), p2.clone().requires_grad_()
    opt = torch.optim.AdamW([{"params": [w1], "weight_decay": 0.1}, {"params": [w2], "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    out = {"p1.init": p1, "p2.init": p2}
    for s in range(3):
        g1, g2 = torch.randn(4, 3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
        w1.grad, w2.grad = g1.clone(), g2.clone()
        opt.step()
        out[f"p1.grad{s}"], out[f"p2.grad{s}"] = g1, g2
    out["p1.final"], out["p2.final"] = w1.detach(), w2.detach()
    save_file(f32(out), os.path.join(HERE, "seq_adamw.safetensors"))


def python_safetensors():
    # Mixed dtypes as written by the reference implementation, with reference values in F32.
    a = torch.randn(3, 5)
    b = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.1e-5, 5.96e-8, 1 / 3.0, float("inf")], dtype=torch.float16)
    c = torch.tensor([[1.0, -3.140625], [1e30, -1e-30], [0.1, 7.0]], dtype=torch.bfloat16)
    ids = torch.arange(12, dtype=torch.int64).reshape(1, 12)
    save_file({"a.f32": a, "b.f16": b, "c.bf16": c, "embeddings.position_ids": ids, "empty": torch.zeros(0, 4)},
              os.path.join(HERE, "seq_python_mixed.safetensors"), metadata={"format": "pt", "note": "golden"})
    save_file({"a.f32": a, "b.f16": b.float(), "c.bf16": c.float()}, os.path.join(HERE, "seq_python_mixed_ref.safetensors"))
    # Rounding references: Float32 values -> F16 / BF16 by torch (round to nearest even).
    r = torch.cat([torch.randn(64) * 10, torch.tensor([65519.0, 65520.0, 1e-8, 3e-5, 1.0009765625, 1.00048828125])])
    save_file({"values": r, "as_f16": r.half().float(), "as_bf16": r.bfloat16().float()},
              os.path.join(HERE, "seq_rounding.safetensors"))


if __name__ == "__main__":
    attention(); norms(); rope(); cross_entropy(); lfq(); adamw(); python_safetensors()
    print("golden files written to", HERE)
