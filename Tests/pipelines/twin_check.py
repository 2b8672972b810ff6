#!/usr/bin/env python3
"""The PyTorch twin (python/hitvideo) against the Swift tools, for Tests/pipelines/test-twin.sh.

    twin_check.py setup W          fixed clips (W/c256.y4m: 8 frames at 256², W/c32.y4m: 8 frames at 32²) and two
                                   tiny random checkpoints written by the twin (W/init-tiny: GroupNorm; W/init-tiny2x:
                                   RMSNorm, colour shortcuts, wider decoder, lookahead 1, pointwise coarse down convs,
                                   frame branches)
    twin_check.py shipped W MODEL  after hv-encode/hv-render wrote W/swift.hvt and W/swift.y4m: tokens, render and a
                                   byte-identical load → save of the checkpoint; then the same (`variants`) for
                                   W/init-resized (a tiny model with encoderSize, shortcuts, lookahead, no output
                                   norm) and its hv-mask copies under each strategy, each also written again by
                                   the twin's .hvt writer (W/resized-twin*.hvt)
    twin_check.py grads W NAME…    after `hv-train tokenizer --init W/init-NAME --steps 1` wrote W/run-NAME (tiny with
                                   hard codes, tiny2x at the soft start of the quantisation warm-up): the losses
                                   of train.csv and every gradient tensor, read back from the Adam moments of
                                   train-state.safetensors (after one step m = (1 − β1)·g with g clipped)
    twin_check.py same-tokens A B  two .hvt files hold the same tokens
    twin_check.py batched W        what a GPU step runs batched equals what it replaced, per sample: the LFQ terms
                                   (values and gradients), the loss of a batch of two against its samples' mean, and
                                   ClipSampler.sample_batch (on a thread pool) against sample_pixels' windows

Tolerances (measured values are printed; see formats/twin.md):
- tokens: at most 0.1 % of tokens differ, and every differing bit has |e| < 1e-4 in the twin (e: the normalised
  pre-quantisation activation, unit RMS per token), i.e. only a float summation order can have flipped it;
- render: PSNR against the source within 0.01 dB of hv-render's (both y4m files read the same way);
- gradients: every tensor's relative L2 error ‖g_twin − g_swift‖ / ‖g_swift‖ ≤ 1e-4 (measured: under 2e-6), the
  pre-clipping norm and the logged losses within a relative 1e-5 (measured: under 3e-7).
"""
import copy
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from hitvideo import HierarchicalTokenizer, TokenizerConfig, checkpoint, save  # noqa: E402
from hitvideo.config import PRESETS  # noqa: E402
from hitvideo.hvt import read_hvt, write_hvt  # noqa: E402
from hitvideo.tokens import frames_to_tensor, render_clips  # noqa: E402
from hitvideo.model import lfq_losses  # noqa: E402
from hitvideo.training import ClipSampler, Options, model_loss, pixels_to_tensor  # noqa: E402
from hitvideo.y4m import read_y4m, write_y4m  # noqa: E402

