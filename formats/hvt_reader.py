#!/usr/bin/env python3
"""Reference reader for .hvt token files (formats/hvt.md), for training loops outside Swift.

    from hvt_reader import read_hvt
    header, clips = read_hvt("a.hvt")
    clips[0]["layers"]["L0"]   # numpy uint32 array shaped (grid_t, grid_h, grid_w); 0 where masked
    clips[0]["masks"]["L0"]    # numpy bool array of the same shape, or None

Needs numpy and zstandard. `python3 hvt_reader.py FILE --json` prints everything as JSON.
"""
import json
import struct
import sys

import numpy as np

MAGIC = b"\x89HVT\r\n\x1a\n"
VERSION_MAJOR = 1
MAX_PAYLOAD = 64 << 20


class HVTError(Exception):
    pass


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _crc32c.table
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def _make_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_crc32c.table = _make_table()


class _Cursor:
    def __init__(self, data: bytes, context: str):
        self.data, self.pos, self.context = data, 0, context

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise HVTError(f"{self.context}: field runs past the end of the record")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self): return self.take(1)[0]
    def u16(self): return struct.unpack("<H", self.take(2))[0]
    def u32(self): return struct.unpack("<I", self.take(4))[0]
    def u64(self): return struct.unpack("<Q", self.take(8))[0]
    def f32(self): return struct.unpack("<f", self.take(4))[0]
    def str16(self): return self.take(self.u16()).decode("utf-8")


def _unpack(data: bytes, count: int, bits: int) -> np.ndarray:
    """LSB-first bit unpacking of `count` values of `bits` bits."""
    if count == 0:
        return np.zeros(0, dtype=np.uint32)
    raw = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")[: count * bits]
    weights = (1 << np.arange(bits, dtype=np.uint64))
    return (raw.reshape(count, bits).astype(np.uint64) @ weights).astype(np.uint32)


def _records(f):
    offset = 12
    while True:
        head = f.read(8)
        if len(head) == 0:
            raise HVTError(f"truncated at byte {offset}: the end record (HEND) is missing")
        if len(head) < 8:
            raise HVTError(f"truncated at byte {offset + len(head)} in a record header")
        rtype = head[:4].decode("ascii", "replace")
        (length,) = struct.unpack("<I", head[4:])
        if length > MAX_PAYLOAD:
            raise HVTError(f"{rtype} record at byte {offset} claims {length} bytes")
        payload = f.read(length)
        crc = f.read(4)
        if len(payload) < length or len(crc) < 4:
            raise HVTError(f"truncated at byte {offset + 8 + len(payload) + len(crc)} in the {rtype} record")
        if _crc32c(head + payload) != struct.unpack("<I", crc)[0]:
            raise HVTError(f"checksum mismatch in {rtype} record at byte {offset}")
        yield offset, rtype, payload
        offset += 12 + length


def read_hvt(path):
    """Returns (header dict, list of clip dicts)."""
    with open(path, "rb") if path != "-" else sys.stdin.buffer as f:
        if f.read(8) != MAGIC:
            raise HVTError(f"{path} is not an .hvt file")
        major, minor = struct.unpack("<HH", f.read(4))
        if major != VERSION_MAJOR:
            raise HVTError(f".hvt version {major}.{minor} is not supported")
        records = _records(f)
        _, rtype, payload = next(records)
        if rtype != "HVTH":
            raise HVTError("the first record is not HVTH")
        c = _Cursor(payload, "HVTH")
        header = {"tokenizer_name": c.str16(), "tokenizer_hash": c.take(32).hex(),
                  "fps": [c.u32(), c.u32()], "width": c.u16(), "height": c.u16(), "frames_per_clip": c.u16(),
                  "mask_strategy": ["none", "repeat", "zero", "learned"][c.u8()], "mask_ratio": c.f32(),
                  "source": c.str16(), "layers": []}
        for _ in range(c.u8()):
            header["layers"].append({"name": c.str16(), "grid": [c.u16(), c.u16(), c.u16()],
                                     "bits": c.u8(), "present": bool(c.u8())})
        # 1.1: hv-mask's record (absent when unmasked, or masked by a 1.0 writer); later fields are ignored.
        header["masked_layers"], header["mask_seed"] = None, None
        if c.pos < len(c.data):
            bits = c.u16()
            header["masked_layers"] = [i for i in range(16) if bits >> i & 1]
            header["mask_seed"] = struct.unpack("<Q", c.take(8))[0]
        clips, total = [], 0
        import zstandard  # on use, so that importers that never read a file need only numpy
        dctx = zstandard.ZstdDecompressor()
        for offset, rtype, payload in records:
            if rtype == "CLIP":
                c = _Cursor(payload, f"CLIP at byte {offset}")
                index, frames, sections = c.u32(), c.u16(), c.u8()
                if index != len(clips):
                    raise HVTError(f"clip {index} where {len(clips)} was expected")
                layers, masks = {}, {}
                present = [l for l in header["layers"] if l["present"]]
                if sections != len(present):
                    raise HVTError(f"clip {index}: {sections} sections, header has {len(present)} present layers")
                for info in present:
                    flags, stored, clen = c.u8(), c.u32(), c.u32()
                    n = int(np.prod(info["grid"]))
                    raw = dctx.decompress(c.take(clen))
                    mask = None
                    pos = 0
                    if flags & 1:
                        nb = (n + 7) // 8
                        mask = np.unpackbits(np.frombuffer(raw[:nb], dtype=np.uint8), bitorder="little")[:n].astype(bool)
                        pos = nb
                    values = _unpack(raw[pos:], stored, info["bits"])
                    idx = np.zeros(n, dtype=np.uint32)
                    if mask is not None:
                        idx[~mask] = values
                    else:
                        idx[:] = values
                    layers[info["name"]] = idx.reshape(info["grid"])
                    masks[info["name"]] = None if mask is None else mask.reshape(info["grid"])
                    total += n
                clips.append({"frame_count": frames, "layers": layers, "masks": masks})
            elif rtype == "HEND":
                c = _Cursor(payload, "HEND")
                count, tokens = c.u32(), c.u64()
                if count != len(clips) or tokens != total:
                    raise HVTError(f"HEND says {count} clips / {tokens} tokens, read {len(clips)} / {total}")
                return header, clips
            elif rtype[0].isupper():
                raise HVTError(f"unknown critical record {rtype} at byte {offset}")
    raise HVTError("truncated: no HEND record")


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    try:
        header, clips = read_hvt(sys.argv[1])
    except HVTError as e:
        print(f"hvt_reader: error: {e}", file=sys.stderr)
        return 65
    if "--json" in sys.argv:
        out = {"header": header, "clips": [{"frame_count": c["frame_count"],
               "layers": {k: v.flatten().tolist() for k, v in c["layers"].items()},
               "masks": {k: (None if v is None else v.flatten().astype(int).tolist()) for k, v in c["masks"].items()}}
               for c in clips]}
        json.dump(out, sys.stdout)
    else:
        print(f"{header['tokenizer_name']} {len(clips)} clips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
