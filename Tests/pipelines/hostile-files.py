#!/usr/bin/env python3
"""Writes the crafted inputs of Tests/pipelines/test-hostile.sh into DIR:

    hostile-files.py DIR MODEL_DIR NAME@SHA256

Token files are written byte by byte after formats/hvt.md (not by the tools under test), so that a writer bug
cannot hide a reader bug; y4m files after the YUV4MPEG2 header rules.
  ok.hvt           2 clips of seeded random tokens in the shipped model's geometry and identity (renders)
  many.hvt         3000 tiny clips: hv-info prints ~270 KB (more than a pipe holds)
  large.hvt        the largest legal clip (one 1x4096x4096 layer at 20 bits = 2^24 tokens), 8 of them, all zero:
                   a few KB on disk, 64 MiB of indices per clip once read
  bomb-layers.hvt  the issue's file: 16 such layers (2^28 tokens a clip; over the limit)
  bomb-payload.hvt a CLIP record that claims 4 GiB
  bomb-zstd.hvt    a layer section whose zstd frame says it holds 1 TiB
  nosize.hvt       a layer section whose zstd frame does not state its size
  wide.hvt         65535 pixels wide over 16x16 grids
  huge.y4m         a 16384x16384 y4m header (legal) with the start of one frame
  bomb-dims.y4m    a 100000x100000 y4m header
  endless.y4m      a header line 100 000 bytes long without its newline
  purple.y4m       XCOLORRANGE=PURPLE
  crlf-full.y4m, lf-full.y4m, lf-limited.y4m   the same 64x64 frames with the header ended by CRLF or LF
  big.y4m          one 4096x4096 frame (legal: hv-metrics' largest)
"""
import json
import os
import random
import struct
import sys

import zstandard