torch.set_num_threads(1)
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def synthetic_clip(frames, size, seed):
    """A deterministic clip: gradients, a moving textured disc, 8×8 blocks of noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    noise = rng.random((size // 8, size // 8, 3)).astype(np.float32).repeat(8, 0).repeat(8, 1)
    out = []
    for t in range(frames):
        cx, cy = 0.3 + 0.05 * t, 0.5 + 0.03 * t
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2 < 0.04).astype(np.float32)
        r = 0.5 + 0.4 * np.sin(6 * xx + 0.3 * t) * disc + 0.2 * noise[..., 0]
        g = 0.3 + 0.5 * yy + 0.1 * noise[..., 1]
        b = 0.6 - 0.4 * xx + 0.3 * disc
        out.append(np.clip(np.stack([r, g, b], -1) * 255, 0, 255).astype(np.uint8))
    return np.stack(out)


def setup(w):
    write_y4m(f"{w}/c256.y4m", synthetic_clip(8, 256, 0))
    write_y4m(f"{w}/c32.y4m", synthetic_clip(8, 32, 1))
    wide = copy.deepcopy(PRESETS["tiny2"])
    wide.update(decoderLookahead=1, pointwiseCoarseDown=True, decoderBlocks=[0, 2], frameBranches=True)
    for name, data in [("tiny", copy.deepcopy(PRESETS["tiny"])), ("tiny2x", wide)]:
        m = HierarchicalTokenizer(TokenizerConfig(data), seed=3)
        g = torch.Generator().manual_seed(5)
        with torch.no_grad():
            # Every weight random (the init zeroes some convs), so that every path carries a gradient at step 0.
            for p in m.parameters():
                p.add_(torch.randn(p.shape, generator=g) * (0.1 / p[0].numel() ** 0.5 if p.dim() == 5 else 0.05))
        save(m, f"{w}/init-{name}")
    # Inference paths the shipped model does not take: the encoder's bilinear resize (`encoderSize`, as the
    # `single` baseline), colour shortcuts, decoder lookahead, no output norm, GroupNorm.
    odd = copy.deepcopy(PRESETS["tiny2"])
    odd.update(name="hitvideo-tiny-resized", encoderSize=48, decoderLookahead=1, outputNorm=False,
               layers=[{"name": "L0", "grid": {"t": 2, "h": 6, "w": 6}, "bits": 6},
                       {"name": "L1", "grid": {"t": 1, "h": 3, "w": 3}, "bits": 4}])
    m = HierarchicalTokenizer(TokenizerConfig(odd), seed=4)
    g = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=g) * (0.1 / p[0].numel() ** 0.5 if p.dim() == 5 else 0.05))
    save(m, f"{w}/init-resized")


def psnr(a, b):
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean()
    return 10 * np.log10(255 ** 2 / mse)


def shipped(w, model_dir):
    model = checkpoint.load(model_dir)
    frames, _ = read_y4m(f"{w}/c256.y4m")
    header, clips = read_hvt(f"{w}/swift.hvt")
    cfg = model.config
    idx, pre = model.encode(frames_to_tensor(frames, cfg.frames_per_clip), return_latent=True)
    tokens = differing = 0
    worst = 0.0
    for m, (name, _, bits) in enumerate(cfg.layers):
        mine, theirs = idx[m][0].numpy().astype(np.uint32), clips[0]["layers"][name]
        tokens += mine.size
        diff = mine != theirs
        differing += int(diff.sum())
        if diff.any():
            flips = ((mine ^ theirs)[..., None] >> np.arange(bits, dtype=np.uint32)) & 1   # [t, h, w, bits]
            e = pre[m][0].permute(1, 2, 3, 0).numpy()
            worst = max(worst, float(np.abs(e[flips.astype(bool)]).max()))
    margin = min(float(p.abs().min()) for p in pre)
    print(f"tokens: {differing} of {tokens} differ from hv-encode's; largest |e| of a flipped bit {worst:.2e}; "
          f"smallest |e| of any bit {margin:.2e}")
    check(differing <= 1e-3 * tokens and worst < 1e-4, "twin tokens = hv-encode tokens (shipped model)")
    src, _ = read_y4m(f"{w}/c256.y4m")
    swift, _ = read_y4m(f"{w}/swift.y4m")
    twin_path = f"{w}/twin.y4m"
    write_y4m(twin_path, render_clips(model, header, clips), fps=tuple(header["fps"]))
    twin, _ = read_y4m(twin_path)
    ps, pt = psnr(swift, src), psnr(twin, src)
    same = open(twin_path, "rb").read() == open(f"{w}/swift.y4m", "rb").read()
    print(f"render: PSNR hv-render {ps:.4f} dB, twin {pt:.4f} dB (difference {abs(ps - pt):.5f} dB); "
          f"max pixel difference {int(np.abs(swift.astype(int) - twin).max())}; y4m bytes identical: {same}")
    check(abs(ps - pt) <= 0.01, "twin render within 0.01 dB of hv-render")
    checkpoint.save(model, f"{w}/resaved", storage=model.storage,
                    metadata={k: v for k, v in model.metadata.items() if k not in ("format", "config_name")})
    check(checkpoint.identity(f"{w}/resaved") == checkpoint.identity(model_dir),
          "checkpoint loaded and saved by the twin keeps its bytes and identity")
    variants(w)


def variants(w):
    """W/init-resized on W/c32.y4m: tokens against W/resized.hvt (hv-encode), renders of it and of its masked copies
    W/resized-{repeat,zero,learned}.hvt (hv-mask) against W/resized*.y4m (hv-render)."""
    model = checkpoint.load(f"{w}/init-resized")
    frames, _ = read_y4m(f"{w}/c32.y4m")
    _, clips = read_hvt(f"{w}/resized.hvt")
    idx = model.encode(frames_to_tensor(frames, model.config.frames_per_clip))
    d = sum(int((idx[m][0].numpy() != clips[0]["layers"][n]).sum()) for m, (n, _, _) in enumerate(model.config.layers))
    print(f"resized: {d} of {sum(i.numel() for i in idx)} tokens differ from hv-encode's")
    check(d == 0, "resized model (encoderSize, shortcuts, lookahead, no output norm): same tokens as hv-encode")
    for tag in ("", "-repeat", "-zero", "-learned"):
        header, clips = read_hvt(f"{w}/resized{tag}.hvt")
        masked = sum(int(c["masks"]["L0"].sum()) for c in clips if c["masks"]["L0"] is not None)
        twin = render_clips(model, header, clips)
        swift, _ = read_y4m(f"{w}/resized{tag}.y4m")
        # The twin's writer: the same file again, for hv-render to read (test-twin.sh compares its render).
        write_hvt(f"{w}/resized-twin{tag}.hvt", header, clips)
        twin_y4m = f"{w}/resized-twin{tag}.y4m"
        write_y4m(twin_y4m, twin, fps=tuple(header["fps"]))
        twin, _ = read_y4m(twin_y4m)
        diff = int(np.abs(swift.astype(int) - twin).max())
        print(f"resized{tag}: {masked} masked L0 tokens; render max pixel difference {diff}, "
              f"PSNR against source {psnr(swift, frames):.4f} (hv-render) / {psnr(twin, frames):.4f} dB (twin)")
        check(abs(psnr(swift, frames) - psnr(twin, frames)) <= 0.01 and (tag == "" or masked > 0),
              f"resized model render{tag or ' unmasked'} within 0.01 dB of hv-render")


def read_csv_row(path):
    lines = open(path).read().splitlines()
    return dict(zip(lines[0].split(","), lines[-1].split(",")))


def grads(w, *names):
    for name in names:
        grads_of(w, name)


def grads_of(w, name):
    run = f"{w}/run-{name}"
    model = checkpoint.load(f"{w}/init-{name}")
    row = read_csv_row(f"{run}/train.csv")
    cfg = model.config
    frames, _ = read_y4m(f"{w}/c32.y4m")
    x = pixels_to_tensor(frames[:cfg.frames_per_clip])[None]
    # The hv-train command of test-twin.sh (no discriminator); the layers and the quantisation hardness it used are
    # in its train.csv (tiny: every layer, hard codes; tiny2x: the soft start of the quantisation warm-up).
    o = Options(l2_weight=1, residual_weight=0.001, entropy_weight=0.005, commit_weight=0.05, perceptual_weight=0.2,
                temporal_weight=0.3, adversarial_weight=0, truncation=0, progressive=(0,))
    loss, _, log = model_loss(model, x, o, finest=int(row["finest_layer"]), hardness=float(row["hardness"]),
                              subtraction=1.0)
    loss.backward()
    named = dict(model.named_parameters())
    norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in named.values() if p.grad is not None)))
    rel = lambda a, b: abs(a - b) / max(abs(b), 1e-12)
    pairs = [("l1", log["l1"]), ("perceptual", log["perceptual"]), ("residual", log["residual"]),
             ("temporal", log["temporal"]), ("grad_norm", norm)]
    for m, (lname, _, _) in enumerate(cfg.layers):
        pairs += [(f"entropy_{lname}", log["entropy"][m]), (f"commit_{lname}", log["commit"][m])]
    worst_loss = max(rel(v, float(row[k])) for k, v in pairs)
    print(f"{name}: hardness {row['hardness']}; losses and gradient norm (twin / hv-train): "
          + ", ".join(f"{k} {v:.6g}/{float(row[k]):.6g}" for k, v in pairs) + f"; worst relative difference {worst_loss:.2e}")
    check(worst_loss <= 1e-5, f"{name}: train.csv losses and gradient norm within 1e-5")
    state, _, _ = checkpoint.read_safetensors(f"{run}/train-state.safetensors")
    scale = 1.0 / (norm + 1e-6) if norm > 1.0 else 1.0
    worst, worst_name, total_d, total_n = 0.0, "", 0.0, 0.0
    for n, p in named.items():
        swift = checkpoint.from_engine(n, state[f"adam.m.{n}"]).double() / 0.1
        mine = (p.grad.double() * scale) if p.grad is not None else torch.zeros_like(swift)
        d, s = float((mine - swift).norm()), float(swift.norm())
        total_d, total_n = total_d + d * d, total_n + s * s
        if s > 0 and d / s > worst:
            worst, worst_name = d / s, n
        elif s == 0 and d > 0:
            worst, worst_name = float("inf"), n
    print(f"{name}: gradients of {len(named)} tensors; largest relative L2 error {worst:.2e} ({worst_name}), "
          f"over all {np.sqrt(total_d / total_n):.2e}")
    check(worst <= 1e-4, f"{name}: every gradient tensor within 1e-4 (relative L2) of hv-train's")
    try:
        checkpoint.load(run)
        check(True, f"{name}: hv-train's checkpoint loads strictly in the twin")
    except checkpoint.CheckpointError as e:
        check(False, f"{name}: hv-train's checkpoint loads strictly in the twin ({e})")


def batched(w):
    rel = lambda a, b: float((a - b).detach().norm() / b.detach().norm().clamp_min(1e-30))
    for bits, shape in ((6, (3, 6, 2, 4, 4)), (20, (2, 20, 1, 2, 2))):   # exact codebook entropy, and bit marginals
        e = torch.randn(*shape, generator=torch.Generator().manual_seed(bits), dtype=torch.float64)
        e1, e2 = e.clone().requires_grad_(), e.clone().requires_grad_()
        terms = lfq_losses(e1, per_sample=True)
        sum(t.sum() * (k + 1) for k, t in enumerate(terms)).backward()
        loop = [lfq_losses(e2[b:b + 1]) for b in range(shape[0])]
        sum(t * (k + 1) for one in loop for k, t in enumerate(one)).backward()
        worst = max(rel(terms[k], torch.stack([one[k] for one in loop])) for k in range(3))
        print(f"lfq {bits} bits: batched against per-sample terms {worst:.1e}, gradients {rel(e1.grad, e2.grad):.1e}")
        check(worst < 1e-12 and rel(e1.grad, e2.grad) < 1e-12, f"lfq {bits} bits: one batched pass = each sample's")
    model = checkpoint.load(f"{w}/init-tiny2x")
    frames, _ = read_y4m(f"{w}/c32.y4m")
    cfg = model.config
    x = torch.stack([pixels_to_tensor(frames[:cfg.frames_per_clip]),
                     pixels_to_tensor(frames[::-1][:cfg.frames_per_clip].copy())])
    o = Options(l2_weight=1, residual_weight=0.001, entropy_weight=0.005, commit_weight=0.05, perceptual_weight=0.2,
                temporal_weight=0.3, adversarial_weight=0, truncation=0, progressive=(0,))
    with torch.no_grad():
        both = float(model_loss(model, x, o, 0, 1.0, 1.0)[0])
        each = [float(model_loss(model, x[b:b + 1], o, 0, 1.0, 1.0)[0]) for b in range(2)]
    print(f"loss of a batch of two {both:.7g}, mean of its samples' {np.mean(each):.7g}")
    check(abs(both - np.mean(each)) <= 1e-5 * abs(both) and abs(each[0] - each[1]) > 1e-3,
          "a batch's loss is the mean of its samples' losses (which differ)")
    from concurrent.futures import ThreadPoolExecutor
    a, b = ClipSampler([f"{w}/c256.y4m"], seed=5), ClipSampler([f"{w}/c256.y4m"], seed=5)
    with ThreadPoolExecutor(4) as pool:
        got = np.concatenate([a.sample_batch(3, 6, 64, pool), a.sample_batch(3, 6, 64)])
    want = np.stack([b.sample_pixels(6, 64) for _ in range(6)])
    check(got.shape == want.shape and np.array_equal(got, want) and len({w.tobytes() for w in want}) == 6,
          "sample_batch (pool and not) draws sample_pixels' windows in its order")


def same_tokens(a, b):
    ha, ca = read_hvt(a)
    hb, cb = read_hvt(b)
    n = sum(v.size for c in ca for v in c["layers"].values())
    d = sum(int((c["layers"][k] != e["layers"][k]).sum()) for c, e in zip(ca, cb) for k in c["layers"])
    print(f"{a} vs {b}: {d} of {n} tokens differ")
    check(len(ca) == len(cb) and d <= 1e-3 * n and ha["tokenizer_hash"] == hb["tokenizer_hash"],
          "same tokenizer identity and tokens")


def kit_planes(a, b):
    """The GPU kit's round trip: the same header and frame count, the planes within the codec's loss."""
    ra, rb = open(a, "rb").read(), open(b, "rb").read()
    ha, hb = ra[:ra.index(b"\n")], rb[:rb.index(b"\n")]
    pa, pb = np.frombuffer(ra, np.uint8), np.frombuffer(rb, np.uint8)
    quality = psnr(pa, pb) if len(pa) == len(pb) else 0.0
    print(f"{b}: planes {quality:.2f} dB against {a}")
    check(ha == hb and len(pa) == len(pb) and quality >= 35, "kit planes: same header and size, PSNR >= 35 dB")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"setup": setup, "shipped": shipped, "grads": grads, "same-tokens": same_tokens, "batched": batched,
     "kit-planes": kit_planes}[cmd](*args)
    sys.exit(1 if failures else 0)
