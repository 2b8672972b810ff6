"""y4m in and out, bit-exact with Sources/HVMedia (Y4MReader, Y4MWriter, ColorConversion): BT.601 in 16.16 fixed
point, 4:2:0 chroma replicated 2×2 on the way in and the mean of each 2×2 block on the way out, limited range
unless the header says XCOLORRANGE=FULL. Bit-exactness matters: the twin and hv-encode must see the same pixels.
"""
import numpy as np


class Y4MError(Exception):
    pass


def _fixed(v):
    """Int32((Float(v) · 65536).rounded()), rounding half away from zero as Swift's rounded()."""
    x = np.float32(v) * np.float32(65536)
    return int(np.sign(x) * np.floor(abs(float(x)) + 0.5))


def _clamp8(v):
    return np.clip((v + 32768) >> 16, 0, 255).astype(np.uint8)


def _yuv_to_rgb(y, cb, cr, full):
    ys = np.float32(1) if full else np.float32(255.0) / np.float32(219.0)
    cs = np.float32(1) if full else np.float32(255.0) / np.float32(224.0)
    yo = 0 if full else 16
    ky = _fixed(ys)
    Y = (y.astype(np.int64) - yo) * ky
    if cb is None:
        g = _clamp8(Y)
        return np.stack([g, g, g], axis=-1)
    krv, kgu = _fixed(np.float32(1.402) * cs), _fixed(np.float32(0.344136) * cs)
    kgv, kbu = _fixed(np.float32(0.714136) * cs), _fixed(np.float32(1.772) * cs)
    u, v = cb.astype(np.int64) - 128, cr.astype(np.int64) - 128
    # Int32 wrapping (&*, &+) never happens for 8-bit inputs, so int64 gives the same values.
    return np.stack([_clamp8(Y + krv * v), _clamp8(Y - kgu * u - kgv * v), _clamp8(Y + kbu * u)], axis=-1)


def parse_header(line: str):
    tokens = line.split(" ")
    if tokens[0] != "YUV4MPEG2":
        raise Y4MError("not a y4m stream (no YUV4MPEG2 signature)")
    h = {"cs": "420jpeg", "full": False, "fps": None, "aspect": (1, 1)}
    for t in tokens[1:]:
        if not t:
            continue
        tag, value = t[0], t[1:]
        if tag == "W":
            h["width"] = int(value)
        elif tag == "H":
            h["height"] = int(value)
        elif tag == "F":
            n, d = value.split(":")
            h["fps"] = (int(n), int(d))
        elif tag == "I":
            if value not in ("p", "?"):
                raise Y4MError(f"interlaced video (I{value}) is not read")
        elif tag == "A":
            p = value.split(":")
            if len(p) == 2:
                h["aspect"] = (int(p[0]), int(p[1]))
        elif tag == "C":
            if value not in ("420jpeg", "420mpeg2", "420paldv", "420", "444", "mono"):
                raise Y4MError(f"colour space C{value} is not read (8-bit 420, 444 and mono are)")
            h["cs"] = value
        elif tag == "X":
            if value.startswith("COLORRANGE="):
                h["full"] = value == "COLORRANGE=FULL"
        else:
            raise Y4MError(f"unknown y4m header tag '{tag}'")
    if "width" not in h or "height" not in h or h["fps"] is None:
        raise Y4MError("the y4m header lacks W, H or F")
    return h


