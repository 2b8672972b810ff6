"""Tokenizer checkpoints (Sources/HVTokenizer/TokenizerCheckpoint.swift, formats/tokenizer.md): a folder holding
`config.json` and `model.safetensors` (F32, BF16 or F16), read and written as the Swift engine does.

Loading is strict: a missing, extra or mis-shaped tensor is an error naming it. Conv weights are stored in the
engine's [kt, kh, kw, Cin, Cout] and held by the twin as PyTorch's [Cout, Cin, kt, kh, kw]. Saving writes the bytes
SafeTensors.swift writes (tensors sorted by name, compact JSON header with sorted keys and "/" escaped, padded with
spaces to a multiple of 8, bf16 rounded to nearest even), so a checkpoint loaded and saved unchanged keeps its
SHA-256 and with it its identity in .hvt headers.
"""
import hashlib
import json
import os
import struct

import numpy as np
import torch

from .config import TokenizerConfig
from .model import HierarchicalTokenizer

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENS_OF_KEY = "tokens_of"
_DTYPES = {"F32": (torch.float32, 4), "BF16": (torch.bfloat16, 2), "F16": (torch.float16, 2)}


class CheckpointError(Exception):
    """A checkpoint that cannot be read or does not fit its config; the message names the file or tensor."""


def read_safetensors(path):
    """→ (dict name → float32 tensor in the file's layout, metadata dict, dict name → stored dtype)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise CheckpointError(f"{path} is too short to be safetensors")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise CheckpointError(f"{path}: header length {n} runs past the end of the file")
    try:
        header = json.loads(data[8:8 + n])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: header is not JSON ({e})") from None
    meta = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n:]
    tensors, dtypes = {}, {}
    for name, info in header.items():
        if info["dtype"] not in _DTYPES:
            raise CheckpointError(f"{path}: tensor {name} has dtype {info['dtype']}; F32, BF16 and F16 are read")
        dt, size = _DTYPES[info["dtype"]]
        a, b = info["data_offsets"]
        count = int(np.prod(info["shape"])) if info["shape"] else 1
        if b - a != count * size or b > len(body):
            raise CheckpointError(f"{path}: tensor {name} has {b - a} bytes for shape {info['shape']}")
        raw = torch.frombuffer(bytearray(body[a:b]), dtype=dt) if count else torch.zeros(0, dtype=dt)
        tensors[name] = raw.to(torch.float32).reshape(info["shape"])
        dtypes[name] = info["dtype"]
    return tensors, meta, dtypes


def write_safetensors(path, tensors, dtype="F32", metadata=None):
    """Writes name → float32 tensor (engine layout) as SafeTensors.swift does, atomically."""
    dt, size = _DTYPES[dtype]
    names = sorted(tensors)
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for n in names:
        count = tensors[n].numel()
        header[n] = {"data_offsets": [offset, offset + count * size], "dtype": dtype, "shape": list(tensors[n].shape)}
        offset += count * size
    js = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/").encode()
    js += b" " * (-len(js) % 8)
    parts = [struct.pack("<Q", len(js)), js]
    for n in names:
        t = tensors[n].detach().to(torch.float32).contiguous().cpu()
        if dtype == "BF16":
            # Round to nearest even on the bit pattern, as Half.floatToBF16 (NaN kept quiet).
            bits = t.view(torch.int32).numpy().astype(np.uint32)
            out = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
            nan = np.isnan(t.numpy())
            out[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)
            parts.append(out.astype("<u2").tobytes())
        elif dtype == "F16":
            parts.append(t.numpy().astype("<f2").tobytes())
        else:
            parts.append(t.numpy().astype("<f4").tobytes())
    _write_atomically(path, b"".join(parts))


def _write_atomically(path, data):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def to_engine(name, t):
    """PyTorch layout → the engine's (conv weights [Cout, Cin, kt, kh, kw] → [kt, kh, kw, Cin, Cout])."""
    return t.permute(2, 3, 4, 1, 0) if t.dim() == 5 else t


def from_engine(name, t):
    return t.permute(4, 3, 0, 1, 2) if t.dim() == 5 else t


