#!/usr/bin/env python3
"""Train the HiTVideo tokenizer with the PyTorch twin, data-parallel under torchrun, into a checkpoint that
hv-encode, hv-render and every other tool read with no conversion.

    torchrun --nproc_per_node 8 python/train_tokenizer.py --device cuda --preset paper --data clips/ --out run/ ...
    python3 python/train_tokenizer.py --data clips/ --out run/ ...        (one process, CPU)

The recipe is `hv-train tokenizer`'s (hitvideo/training.py: same options, defaults, losses and schedules). Each
process samples its own --batch clips (seeded by --seed and its rank); gradients are averaged over the processes
with one all-reduce per step (gloo on CPU, NCCL on GPUs), so a step sees --batch × processes clips and every
process holds the same weights. Decisions that shape the step (which layers train, the mask fraction) come from a
generator seeded alike on every process. OUT receives config.json and model.safetensors (the EMA weights with --ema,
as hv-train), train.csv (hv-train's columns) and train-state.pt (optimizer, EMA, discriminator, step) for --resume.
Inputs are y4m files at the model's rate (hv-decode --fps 8 --size 256 writes them) or folders of them.
"""
import argparse
import csv
import dataclasses
import math
import os
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hitvideo import checkpoint  # noqa: E402
from hitvideo.config import PRESETS, TokenizerConfig  # noqa: E402
from hitvideo.model import HierarchicalTokenizer  # noqa: E402
from hitvideo.tokens import frames_to_tensor  # noqa: E402
from hitvideo.training import (ClipSampler, Discriminator3D, Options, batch_to_tensor, finest_layer,  # noqa: E402
                               learning_rate, make_optimizer, model_loss, pixels_to_tensor, set_learning_rate, source_kinds,
                               videos_by_source)
from hitvideo.y4m import read_y4m  # noqa: E402

PROCESS_START = time.time()   # --fit-minutes counts the loading of the data too


