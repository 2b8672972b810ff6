#!/usr/bin/env python3
"""What issue 15's motion bar asks of a code: the per-frame motion correlation (mean |ΔY| of consecutive frames,
source against render, as `hv-train diagnose` measures it) and the PSNR of smooth box means at several cell sizes
(frames × pixels, interpolated back trilinearly as diagnose's box baseline), and of L0's box means with a per-frame
coarse correction added. A static clip has no defined correlation and is left out of the means (diagnose does the
same). Read against the tokenizer's 0.11 (docs/tokenizer-journal.md, "Session of 2026-12-07, twenty-second").

    pipelines/motion-bound.py [--renders DIR] FOLDER [FOLDER …]   (FOLDER/SOURCE/*.y4m or FOLDER/*.y4m; 64 frames)

With --renders DIR (a tokenizer's render of each clip, DIR/NAME.y4m, e.g. hv-encode | hv-render), also the render
itself and the render with its own per-frame deviation from each 8-frame mean, over 64² and over 16² cells, swapped
for the source's: what a per-frame side channel of that size would add to this tokenizer, motion and PSNR.
"""
import argparse
import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from hitvideo.y4m import Y4MError, read_y4m  # noqa: E402  (bit-exact with hv-train's reader; numpy only)

FRAMES = 64
# (frames, pixels) per cell: L0's grid first, then finer in time, coarser in space, and finer in space only.
CELLS = [(8, 16), (4, 16), (2, 16), (1, 16), (1, 32), (1, 64), (8, 4)]


def taps(n, s):
    """Linear interpolation from cell centres (edges clamped), as TokenizerDiagnostics.smoothBoxMeans."""
    g = n // s
    u = (np.arange(n) + 0.5) / s - 0.5
    lo = np.floor(u).astype(int)
    w = u - lo
    return np.clip(lo, 0, g - 1), np.clip(lo + 1, 0, g - 1), w


def smooth_box(x, ct, cs):
    t, h, w, c = x.shape
    m = x.reshape(t // ct, ct, h // cs, cs, w // cs, cs, c).mean(axis=(1, 3, 5))
    for axis, (n, s) in enumerate([(t, ct), (h, cs), (w, cs)]):
        a, b, wt = taps(n, s)
        shape = [1, 1, 1, 1]
        shape[axis] = n
        wt = wt.reshape(shape)
        m = np.take(m, a, axis=axis) * (1 - wt) + np.take(m, b, axis=axis) * wt
    return m


def motion(x):
    """Mean |ΔY| per consecutive frame pair, BT.601 luma of the clamped RGB, 0–255."""
    x = np.clip(x, 0, 255)
    y = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    return np.abs(np.diff(y, axis=0)).mean(axis=(1, 2))


def corr(a, b):
    if a.std() == 0:
        return float("nan")
    if b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def psnr(a, x):
    return 10 * np.log10(255 ** 2 / np.mean((np.clip(np.round(a), 0, 255) - x) ** 2))


def clips(folders):
    for folder in folders:
        found = sorted(glob.glob(os.path.join(folder, "*", "*.y4m"))) or sorted(glob.glob(os.path.join(folder, "*.y4m")))
        yield from found


def deviation(x, cell):
    """Each frame's deviation from its 8-frame step's mean, over cell² pixels (smooth, as the box means)."""
    return smooth_box(x, 1, cell) - smooth_box(x, 8, cell)


class Failure(Exception):
    """A one-line error and its sysexits code."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def read(path):
    try:
        return read_y4m(path)[0]
    except FileNotFoundError:
        raise Failure(f"{path}: no such file", 66)
    except OSError as e:
        raise Failure(f"{path}: {e.strerror}", 74)
    except Y4MError as e:
        raise Failure(str(e) if str(e).startswith(path) else f"{path}: {e}", 65)


def main(folders, render_dir=None):
    files = list(clips(folders))
    if not files:
        raise Failure(f"no .y4m clips in {' '.join(folders)}", 66)
    names = [f"{t}×{s}" for t, s in CELLS] + ["8×16 + per-frame 64"]
    if render_dir:
        names += ["render", "render, per-frame 64² swapped for the source's", "render, per-frame 16² swapped"]
    corr_rows, psnr_rows = [], []
    for path in files:
        rgb = read(path)
        n = min(len(rgb), FRAMES)
        x = rgb[:n].astype(np.float64)
        if n % 8:  # pad as hv-train does: the last frame repeated; only the real frames are measured
            x = np.concatenate([x, np.repeat(x[-1:], 8 - n % 8, axis=0)])
        source = motion(x[:n])
        renders = [smooth_box(x, t, s) for t, s in CELLS]
        # L0's box means plus each frame's deviation from its 8-frame mean at 64² cells: the per-frame part a code
        # would add to L0's grid.
        renders.append(renders[0] + deviation(x, 64))
        if render_dir:
            rendered = os.path.join(render_dir, os.path.basename(path))
            y = read(rendered)[:n].astype(np.float64)
            if y.shape != x[:n].shape:
                raise Failure(f"{rendered} is {len(y)} frames of {y.shape[2]}x{y.shape[1]}; "
                              f"the clip is {n} of {x.shape[2]}x{x.shape[1]}", 65)
            if n % 8:
                y = np.concatenate([y, np.repeat(y[-1:], 8 - n % 8, axis=0)])
            renders += [y, y - deviation(y, 64) + deviation(x, 64), y - deviation(y, 16) + deviation(x, 16)]
        corr_rows.append([corr(source, motion(r[:n])) for r in renders])
        psnr_rows.append([psnr(r[:n], x[:n]) for r in renders])
        print(f"{os.path.basename(path)}: motion {source.mean():.1f}; corr "
              + " ".join(f"{v:.2f}" for v in corr_rows[-1]) + "; PSNR " + " ".join(f"{v:.2f}" for v in psnr_rows[-1]))
    c, p = np.array(corr_rows), np.array(psnr_rows)
    moving = int(np.sum(~np.isnan(c[:, 0])))
    print(f"\n| cells (frames × pixels) | motion correlation (mean of {moving} moving clips) | PSNR dB (mean of {len(files)}) |")
    print("| --- | --- | --- |")
    for i, name in enumerate(names):
        print(f"| {name} | {np.nanmean(c[:, i]):.2f} | {p[:, i].mean():.2f} |")
    return 0


class Parser(argparse.ArgumentParser):
    def error(self, message):  # sysexits: a usage error is 64, on one line
        print(f"motion-bound: error: {message}", file=sys.stderr)
        sys.exit(64)


if __name__ == "__main__":
    ap = Parser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("folders", nargs="+", metavar="FOLDER", help="FOLDER/SOURCE/*.y4m or FOLDER/*.y4m")
    ap.add_argument("--renders", metavar="DIR", help="a tokenizer's render of each clip, DIR/NAME.y4m")
    a = ap.parse_args()
    try:
        sys.exit(main(a.folders, a.renders))
    except Failure as f:
        print(f"motion-bound: error: {f}", file=sys.stderr)
        sys.exit(f.code)
    except BrokenPipeError:  # the reader went away (… | head): stop quietly, as an I/O error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(74)
