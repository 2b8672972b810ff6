#!/usr/bin/env python3
"""Golden tensors for the conv half of HVEngine, from PyTorch CPU (float64 math on float32 inputs).

Writes Golden/conv/<case>.<tensor>.f32 (raw little-endian float32, row-major, OUR layouts) and
Golden/conv/index.json ({case: {"params": {...}, "tensors": {name: shape}}}).
Our layouts: x [T, H, W, C]; conv weight [kt, kh, kw, Cin, Cout]. Torch: [N, C, T, H, W], [Cout, Cin, kt, kh, kw].
Causal conv as Conv3d.swift defines it: output t's window ends at input frame t*st + st - 1, so the clip is
padded with kt - st frames before frame 0 (replicate frame 0, or zeros); "same" zero padding in space.
Clip lengths are multiples of the temporal stride (no end-of-clip repetition).
Run: python3 Tests/HVEngineTests/Golden/make_golden_conv.py   (torch 2.13.0+cpu was used)
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261125)
index = {}


def rand(*shape, std=1.0):
    return (rng.standard_normal(shape) * std).astype(np.float32)


def save(case, params, tensors):
    entry = {"params": params, "tensors": {}}
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(np.asarray(arr, dtype=np.float32))
        arr.astype("<f4").tofile(os.path.join(OUT, f"{case}.{name}.f32"))
        entry["tensors"][name] = list(arr.shape)
    index[case] = entry


def to_torch_video(x):  # [T, H, W, C] -> [1, C, T, H, W], float64, requires grad
    return torch.tensor(x, dtype=torch.float64).permute(3, 0, 1, 2).unsqueeze(0).contiguous().requires_grad_(True)


def from_torch_video(t):  # [1, C, T, H, W] -> [T, H, W, C]
    return t.detach()[0].permute(1, 2, 3, 0).numpy()


def conv_case(case, shape, cout, kernel, stride, padding):
    kt, kh, kw = kernel
    x = rand(*shape)
    w = rand(kt, kh, kw, shape[3], cout, std=0.3)
    b = rand(cout)
    xt = to_torch_video(x)
    wt = torch.tensor(w, dtype=torch.float64).permute(4, 3, 0, 1, 2).contiguous().requires_grad_(True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    front = kt - stride[0]
    assert front >= 0 and shape[0] % stride[0] == 0
    if front > 0:
        if padding == "replicate":
            xp = torch.cat([xt[:, :, :1]] * front + [xt], dim=2)
        else:
            xp = F.pad(xt, (0, 0, 0, 0, front, 0))
    else:
        xp = xt
    y = F.conv3d(xp, wt, bt, stride=stride, padding=(0, kh // 2, kw // 2))
    dy = rand(*from_torch_video(y).shape)
    y.backward(to_torch_video(dy).detach())
    save(case, {"kernel": list(kernel), "stride": list(stride), "padding": padding},
         {"x": x, "weight": w, "bias": b, "dy": dy, "y": from_torch_video(y),
          "dx": from_torch_video(xt.grad), "dweight": wt.grad.permute(2, 3, 4, 1, 0).numpy(), "dbias": bt.grad.numpy()})


def group_norm_case(case, shape, groups, statistics):
    x = rand(*shape) * 2 + 0.5
    g = rand(shape[3])
    b = rand(shape[3])
    xt = to_torch_video(x)
    gt = torch.tensor(g, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    if statistics == "perFrame":
        # torch group_norm applied frame by frame: [T, C, H, W] with T as the batch.
        frames = xt[0].permute(1, 0, 2, 3)
        y = F.group_norm(frames, groups, gt, bt, eps=1e-6).permute(1, 0, 2, 3).unsqueeze(0)
    else:
        y = F.group_norm(xt, groups, gt, bt, eps=1e-6)
    dy = rand(*shape)
    y.backward(to_torch_video(dy).detach())
    save(case, {"groups": groups, "statistics": statistics, "eps": 1e-6},
         {"x": x, "gain": g, "bias": b, "dy": dy, "y": from_torch_video(y), "dx": from_torch_video(xt.grad),
          "dgain": gt.grad.numpy(), "dbias": bt.grad.numpy()})


def activation_case(case, fn):
    x = np.concatenate([np.linspace(-6, 6, 49, dtype=np.float32), rand(31, std=2)])
    dy = rand(x.shape[0])
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = fn(xt)
    y.backward(torch.tensor(dy, dtype=torch.float64))
    save(case, {}, {"x": x, "dy": dy, "y": y.detach().numpy(), "dx": xt.grad.numpy()})


conv_case("conv_k333_s111_replicate", (5, 6, 7, 3), 4, (3, 3, 3), (1, 1, 1), "replicate")
conv_case("conv_k333_s222_zero", (6, 6, 7, 4), 5, (3, 3, 3), (2, 2, 2), "zero")
conv_case("conv_k333_s122_replicate", (4, 8, 6, 6), 8, (3, 3, 3), (1, 2, 2), "replicate")
conv_case("conv_k133_s111_replicate", (3, 5, 5, 4), 3, (1, 3, 3), (1, 1, 1), "replicate")
conv_case("conv_k311_s211_replicate", (6, 3, 4, 5), 4, (3, 1, 1), (2, 1, 1), "replicate")
conv_case("conv_k111_s111_zero", (2, 3, 4, 6), 7, (1, 1, 1), (1, 1, 1), "zero")
group_norm_case("groupnorm_perframe", (3, 4, 5, 8), 4, "perFrame")
group_norm_case("groupnorm_allframes", (3, 4, 5, 8), 2, "overAllFrames")
activation_case("gelu_exact", lambda t: F.gelu(t))
activation_case("gelu_tanh", lambda t: F.gelu(t, approximate="tanh"))
activation_case("silu", F.silu)
activation_case("sigmoid", torch.sigmoid)

with open(os.path.join(OUT, "index.json"), "w") as f:
    json.dump(index, f, indent=1, sort_keys=True)
print(f"wrote {len(index)} cases to {OUT}")