def read_y4m(path):
    """→ (RGB frames uint8 [T, H, W, 3], header dict with width, height, fps (num, den), cs, full)."""
    with open(path, "rb") as f:
        data = f.read()
    nl = data.find(b"\n")
    if nl < 0:
        raise Y4MError(f"{path}: no y4m header line")
    h = parse_header(data[:nl].rstrip(b"\r").decode("ascii", "replace"))
    w, hh = h["width"], h["height"]
    cw, ch = (w + 1) // 2, (hh + 1) // 2
    if h["cs"] == "mono":
        size = w * hh
    elif h["cs"] == "444":
        size = 3 * w * hh
    else:
        size = w * hh + 2 * cw * ch
    frames, pos = [], nl + 1
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0 or not data[pos:end].startswith(b"FRAME"):
            raise Y4MError(f"{path}: frame {len(frames)} does not start with FRAME")
        pos = end + 1
        if pos + size > len(data):
            raise Y4MError(f"{path}: frame {len(frames)} is truncated")
        p = np.frombuffer(data, dtype=np.uint8, count=size, offset=pos)
        pos += size
        y = p[:w * hh].reshape(hh, w)
        if h["cs"] == "mono":
            frames.append(_yuv_to_rgb(y, None, None, h["full"]))
        elif h["cs"] == "444":
            frames.append(_yuv_to_rgb(y, p[w * hh:2 * w * hh].reshape(hh, w), p[2 * w * hh:].reshape(hh, w), h["full"]))
        else:
            cb = p[w * hh:w * hh + cw * ch].reshape(ch, cw).repeat(2, 0).repeat(2, 1)[:hh, :w]
            cr = p[w * hh + cw * ch:].reshape(ch, cw).repeat(2, 0).repeat(2, 1)[:hh, :w]
            frames.append(_yuv_to_rgb(y, cb, cr, h["full"]))
    rgb = np.stack(frames) if frames else np.zeros((0, hh, w, 3), np.uint8)
    return rgb, h


def _products(full):
    """The nine 16.16 coefficients of rgbToYUV (Y from R, G, B; Cb from R, G, B; Cr from R, G, B), Float products."""
    ys = np.float32(1) if full else np.float32(219.0) / np.float32(255.0)
    cs = np.float32(1) if full else np.float32(224.0) / np.float32(255.0)
    coefficients = [0.299, 0.587, 0.114, -0.168736, -0.331264, 0.5, 0.5, -0.418688, -0.081312]
    return [_fixed(np.float32(a) * s) for a, s in zip(coefficients, [ys] * 3 + [cs] * 6)]


def rgb_to_yuv420(rgb, full=False):
    """uint8 [H, W, 3] → y4m 420jpeg planes (bytes), as ColorConversion.rgbToYUV."""
    k = _products(full)
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    yo = 0 if full else 16 << 16
    y = _clamp8(k[0] * r + k[1] * g + k[2] * b + yo)
    H, W = rgb.shape[:2]
    rows = np.minimum(np.arange(0, H + 1, 2)[:(H + 1) // 2, None] + np.array([0, 1]), H - 1)
    cols = np.minimum(np.arange(0, W + 1, 2)[:(W + 1) // 2, None] + np.array([0, 1]), W - 1)
    def block(c):
        return (c[rows[:, 0]][:, cols[:, 0]] + c[rows[:, 0]][:, cols[:, 1]]
                + c[rows[:, 1]][:, cols[:, 0]] + c[rows[:, 1]][:, cols[:, 1]])
    R, G, B = block(r), block(g), block(b)
    c128 = 128 << 16
    cb = _clamp8(((k[3] * R + k[4] * G + k[5] * B) >> 2) + c128)
    cr = _clamp8(((k[6] * R + k[7] * G + k[8] * B) >> 2) + c128)
    return y.tobytes() + cb.tobytes() + cr.tobytes()


def write_y4m(path, frames, fps=(8, 1), full=False):
    """RGB uint8 [T, H, W, 3] → a 420jpeg y4m file as Y4MWriter writes it."""
    T, H, W, _ = frames.shape
    head = f"YUV4MPEG2 W{W} H{H} F{fps[0]}:{fps[1]} Ip A1:1 C420jpeg XCOLORRANGE={'FULL' if full else 'LIMITED'}\n"
    with open(path, "wb") as f:
        f.write(head.encode())
        for t in range(T):
            f.write(b"FRAME\n")
            f.write(rgb_to_yuv420(frames[t], full))