def parse_args(argv=None):
    d = Options()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    a = ap.add_argument
    a("--data", nargs="+", required=True, help="Training videos: y4m files at the model's rate and size, or folders of them.")
    a("--heldout", nargs="*", default=[], help="Held-out y4m videos for PSNR (first clip of each).")
    a("-o", "--out", required=True, help="Output checkpoint folder.")
    a("--preset", default="small", choices=sorted(PRESETS), help="Architecture preset of a new model.")
    a("--init", help="Start from this checkpoint's weights and architecture (fresh optimizer, step 0).")
    a("--resume", action="store_true", help="Continue from the checkpoint and train-state.pt in --out.")
    a("--layers", type=int, help="Keep only the densest N token layers of the preset (new models).")
    a("--lookahead", type=int, help="Latent frames after its own that the decoder's first conv sees (new models).")
    a("--pointwise-coarse", action="store_true", help="1×1 down convs for the coarse layers (new models).")
    a("--decoder-blocks", help="Residual blocks per decoder stage, shallowest first (new models), e.g. 1,2,4.")
    a("--shortcuts", action=argparse.BooleanOptionalAction, default=None, help="Override the preset's colour shortcuts.")
    a("--output-norm", action=argparse.BooleanOptionalAction, default=None, help="Keep the norm before the output heads.")
    a("--norm-epsilon", type=float, help="Override the preset's RMSNorm epsilon.")
    a("--freeze-tokens", action="store_true", help="Train only what turns tokens into video (needs --init); "
      "the checkpoint keeps reading and writing the .hvt files of the one it started from (metadata tokens_of).")
    a("--steps", type=int, default=d.steps, help="Total optimisation steps (the schedule is laid out over them).")
    a("--stop-at", type=int, help="Stop (after saving) at this step of the --steps schedule.")
    a("--minutes", type=float, default=0, help="Stop (after saving) after this many minutes; 0: no limit.")
    a("--fit-minutes", type=float, default=0,
      help="Lay the schedule out over this many minutes from the start of the process: after --fit-probe steps, --steps becomes what their median "
           "time says fits (8 %% kept for evaluations and checkpoints), with an evaluation every eighth and a "
           "checkpoint every quarter of it, and the run stops 5 %% past the minutes whatever the count; for continuing "
           "a trained model (fractions of --steps move with it).")
    a("--fit-probe", type=int, default=12, help="Steps timed for --fit-minutes (within the warm-up).")
    a("--crop", type=int, default=d.crop, help="Square crop size of training windows.")
    a("--batch", type=int, default=d.batch, help="Clips per optimisation step and process.")
    a("--lr", type=float, default=d.lr, help="Peak learning rate.")
    a("--perceptual-weight", type=float, default=d.perceptual_weight, help="Weight of the multi-scale gradient loss.")
    a("--l2-weight", type=float, default=d.l2_weight, help="Weight of the MSE term added to L1.")
    a("--temporal-weight", type=float, default=d.temporal_weight,
      help="Weight of the temporal-difference L1 (frame-to-frame change against the source's, three scales).")
    a("--adversarial-weight", type=float, default=d.adversarial_weight, help="Weight of the adversarial loss (0: off).")
    a("--adversarial-start", type=float, default=d.adversarial_start, help="Fraction of --steps after which it starts.")
    a("--entropy-weight", type=float, default=d.entropy_weight, help="Weight of the LFQ entropy penalty.")
    a("--commit-weight", type=float, default=d.commit_weight, help="Commitment loss weight.")
    a("--progressive", default="0.05,0.12,0.2", help="Fractions of --steps at which each denser layer joins.")
    a("--truncation", type=float, default=d.truncation, help="Share of all-layer steps decoded from a coarser truncation.")
    a("--quantization-warmup", type=float, default=d.quantization_warmup, help="Fraction of --steps from soft to hard codes.")
    a("--residual-weight", type=float, default=d.residual_weight, help="Weight of the residual-matching loss.")
    a("--mask-training", action="store_true", help="Train the learned mask embedding by masking dense tokens.")
    a("--ema", type=float, default=0.0, help="Decay of the weights' moving average saved in checkpoints (0: off).")
    a("--lr-scale", action="append", default=[], help="PREFIX=S: scale the learning rate of tensors named PREFIX….")
    a("--subtraction-ramp", type=int, default=0, help="Steps over which coarse contributions come to be subtracted.")
    a("--fixed-window", action="store_true", help="Train on the centre crop of the first clip of the first video.")
    a("--seed", type=int, default=d.seed, help="Random seed.")
    a("--checkpoint-every", type=int, default=100, help="Save a checkpoint every N steps.")
    a("--eval-every", type=int, default=200, help="Held-out PSNR every N steps.")
    a("--log-every", type=int, default=1, help="Write a train.csv row every N steps.")
    a("--storage", default="f32", choices=["f32", "bf16"], help="Store weights as f32 or bf16.")
    a("--device", default="cpu", help="cpu or cuda (each process takes the GPU of its LOCAL_RANK).")
    a("--threads", type=int, default=0, help="torch threads per process on CPU (0: torch's default).")
    args = ap.parse_args(argv)
    if args.freeze_tokens and not args.init:
        ap.error("--freeze-tokens needs --init (the checkpoint whose tokens are kept)")
    return args


def options(args) -> Options:
    scales = []
    for s in args.lr_scale:
        prefix, _, v = s.partition("=")
        scales.append((prefix, float(v)))
    return Options(steps=args.steps, lr=args.lr, crop=args.crop, batch=args.batch,
                   perceptual_weight=args.perceptual_weight, l2_weight=args.l2_weight,
                   temporal_weight=args.temporal_weight,
                   entropy_weight=args.entropy_weight, commit_weight=args.commit_weight,
                   adversarial_weight=args.adversarial_weight, adversarial_start=args.adversarial_start,
                   progressive=tuple(float(f) for f in args.progressive.split(",") if f),
                   truncation=args.truncation, quantization_warmup=args.quantization_warmup,
                   residual_weight=args.residual_weight, mask_training=args.mask_training,
                   freeze_tokens=args.freeze_tokens, ema=args.ema, lr_scales=tuple(scales),
                   subtraction_ramp=args.subtraction_ramp, seed=args.seed)


