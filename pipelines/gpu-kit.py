#!/usr/bin/env python3
"""The training footage in a form small enough to travel to a lent GPU machine, and back to y4m there.

    pipelines/gpu-kit.py pack KIT --train DIR/SOURCE ... --heldout FILE.y4m ... [--crf 20] [--max-frames SOURCE=N]
    pipelines/gpu-kit.py unpack KIT DEST

A device call carries at most 64 MiB (the working tree and the carried paths together), and the y4m footage is
3 GB. `pack` stores each y4m video as H.264 in Matroska, its Y′, Cb and Cr planes tiled into one grey picture
(Y′ above, Cb and Cr side by side below), so that decoding gives back the planes themselves: no Y′CbCr → RGB
conversion of a video library stands between the kit and `hv-train`'s own (BT.601, 16.16 fixed point), only the
codec's loss (about 43 dB at crf 20 on our footage, mean colour within half a level). `unpack` writes the planes
back into y4m files with the original headers, in the same SOURCE folders, with `sources.tsv`, so that
`python/train_tokenizer.py --data DEST/train/SOURCE …` samples by source exactly as on the footage itself.

Decoding uses OpenCV (the GPU machine's image has it, with FFmpeg inside) and falls back to the ffmpeg program.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from hitvideo.y4m import Y4MError, parse_header  # noqa: E402  (numpy only)


PARTIAL = []   # the folder being written, removed when the command fails


def fail(msg, code=65):
    print(f"gpu-kit: error: {msg}", file=sys.stderr)
    for d in PARTIAL:
        shutil.rmtree(d, ignore_errors=True)
    sys.exit(code)


def read_planes(path, max_frames=None):
    """A 4:2:0 y4m file → (header line, frames [T, H + H/2, W] uint8 with Cb | Cr tiled below Y′)."""
    with open(path, "rb") as f:
        data = f.read()
    nl = data.find(b"\n")
    head = data[:max(nl, 0)].decode("ascii", "replace")
    h = parse_header(head)
    w, hh = h["width"], h["height"]
    if not h["cs"].startswith("420") or w % 2 or hh % 2:
        raise Y4MError("only 4:2:0 y4m with even sizes can be packed (hv-decode writes it)")
    size, out, pos = w * hh * 3 // 2, [], nl + 1
    while pos < len(data) and (max_frames is None or len(out) < max_frames):
        end = data.find(b"\n", pos)
        if end < 0 or end + 1 + size > len(data):
            raise Y4MError(f"frame {len(out)} is truncated")
        pos = end + 1
        p = np.frombuffer(data, np.uint8, size, pos)
        pos += size
        y = p[:w * hh].reshape(hh, w)
        cb = p[w * hh:w * hh * 5 // 4].reshape(hh // 2, w // 2)
        cr = p[w * hh * 5 // 4:].reshape(hh // 2, w // 2)
        out.append(np.vstack([y, np.hstack([cb, cr])]))
    if not out:
        raise Y4MError("no frames")
    return head, np.stack(out)


def write_planes(path, head, frames):
    h = frames.shape[1] * 2 // 3
    with open(path, "wb") as f:
        f.write(head.encode("ascii") + b"\n")
        for g in frames:
            f.write(b"FRAME\n")
            f.write(g[:h].tobytes())
            f.write(np.ascontiguousarray(g[h:, :g.shape[1] // 2]).tobytes())
            f.write(np.ascontiguousarray(g[h:, g.shape[1] // 2:]).tobytes())


def encode(frames, dst, crf):
    t, hh, w = frames.shape
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{w}x{hh}", "-r", "8",
           "-i", "-", "-c:v", "libx264", "-preset", "slow", "-crf", str(crf), "-pix_fmt", "gray", dst]
    subprocess.run(cmd, input=frames.tobytes(), check=True)


def decode(path, w, hh, decoder="auto"):
    cv2 = None
    if decoder != "ffmpeg":
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")   # it warns that it hands over the raw plane: we want that
        try:
            import cv2
        except ImportError:
            if decoder == "opencv":
                fail("OpenCV (cv2) is not installed", 69)
    if cv2 is not None:
        # Without the BGR conversion OpenCV hands over the decoded picture's luma plane: our tiled planes.
        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_CONVERT_RGB, 0])
        frames = []
        while True:
            ok, im = cap.read()
            if not ok:
                break
            frames.append(im.reshape(hh, w))
        if not frames:
            fail(f"{path}: no frames decoded", 65)
        return np.stack(frames)
    # The decoder's own 4:2:0 pictures, whose luma plane is ours; asking ffmpeg for grey instead would rescale
    # the values from limited to full range.
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
                         check=True, capture_output=True).stdout
    size = w * hh + 2 * ((w + 1) // 2) * ((hh + 1) // 2)
    if not raw or len(raw) % size:
        fail(f"{path}: no whole frames decoded", 65)
    return np.frombuffer(raw, np.uint8).reshape(-1, size)[:, :w * hh].reshape(-1, hh, w)


def pack(args):
    caps = {}
    for spec in args.max_frames:
        name, _, n = spec.partition("=")
        caps[name] = int(n)
    final, args.kit = args.kit, args.kit.rstrip("/") + ".partial"
    shutil.rmtree(args.kit, ignore_errors=True)
    PARTIAL.append(args.kit)
    total = 0
    jobs = [(d, os.path.join("train", os.path.basename(d.rstrip("/")))) for d in args.train]
    jobs += [(f, "heldout") for f in args.heldout]
    for src, sub in jobs:
        files = sorted(glob.glob(os.path.join(src, "*.y4m"))) if os.path.isdir(src) else [src]
        if not files:
            fail(f"{src}: no y4m files", 66)
        os.makedirs(os.path.join(args.kit, sub), exist_ok=True)
        left = caps.get(os.path.basename(src.rstrip("/")))
        for f in files:
            if left is not None and left <= 0:
                break
            try:
                head, frames = read_planes(f, left)
            except Y4MError as e:
                fail(f"{f}: {e}")
            if left is not None:
                left -= len(frames)
            name = os.path.splitext(os.path.basename(f))[0]
            with open(os.path.join(args.kit, sub, name + ".head"), "w") as h:
                h.write(head + "\n")
            dst = os.path.join(args.kit, sub, name + ".mkv")
            encode(frames, dst, args.crf)
            total += os.path.getsize(dst)
        tsv = os.path.join(os.path.dirname(src.rstrip("/")), "sources.tsv")
        if sub.startswith("train") and os.path.exists(tsv):
            shutil.copy(tsv, os.path.join(args.kit, "train", "sources.tsv"))
    shutil.rmtree(final, ignore_errors=True)
    os.rename(args.kit, final)
    print(f"gpu-kit: {final}: {total / 2**20:.1f} MiB of video")


def unpack(args):
    heads = sorted(glob.glob(os.path.join(args.kit, "**", "*.head"), recursive=True))
    if not heads:
        fail(f"{args.kit}: no packed videos", 66)
    if os.path.exists(args.dest):
        fail(f"{args.dest} exists; unpack writes a new folder", 73)
    final, args.dest = args.dest, args.dest.rstrip("/") + ".partial"
    shutil.rmtree(args.dest, ignore_errors=True)
    PARTIAL.append(args.dest)
    for hpath in heads:
        rel = os.path.relpath(hpath, args.kit)
        head = open(hpath).read().strip()
        try:
            h = parse_header(head)
        except Y4MError as e:
            fail(f"{hpath}: {e}")
        w, hh = h["width"], h["height"]
        frames = decode(hpath[:-5] + ".mkv", w, hh * 3 // 2, args.decoder)
        dst = os.path.join(args.dest, rel[:-5] + ".y4m")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        write_planes(dst, head, frames)
    for tsv in glob.glob(os.path.join(args.kit, "*", "sources.tsv")):
        shutil.copy(tsv, os.path.join(args.dest, os.path.relpath(tsv, args.kit)))
    os.rename(args.dest, final)
    print(f"gpu-kit: {len(heads)} videos into {final}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="y4m footage → KIT (H.264 of the tiled planes)")
    p.add_argument("kit")
    p.add_argument("--train", nargs="+", default=[], help="source folders of y4m files (each one source)")
    p.add_argument("--heldout", nargs="*", default=[], help="held-out y4m files")
    p.add_argument("--crf", type=int, default=20)
    p.add_argument("--max-frames", nargs="*", default=[], metavar="SOURCE=N",
                   help="keep only the first N frames of a source (its files in name order)")
    u = sub.add_parser("unpack", help="KIT → y4m files under DEST")
    u.add_argument("kit")
    u.add_argument("dest")
    u.add_argument("--decoder", choices=["auto", "opencv", "ffmpeg"], default="auto",
                   help="auto: OpenCV where it is installed, else the ffmpeg program")
    args = ap.parse_args()
    try:
        (pack if args.cmd == "pack" else unpack)(args)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except FileNotFoundError as e:
        fail(f"{e.filename}: no such file or folder", 66)
    except subprocess.CalledProcessError as e:
        fail(f"{e.cmd[0]} failed (status {e.returncode})", 70)
    except OSError as e:
        fail(f"{e.filename or ''}: {e.strerror}", 74)


if __name__ == "__main__":
    main()
