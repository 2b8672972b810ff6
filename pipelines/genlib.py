"""What the generation evaluations share (pipelines/compare-generation.py, pipelines/eval-gen.py): y4m luma
frames, PSNR, motion, the 64-frame windows hv-encode cuts, nearest-window search, and running our tools."""
import os
import subprocess
import sys

import numpy as np

CLIP = 64


def die(message, code):
    """One line on stderr, named after the running script, and a sysexits code (64 usage, 65 bad data, 66 missing
    input)."""
    print(f"{os.path.splitext(os.path.basename(sys.argv[0]))[0]}: error: {message}", file=sys.stderr)
    sys.exit(code)


def read_y4m_luma(path):
    """All frames' Y' planes of a y4m file, uint8 [frames, height, width]."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        die(f"cannot read {path}: {e.strerror}", 66)
    end = data.find(b"\n")
    header = data[:end].split(b" ")
    if end < 0 or header[0] != b"YUV4MPEG2":
        die(f"{path} is not y4m", 65)
    fields = {h[:1]: h[1:] for h in header[1:]}
    w, h = int(fields[b"W"]), int(fields[b"H"])
    chroma = fields.get(b"C", b"420jpeg").decode()
    if chroma.startswith("444"):
        frame = 3 * w * h
    elif chroma.startswith("mono"):
        frame = w * h
    else:  # 4:2:0
        frame = w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)
    frames, pos = [], end + 1
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0 or not data[pos:nl].startswith(b"FRAME") or nl + 1 + frame > len(data):
            die(f"{path}: truncated or bad frame at byte {pos}", 65)
        pos = nl + 1
        frames.append(np.frombuffer(data, np.uint8, w * h, pos).reshape(h, w))
        pos += frame
    return np.stack(frames)


def psnr(a, b):
    mse = np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def motion(clip):
    return float(np.mean(np.abs(np.diff(clip.astype(np.int16), axis=0))))


def cut(frames):
    """64-frame windows at 0, 64, 128, ...; the last partial one padded with its last frame, as hv-encode pads."""
    out = []
    for s in range(0, len(frames), CLIP):
        w = frames[s:s + CLIP]
        if len(w) < CLIP:
            w = np.concatenate([w, np.repeat(w[-1:], CLIP - len(w), axis=0)])
        out.append(w)
    return out


def nearest(windows, clip):
    """Index of the window closest to clip (MSE) and the PSNR to it. A few windows at a time: the difference of
    all of them at once is gigabytes for a few hundred windows, and the kernel's time spent faulting in those
    pages was most of an evaluation's."""
    mse = np.empty(len(windows))
    for i in range(0, len(windows), 8):
        mse[i:i + 8] = np.mean((windows[i:i + 8] - clip[None]) ** 2, axis=(1, 2, 3))
    k = int(np.argmin(mse))
    return k, 10 * np.log10(255.0 ** 2 / max(float(mse[k]), 1e-12))


def run(bin_dir, tool, *args, capture=False):
    """Runs one of our tools; on failure it has printed its own one-line error, and we stop with its code.
    With `capture`, returns its standard output as text."""
    path = os.path.join(bin_dir, tool)
    if not os.access(path, os.X_OK):
        die(f"{path} is missing (build the tools first: make build)", 66)
    r = subprocess.run([path, *args], stdout=subprocess.PIPE if capture else None, text=True)
    if r.returncode != 0:
        sys.exit(r.returncode)
    return r.stdout


def run_output(bin_dir, tool, *args):
    """`run`, returning the tool's standard output as text."""
    return run(bin_dir, tool, *args, capture=True)


def read_tsv(path, what):
    """The KEY<TAB>VALUE rows of a UTF-8 list, skipping blank and # lines; `what` names the expected form."""
    rows = []
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        die(f"cannot read {path}: {e.strerror}", 66)
    with f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            if "\t" not in line:
                die(f"{path}:{n}: expected {what}, got {line!r}", 65)
            rows.append(tuple(line.split("\t", 1)))
    return rows