def new_config(args) -> TokenizerConfig:
    data = dict(PRESETS[args.preset])
    if args.layers:
        data["layers"] = data["layers"][:args.layers]
    if args.lookahead:
        data["decoderLookahead"] = args.lookahead
    if args.pointwise_coarse:
        data["pointwiseCoarseDown"] = True
    if args.decoder_blocks:
        data["decoderBlocks"] = [int(b) for b in args.decoder_blocks.split(",")]
    if args.shortcuts is not None:
        data["shortcuts"] = args.shortcuts
    if args.output_norm is not None:
        data["outputNorm"] = args.output_norm
    if args.norm_epsilon is not None:
        data["normEpsilon"] = args.norm_epsilon
    return TokenizerConfig(data)


def average_gradients(params, world):
    """One all-reduce of every gradient (flattened together), divided by the process count. A parameter the step did
    not reach gets a zero gradient, not none: as in hv-train, AdamW then still moves it by its moments and decay."""
    if world == 1:
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    i = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[i:i + n].view_as(p).clone()
        i += n


def clip_grad_norm(params, max_norm):
    """Global-norm clipping as clipGradNorm: scale by max/(norm + 1e-6) when norm > max; returns the norm."""
    norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params if p.grad is not None))
    if norm > max_norm and torch.isfinite(norm):
        for p in params:
            if p.grad is not None:
                p.grad.mul_(max_norm / (float(norm) + 1e-6))
    return float(norm)


def held_out_psnr(model, clips, device):
    """Mean PSNR decoding from the coarsest layer alone, then adding each denser layer (hv-train's psnr_top*)."""
    n = len(model.config.layers)
    sums = [0.0] * n
    for frames in clips:
        x = frames_to_tensor(frames, model.config.frames_per_clip).to(device)
        idx = model.encode(x)
        for k in range(n):
            given = [i if m >= n - 1 - k else None for m, i in enumerate(idx)]
            y = model.decode(given, x.shape[2], x.shape[3], x.shape[4])
            a = torch.floor((y[:, :, :len(frames)].clamp(-1, 1) + 1) * 127.5 + 0.5)
            b = torch.floor((x[:, :, :len(frames)] + 1) * 127.5 + 0.5)
            mse = float(((a - b) ** 2).mean())
            sums[k] += 100.0 if mse == 0 else 10 * math.log10(255 ** 2 / mse)
    return [s / max(len(clips), 1) for s in sums]