def identity(directory):
    """(config name, SHA-256 hex of config.json followed by model.safetensors)."""
    h = hashlib.sha256()
    name = "unknown"
    for f in (CONFIG_FILE, WEIGHTS_FILE):
        with open(os.path.join(directory, f), "rb") as fh:
            data = fh.read()
        h.update(data)
        if f == CONFIG_FILE:
            try:
                name = json.loads(data)["name"]
            except (ValueError, KeyError, TypeError):
                pass
    return name, h.hexdigest()


def load(directory) -> HierarchicalTokenizer:
    cfg_path, w_path = os.path.join(directory, CONFIG_FILE), os.path.join(directory, WEIGHTS_FILE)
    if not (os.path.isfile(cfg_path) and os.path.isfile(w_path)):
        raise CheckpointError(f"{directory} is not a tokenizer checkpoint (it needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    with open(cfg_path, "rb") as f:
        cfg = TokenizerConfig.from_json(f.read())
    model = HierarchicalTokenizer(cfg)
    tensors, meta, dtypes = read_safetensors(w_path)
    load_tensors(model, tensors, w_path)
    if TOKENS_OF_KEY in meta:
        t = meta[TOKENS_OF_KEY]
        if "@" not in t or len(t.split("@")[-1]) != 64:
            raise CheckpointError(f"{w_path}: metadata {TOKENS_OF_KEY} '{t[:80]}' is not name@sha256")
        model.tokens_of = t
    model.metadata = meta
    model.storage = "BF16" if any(d == "BF16" for d in dtypes.values()) else ("F16" if any(d == "F16" for d in dtypes.values()) else "F32")
    model.identity = identity(directory)
    return model


def load_tensors(model, tensors, where):
    """Strict copy of engine-layout tensors into the model."""
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    if missing:
        raise CheckpointError(f"{where}: tensor {missing[0]} is missing ({len(missing)} missing)")
    if extra:
        raise CheckpointError(f"{where}: tensor {extra[0]} is not part of a {model.config.name} model")
    with torch.no_grad():
        for name, p in own.items():
            t = from_engine(name, tensors[name])
            if tuple(t.shape) != tuple(p.shape):
                raise CheckpointError(f"{where}: tensor {name} is {list(tensors[name].shape)}, the model needs "
                                      f"{list(to_engine(name, p).shape)}")
            p.copy_(t)


def engine_tensors(model):
    return {n: to_engine(n, p.detach().float().cpu()) for n, p in model.state_dict().items()}


def save(model, directory, storage="F32", metadata=None):
    """Writes config.json and model.safetensors (metadata: format, config_name, tokens_of when set, plus any
    given) into `directory`; returns the new identity (name, sha256)."""
    storage = storage.upper()
    if storage not in _DTYPES:
        raise CheckpointError(f"storage {storage} is not F32, BF16 or F16")
    if storage != "F32" and model.tokens_of:
        for p in model.token_parameters():
            if not torch.equal(p.detach().to(_DTYPES[storage][0]).float(), p.detach().float()):
                raise CheckpointError(f"a weight that decides tokens is not exactly {storage}, so storing it so could "
                                      f"change the tokens of {model.tokens_of} this checkpoint must keep; store F32")
    os.makedirs(directory, exist_ok=True)
    _write_atomically(os.path.join(directory, CONFIG_FILE), model.config.canonical_json())
    meta = dict(metadata or {})
    meta["format"] = "hitvideo-tokenizer"
    meta["config_name"] = model.config.name
    if model.tokens_of:
        meta[TOKENS_OF_KEY] = model.tokens_of
    write_safetensors(os.path.join(directory, WEIGHTS_FILE), engine_tensors(model), storage, meta)
    model.identity = identity(directory)
    return model.identity


def token_identity(model):
    """name@sha256 that .hvt headers carry: tokens_of after a frozen-token fine-tune, else the model's own."""
    if model.tokens_of:
        return model.tokens_of
    name, h = getattr(model, "identity", None) or (model.config.name, "0" * 64)
    return f"{name}@{h}"
