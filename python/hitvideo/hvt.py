"""`.hvt` files (formats/hvt.md): reading through formats/hvt_reader.py (shipped in this package as hvt_reader), and
a writer with the same layout as HVTWriter.swift. The writer emits version 1.0 for unmasked files and 1.1, with the
header's mask record (masked layers, seed), for masked ones; a 1.0 reader reads both. A file read and written again
keeps its bytes wherever the zstd library compresses as Swift's does (small sections do; large ones may differ by a
few bytes between zstd versions, with the same tokens).
"""
import struct

import numpy as np

from .hvt_reader import HVTError, MAGIC, _crc32c, read_hvt  # noqa: F401  (re-exported)

VERSION_MAJOR, VERSION_MINOR = 1, 1
STRATEGIES = ["none", "repeat", "zero", "learned"]


def _str16(s):
    b = s.encode("utf-8")
    return struct.pack("<H", len(b)) + b


def _record(rtype, payload):
    frame = rtype.encode("ascii") + struct.pack("<I", len(payload)) + payload
    return frame + struct.pack("<I", _crc32c(frame))


def _pack(values, bits):
    """LSB-first bit packing of `values` at `bits` bits each."""
    v = np.asarray(values, dtype=np.uint64).reshape(-1)
    if v.size == 0:
        return b""
    raw = ((v[:, None] >> np.arange(bits, dtype=np.uint64)) & 1).astype(np.uint8).reshape(-1)
    return np.packbits(raw, bitorder="little").tobytes()


def header_payload(h):
    """h: tokenizer_name, tokenizer_hash (hex), fps [num, den], width, height, frames_per_clip, layers (name, grid,
    bits, present), optional mask_strategy, mask_ratio, source, masked_layers, mask_seed."""
    strategy = h.get("mask_strategy", "none")
    p = _str16(h["tokenizer_name"]) + bytes.fromhex(h["tokenizer_hash"])
    p += struct.pack("<IIHHH", h["fps"][0], h["fps"][1], h["width"], h["height"], h["frames_per_clip"])
    p += struct.pack("<Bf", STRATEGIES.index(strategy), h.get("mask_ratio", 0.0))
    p += _str16(h.get("source", ""))
    p += struct.pack("<B", len(h["layers"]))
    for l in h["layers"]:
        p += _str16(l["name"]) + struct.pack("<HHHBB", *l["grid"], l["bits"], 1 if l.get("present", True) else 0)
    if recorded_mask(h):
        p += struct.pack("<HQ", sum(1 << i for i in h["masked_layers"]), h.get("mask_seed") or 0)
    return p


def recorded_mask(h):
    """Whether the header carries the 1.1 mask record: masked, with its layers known (a masked file from a 1.0
    writer, read back, has none and is written again as 1.0)."""
    return h.get("mask_strategy", "none") != "none" and h.get("masked_layers") is not None


def write_hvt(path, header, clips, level=19):
    """clips: dicts with frame_count and layers {name: int array over the layer grid}, optionally masks
    {name: bool array or None}. Layers the header marks absent are not written."""
    strategy = header.get("mask_strategy", "none")
    out = [MAGIC, struct.pack("<HH", VERSION_MAJOR, VERSION_MINOR if recorded_mask(header) else 0),
           _record("HVTH", header_payload(header))]
    import zstandard  # here, not at the top: training imports this package where zstandard may be absent
    cctx = zstandard.ZstdCompressor(level=level)
    present = [l for l in header["layers"] if l.get("present", True)]
    total = stored_total = 0
    for i, clip in enumerate(clips):
        p = struct.pack("<IHB", i, clip["frame_count"], len(present))
        for l in present:
            idx = np.asarray(clip["layers"][l["name"]], dtype=np.uint32).reshape(-1)
            n = int(np.prod(l["grid"]))
            if idx.size != n:
                raise HVTError(f"clip {i} layer {l['name']}: {idx.size} tokens, the grid holds {n}")
            if int(idx.max(initial=0)) >= 1 << l["bits"]:
                raise HVTError(f"clip {i} layer {l['name']}: an index does not fit in {l['bits']} bits")
            mask = (clip.get("masks") or {}).get(l["name"])
            section = b""
            if mask is not None:
                mask = np.asarray(mask, dtype=bool).reshape(-1)
                section = np.packbits(mask.astype(np.uint8), bitorder="little").tobytes()
                idx = idx[~mask]
            section += _pack(idx, l["bits"])
            data = cctx.compress(section)
            p += struct.pack("<BII", 0 if mask is None else 1, idx.size, len(data)) + data
            total += n
            stored_total += idx.size
        out.append(_record("CLIP", p))
    out.append(_record("HEND", struct.pack("<IQQ", len(clips), total, stored_total)))
    with open(path, "wb") as f:
        f.write(b"".join(out))