def main(argv=None):
    args = parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if args.device == "cuda":
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
        torch.backends.cudnn.benchmark = True   # one crop shape all run: let cuDNN pick each 3D conv's algorithm once
    else:
        device = torch.device("cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    o = options(args)
    out = args.out
    state_path = os.path.join(out, "train-state.pt")

    if args.resume:
        model = checkpoint.load(out)
    elif args.init:
        model = checkpoint.load(args.init)
        if args.freeze_tokens and not model.tokens_of:
            model.tokens_of = checkpoint.token_identity(model)
    else:
        model = HierarchicalTokenizer(new_config(args), seed=args.seed)
    model.to(device)
    if world > 1:
        for p in model.state_dict().values():
            dist.broadcast(p, 0)   # every process starts from rank 0's weights
    named = [(n, p) for n, p in model.named_parameters()]
    if o.freeze_tokens:
        keep = {id(p) for p in model.render_parameters()}
        for _, p in named:
            p.requires_grad_(id(p) in keep)
        named = [(n, p) for n, p in named if p.requires_grad]
    params = [p for _, p in named]
    opt = make_optimizer(named, o)
    disc = Discriminator3D().to(device)
    if world > 1:
        for p in disc.state_dict().values():
            dist.broadcast(p, 0)
    disc_opt = make_optimizer(list(disc.named_parameters()), o, betas=(0.5, 0.99), weight_decay=0.0)
    ema = [p.detach().clone() for p in params] if o.ema > 0 else []
    step = 0
    saved_step = int(getattr(model, "metadata", {}).get("step", "0") or 0) if args.resume else 0
    st = None
    if args.resume and os.path.exists(state_path):
        st = torch.load(state_path, map_location=device, weights_only=False)
        if st["step"] != saved_step:
            st = None   # the checkpoint moved on without this state (e.g. hv-train --resume): its moments are stale
    if args.resume and st is None:
        # As hv-train: continue from the checkpoint's weights at its step with fresh optimizer moments.
        step = saved_step
        if rank == 0:
            print(f"train_tokenizer: no train state for step {step} in {out}: continuing from its weights with fresh "
                  "optimizer moments", file=sys.stderr)
    if st is not None:
        opt.load_state_dict(st["optimizer"])
        disc_opt.load_state_dict(st["disc_optimizer"])
        disc.load_state_dict(st["discriminator"])
        step = st["step"]
        if ema:
            # The checkpoint holds the average; the raw weights continue training.
            ema = [p.detach().clone() for p in params]
            with torch.no_grad():
                for p, raw in zip(params, st["raw"]):
                    p.copy_(raw)
    files = videos_by_source(args.data)
    sampler = ClipSampler([p for p, _ in files], seed=args.seed * 1000 + rank + 7919 * step,
                          sources=[s for _, s in files], kinds=source_kinds(args.data))
    if rank == 0 and sampler.by_source:
        print("train_tokenizer: sampling %d sources: %s" % (len(sampler.weights), ", ".join(
            "%s %.1f%%" % (k, 100 * v) for k, v in sorted(sampler.weights.items()))), file=sys.stderr)
    fixed = None
    if args.fixed_window:
        v = sampler.videos[0]
        H, W = v.shape[1:3]
        y0, x0 = (H - o.crop) // 2, (W - o.crop) // 2
        idx = [min(t, len(v) - 1) for t in range(model.config.frames_per_clip)]
        fixed = pixels_to_tensor(v[idx, y0:y0 + o.crop, x0:x0 + o.crop].copy())
    schedule_rng = random.Random(args.seed * 31 + step)     # the same on every process
    heldout = [read_y4m(p)[0][:model.config.frames_per_clip] for p in args.heldout] if rank == 0 else []

    def save():
        if rank != 0:
            return
        with torch.no_grad():
            raw = [p.detach().clone() for p in params]
            for p, e in zip(params, ema):
                p.copy_(e)
            checkpoint.save(model, out, storage=args.storage.upper(), metadata={"step": str(step)})
            for p, r in zip(params, raw):
                p.copy_(r)
        tmp = state_path + f".tmp.{os.getpid()}"
        torch.save({"optimizer": opt.state_dict(), "disc_optimizer": disc_opt.state_dict(),
                    "discriminator": disc.state_dict(), "step": step, "raw": raw if ema else []}, tmp)
        os.replace(tmp, state_path)

    log = None
    if rank == 0:
        os.makedirs(out, exist_ok=True)
        names = [n for n, _, _ in model.config.layers]
        path = os.path.join(out, "train.csv")
        new = not (args.resume and os.path.exists(path))
        log = open(path, "w" if new else "a", newline="")
        writer = csv.writer(log, lineterminator="\n")   # hv-train reads and appends to this file
        if new:
            writer.writerow(["step", "seconds", "lr", "finest_layer", "l1", "perceptual", "adv_g", "adv_d", "grad_norm",
                             "hardness", "residual", "temporal"] + [f"{k}_L{m}" for m in range(len(names)) for k in ("entropy", "commit", "usage")]
                            + [f"psnr_top{k + 1}" for k in range(len(names))])
    stop = min(args.stop_at or o.steps, o.steps)
    prefetch = ThreadPoolExecutor(max_workers=1)
    copiers = ThreadPoolExecutor(max_workers=max(1, min(o.batch, os.cpu_count() or 1)))
    if fixed is None:
        pending = prefetch.submit(sampler.sample_batch, o.batch, model.config.frames_per_clip, o.crop, copiers)
    started = time.time()
    n_layers = len(model.config.layers)
    step_times, fitted = [], False
    while step < stop:
        if args.fit_minutes > 0 and not fitted and len(step_times) == args.fit_probe:
            fitted = True
            # The median of the probe's later steps (the first ones allocate and autotune), the same on every process.
            per = torch.tensor([statistics.median(step_times[args.fit_probe // 3:])], device=device)
            if world > 1:
                dist.broadcast(per, 0)
            left = max(0.0, 60 * args.fit_minutes - (time.time() - PROCESS_START))
            o.steps = stop = step + max(1, int(left / (float(per) * 1.08)))
            args.eval_every, args.checkpoint_every = max(1, o.steps // 8), max(1, o.steps // 4)
            if rank == 0:
                print(f"train_tokenizer: {float(per):.3f} s a step: {o.steps} steps, {left:.0f} s left of "
                      f"--fit-minutes {args.fit_minutes}", file=sys.stderr)
        t0 = time.time()
        lr = learning_rate(o, step)
        finest = finest_layer(o, n_layers, step, schedule_rng)
        adversarial = o.adversarial_weight > 0 and step >= o.adversarial_start * o.steps
        warm = o.quantization_warmup * o.steps
        hardness = min(1.0, step / warm) if warm > 0 and not o.freeze_tokens else 1.0
        subtraction = min(1.0, step / o.subtraction_ramp) if o.subtraction_ramp > 0 else 1.0
        mask_fraction = 0.0
        if o.mask_training and finest == 0 and schedule_rng.random() < 0.5:
            mask_fraction = 0.5 + 0.35 * schedule_rng.random()
        frames = model.config.frames_per_clip
        if fixed is not None:
            x = torch.stack([fixed] * o.batch).to(device)
        else:
            # Bytes travel to the device and become floats there: a quarter of the copy, and no CPU conversion.
            # The next batch is gathered while this step runs.
            u8 = pending.result()
            pending = prefetch.submit(sampler.sample_batch, o.batch, frames, o.crop, copiers)
            x = batch_to_tensor(torch.from_numpy(u8).to(device, non_blocking=True))
        opt.zero_grad(set_to_none=True)
        loss, recon, row = model_loss(model, x, o, finest, hardness, subtraction, mask_fraction)
        adv_g = adv_d = 0.0
        if adversarial:
            for p in disc.parameters():
                p.requires_grad_(False)
            g_loss = -disc(recon).mean()
            loss = loss + o.adversarial_weight * g_loss
            adv_g = g_loss.item()
            for p in disc.parameters():
                p.requires_grad_(True)
        loss.backward()
        average_gradients(params, world)
        grad_norm = clip_grad_norm(params, 1.0)
        set_learning_rate(opt, lr)
        opt.step()
        if ema:
            d = min(o.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - d)
        if adversarial:
            disc_opt.zero_grad(set_to_none=True)
            fake = recon.detach()
            d_loss = torch.relu(1 - disc(x)).mean() + torch.relu(1 + disc(fake)).mean()
            d_loss.backward()
            average_gradients(list(disc.parameters()), world)
            clip_grad_norm(list(disc.parameters()), 1.0)
            set_learning_rate(disc_opt, lr)
            disc_opt.step()
            adv_d = d_loss.item()
        step += 1
        if args.fit_minutes > 0 and len(step_times) < args.fit_probe:
            if device.type == "cuda":
                torch.cuda.synchronize()   # only while timing: the kernels of the step must have run
            step_times.append(time.time() - t0)
        psnr = []
        if heldout and (step % args.eval_every == 0 or step == stop):
            psnr = held_out_psnr(model, heldout, device)
        if log is not None and (step % args.log_every == 0 or step == stop):
            writer.writerow([step, f"{time.time() - t0:.3f}", lr, finest, row["l1"], row["perceptual"], adv_g, adv_d,
                             grad_norm, hardness, row["residual"], row["temporal"]]
                            + [v for m in range(n_layers) for v in (row["entropy"].get(m, 0.0), row["commit"].get(m, 0.0),
                                                                     row["usage"].get(m, 0))]
                            + (psnr or [""] * n_layers))
            log.flush()
        out_of_time = (args.minutes > 0 and time.time() - started > 60 * args.minutes
                       or args.fit_minutes > 0 and time.time() - PROCESS_START > 63 * args.fit_minutes)   # 5 % over
        if world > 1:
            flag = torch.tensor([1.0 if out_of_time else 0.0], device=device)
            dist.all_reduce(flag)
            out_of_time = bool(flag.item() > 0)
        if step % args.checkpoint_every == 0 or step == stop or out_of_time:
            save()
        if out_of_time:
            break
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    if rank == 0:
        print(f"train_tokenizer: {step} steps; checkpoint in {out} ({checkpoint.token_identity(model)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
