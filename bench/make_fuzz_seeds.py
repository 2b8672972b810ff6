#!/usr/bin/env python3
"""Writes small valid .hvt files as a seed corpus for the .hvt fuzzer (formats/hvt.md layout)."""
import os
import struct
import sys

import zstandard


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def record(t, payload):
    head = t.encode() + struct.pack("<I", len(payload))
    return head + payload + struct.pack("<I", crc32c(head + payload))


def str16(s):
    b = s.encode()
    return struct.pack("<H", len(b)) + b


def hvt(clips, bits=5, grid=(1, 2, 2), mask=False):
    header = str16("seed") + bytes(32) + struct.pack("<IIHHHBf", 8, 1, 16, 16, 8, 1 if mask else 0, 0.5) + str16("seed")
    header += bytes([1]) + str16("L0") + struct.pack("<HHHBB", *grid, bits, 1)
    out = b"\x89HVT\r\n\x1a\n" + struct.pack("<HH", 1, 0) + record("HVTH", header)
    n = grid[0] * grid[1] * grid[2]
    for i in range(clips):
        bitmap = bytes([0b0010]) if mask else b""
        stored = n - (1 if mask else 0)
        packed = bytes((stored * bits + 7) // 8)
        z = zstandard.ZstdCompressor().compress(bitmap + packed)
        payload = struct.pack("<IHB", i, 8, 1) + struct.pack("<BII", 1 if mask else 0, stored, len(z)) + z
        out += record("CLIP", payload)
    return out + record("HEND", struct.pack("<IQQ", clips, clips * n, clips * (n - (1 if mask else 0))))


d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for k, data in enumerate([hvt(0), hvt(1), hvt(2, mask=True), hvt(1, bits=20, grid=(2, 3, 1))]):
    open(os.path.join(d, f"seed{k}.hvt"), "wb").write(data)
