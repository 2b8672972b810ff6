"""Where a GPU training step of the tokenizer twin goes: the recipe's step (model_loss, backward, clipping, AdamW,
EMA) on a batch of random crops, timed as run (cuDNN's TF32 convs), with matmuls in TF32 too, under bf16 autocast,
with channels_last_3d, and profiled (torch.profiler's top operators by device time). Also times the sampler's
window gathering on the CPU, on one thread and on a pool. Prints a table; writes nothing.
  python3 bench/gpu_step_profile.py --model models/tokenizer --batch 16 --crop 128 [--device cpu]"""
import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from hitvideo import checkpoint  # noqa: E402
from hitvideo.training import ClipSampler, Options, batch_to_tensor, make_optimizer, model_loss  # noqa: E402
from hitvideo.y4m import write_y4m  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/tokenizer")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--modes", default="as-run,tf32,bf16,channels-last,profile")
    args = ap.parse_args()
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    model = checkpoint.load(args.model).to(dev)
    T = model.config.frames_per_clip
    o = Options(batch=args.batch, crop=args.crop, l2_weight=1, entropy_weight=0.005, commit_weight=0.05,
                perceptual_weight=0.2, progressive=(0, 0, 0), adversarial_weight=0, truncation=0.25,
                residual_weight=0.001, ema=0.999, quantization_warmup=0)
    named = list(model.named_parameters())
    params = [p for _, p in named]
    opt = make_optimizer(named, o)
    ema = [p.detach().clone() for p in params]
    rng = np.random.default_rng(1)
    clip = os.path.join(tempfile.mkdtemp(), "noise.y4m")
    write_y4m(clip, rng.integers(0, 256, (T + 32, 256, 256, 3), dtype=np.uint8))
    sampler = ClipSampler([clip], seed=1)
    for name, pool in (("one thread", None), ("thread pool", ThreadPoolExecutor(min(args.batch, os.cpu_count())))):
        t0 = time.time()
        for _ in range(3):
            u8 = sampler.sample_batch(args.batch, T, args.crop, pool)
        print(f"gather {args.batch} windows of {T}x{args.crop}² ({name}): {(time.time() - t0) / 3 * 1000:.0f} ms")
    def sync():
        if cuda:
            torch.cuda.synchronize()

    x = batch_to_tensor(torch.from_numpy(u8).to(dev))

    def step(autocast=False):
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
            loss, _, row = model_loss(model, x, o, 0, 1.0, 1.0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema, [p.detach() for p in params], 0.001)
        return float(loss.detach())

    def timed(name, autocast=False):
        try:
            for _ in range(2):
                step(autocast)
            sync()
            t = time.time()
            for _ in range(args.steps):
                loss = step(autocast)
            sync()
            per = (time.time() - t) / args.steps
            mem = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0
            print(f"{name:14s} {per * 1000:7.0f} ms a step  {args.batch / per:6.1f} crops/s  loss {loss:.4f}  "
                  f"peak {mem:.1f} GiB", flush=True)
        except Exception as e:   # one mode failing must not hide the others' numbers
            print(f"{name:14s} failed: {type(e).__name__}: {str(e)[:200]}", flush=True)

    modes = args.modes.split(",")
    if "as-run" in modes:
        timed("as-run")
    if "tf32" in modes:
        torch.backends.cuda.matmul.allow_tf32 = True
        timed("tf32")
    if "bf16" in modes:
        timed("bf16-autocast", autocast=True)
    if "channels-last" in modes:
        model.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
        timed("channels-last")
        model.to(memory_format=torch.contiguous_format)
        x = x.contiguous()
    if "profile" in modes:
        from torch.profiler import ProfilerActivity, profile
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        step()
        sync()
        with profile(activities=acts) as prof:
            step()
            sync()
        key = "cuda_time_total" if cuda else "cpu_time_total"
        try:
            print(prof.key_averages().table(sort_by=key, row_limit=30, max_name_column_width=48))
        except Exception:
            print(prof.key_averages().table(sort_by="self_" + key.replace("_total", "_total"), row_limit=30))
    return 0


if __name__ == "__main__":
    sys.exit(main())