def crc32c(data, _table=[]):
    if not _table:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _table.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _table[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def record(kind, payload, claimed=None):
    head = kind + struct.pack("<I", len(payload) if claimed is None else claimed)
    return head + payload + struct.pack("<I", crc32c(head + payload))


def str16(s):
    b = s.encode()
    return struct.pack("<H", len(b)) + b


def pack(values, bits):
    acc, nacc, out = 0, 0, bytearray()
    for v in values:
        acc |= v << nacc
        nacc += bits
        while nacc >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nacc -= 8
    if nacc:
        out.append(acc & 0xFF)
    return bytes(out)


def hvt(path, layers, clips, size, name="hostile", hash_hex="00" * 32, fpc=64, section=None):
    """layers: [(name, t, h, w, bits)]; clips: list of per-layer index lists (None: all zero)."""
    w, h = size
    head = str16(name) + bytes.fromhex(hash_hex) + struct.pack("<IIHHHBf", 8, 1, w, h, fpc, 0, 0.0)
    head += str16("Tests/pipelines/hostile-files.py") + bytes([len(layers)])
    for (ln, t, gh, gw, bits) in layers:
        head += str16(ln) + struct.pack("<HHHBB", t, gh, gw, bits, 1)
    out = b"\x89HVT\r\n\x1a\n" + struct.pack("<HH", 1, 0) + record(b"HVTH", head)
    cctx = zstandard.ZstdCompressor(level=19, write_content_size=True)
    cache = {}
    total = 0
    for k, clip in enumerate(clips):
        body = struct.pack("<IHB", k, fpc, len(layers))
        for m, (ln, t, gh, gw, bits) in enumerate(layers):
            n = t * gh * gw
            total += n
            if clip is None:
                key = (n, bits)
                if key not in cache:
                    cache[key] = cctx.compress(bytes((n * bits + 7) // 8))
                data = cache[key]
            else:
                data = cctx.compress(pack(clip[m], bits))
            if section is not None:
                data = section
            body += bytes([0]) + struct.pack("<II", n, len(data)) + data
        out += record(b"CLIP", body)
    out += record(b"HEND", struct.pack("<IQQ", len(clips), total, total))
    with open(path, "wb") as f:
        f.write(out)


def y4m(path, w, h, frames, header_end=b"\n", tags=b"", frame_bytes=None):
    with open(path, "wb") as f:
        f.write(b"YUV4MPEG2 W%d H%d F8:1 Ip A1:1 C420jpeg" % (w, h) + tags + header_end)
        for fr in frames:
            f.write(b"FRAME\n")
            f.write(fr if frame_bytes is None else fr[:frame_bytes])


def main():
    out, model, identity = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(out, exist_ok=True)
    name, hash_hex = identity.split("@")
    cfg = json.load(open(os.path.join(model, "config.json")))
    table = [(l["name"], l["grid"]["t"], l["grid"]["h"], l["grid"]["w"], l["bits"]) for l in cfg["layers"]]
    rng = random.Random(18)
    clips = [[[rng.randrange(1 << l[4]) for _ in range(l[1] * l[2] * l[3])] for l in table] for _ in range(2)]
    side = cfg["frameSize"]
    hvt(f"{out}/ok.hvt", table, clips, (side, side), name, hash_hex, cfg["framesPerClip"])
    hvt(f"{out}/many.hvt", [("L0", 1, 4, 4, 4)], [None] * 3000, (4, 4), fpc=1)
    hvt(f"{out}/large.hvt", [("L0", 1, 4096, 4096, 20)], [None] * 8, (4096, 4096), fpc=1)
    hvt(f"{out}/bomb-layers.hvt", [(f"L{i}", 1, 4096, 4096, 20) for i in range(16)], [None] * 4, (4096, 4096), fpc=1)
    hvt(f"{out}/wide.hvt", [("L0", 1, 16, 16, 4)], [None], (65535, 256), fpc=1)
    # A zstd frame header that states a content size of 2^40 bytes, then nothing.
    tera = b"\x28\xb5\x2f\xfd" + bytes([0xE0]) + struct.pack("<Q", 1 << 40) + b"\x01\x00\x00"
    hvt(f"{out}/bomb-zstd.hvt", [("L0", 1, 16, 16, 4)], [None], (16, 16), fpc=1, section=tera)
    nosize = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(128))
    hvt(f"{out}/nosize.hvt", [("L0", 1, 16, 16, 4)], [None], (16, 16), fpc=1, section=nosize)
    # A valid header, then a CLIP record claiming 0xFFFFFFF0 bytes (the reader must not allocate them).
    hvt(f"{out}/bomb-payload.hvt", [("L0", 1, 16, 16, 4)], [], (16, 16), fpc=1)
    data = open(f"{out}/bomb-payload.hvt", "rb").read()
    end = data.rindex(b"HEND")
    with open(f"{out}/bomb-payload.hvt", "wb") as f:
        f.write(data[:end] + b"CLIP" + struct.pack("<I", 0xFFFFFFF0) + bytes(64))

    y4m(f"{out}/huge.y4m", 16384, 16384, [bytes(4096)])
    y4m(f"{out}/bomb-dims.y4m", 100000, 100000, [bytes(4096)])
    with open(f"{out}/endless.y4m", "wb") as f:
        f.write(b"YUV4MPEG2 W64 H64 F8:1 " + b"X" * 100000)
    frame = bytes(range(256)) * (64 * 64 * 3 // 2 // 256)
    frames = [frame[i:] + frame[:i] for i in range(0, 64, 8)]
    y4m(f"{out}/purple.y4m", 64, 64, frames, tags=b" XCOLORRANGE=PURPLE")
    y4m(f"{out}/crlf-full.y4m", 64, 64, frames, header_end=b"\r\n", tags=b" XCOLORRANGE=FULL")
    y4m(f"{out}/lf-full.y4m", 64, 64, frames, tags=b" XCOLORRANGE=FULL")
    y4m(f"{out}/lf-limited.y4m", 64, 64, frames, tags=b" XCOLORRANGE=LIMITED")
    y4m(f"{out}/big.y4m", 4096, 4096, [bytes(4096 * 4096 * 3 // 2)])


if __name__ == "__main__":
    main()
