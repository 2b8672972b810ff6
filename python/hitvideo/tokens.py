"""Clip-level encode and render between y4m frames and .hvt token clips, as hv-encode and hv-render do
(Sources/HVTokenizer/TokenFiles.swift, ClipDataset.swift `VideoTensor`): clips of framesPerClip frames, the last one
padded by repeating its last frame and its true length recorded; pixels p map to p / 127.5 − 1 and back with
round-half-away-from-zero and clamping to 0…255.
"""
import numpy as np
import torch

from . import checkpoint
from .hvt import HVTError, read_hvt, write_hvt
from .y4m import read_y4m, write_y4m


def frames_to_tensor(frames, clip_frames):
    """uint8 [n, H, W, 3] (n ≤ clip_frames) → float32 [1, 3, clip_frames, H, W] in [−1, 1], padded with the last."""
    if len(frames) < clip_frames:
        frames = np.concatenate([frames, np.repeat(frames[-1:], clip_frames - len(frames), axis=0)])
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(torch.float32) / 127.5 - 1
    return x.permute(3, 0, 1, 2).unsqueeze(0).contiguous()


def tensor_to_frames(x, count):
    """[1, 3, T, H, W] → uint8 [count, H, W, 3]."""
    v = (x[0, :, :count].permute(1, 2, 3, 0) + 1) * 127.5
    return torch.floor(v + 0.5).clamp(0, 255).to(torch.uint8).numpy()


def hvt_header(model, source=""):
    name, h = checkpoint.token_identity(model).rsplit("@", 1)
    cfg = model.config
    return {"tokenizer_name": name, "tokenizer_hash": h, "fps": [cfg.fps, 1], "width": cfg.frame_size,
            "height": cfg.frame_size, "frames_per_clip": cfg.frames_per_clip, "mask_strategy": "none", "mask_ratio": 0.0,
            "source": source, "layers": [{"name": n, "grid": list(g), "bits": b, "present": True} for n, g, b in cfg.layers]}


def encode_frames(model, frames):
    """uint8 [T, H, W, 3] → list of .hvt clip dicts (densest layer first in each clip's layer dict)."""
    cfg = model.config
    clips = []
    for s in range(0, len(frames), cfg.frames_per_clip):
        chunk = frames[s:s + cfg.frames_per_clip]
        idx = model.encode(frames_to_tensor(chunk, cfg.frames_per_clip))
        clips.append({"frame_count": len(chunk),
                      "layers": {n: idx[m][0].numpy().astype(np.uint32) for m, (n, _, _) in enumerate(cfg.layers)}})
    return clips


def encode_file(model, y4m_path, hvt_path, source=None):
    frames, h = read_y4m(y4m_path)
    cfg = model.config
    if h["width"] != cfg.frame_size or h["height"] != cfg.frame_size:
        raise ValueError(f"{y4m_path} is {h['width']}x{h['height']}; the model needs {cfg.frame_size}x{cfg.frame_size}")
    if h["fps"][0] != cfg.fps * h["fps"][1]:
        raise ValueError(f"{y4m_path} runs at {h['fps'][0]}:{h['fps'][1]} fps; the model needs {cfg.fps}")
    if len(frames) == 0:
        raise ValueError(f"{y4m_path} has no frames")
    write_hvt(hvt_path, hvt_header(model, y4m_path if source is None else source), encode_frames(model, frames))


def require_compatible(model, header):
    name, h = checkpoint.token_identity(model).rsplit("@", 1)
    if header["tokenizer_name"] != name or header["tokenizer_hash"] != h:
        raise HVTError(f"the file's tokens were made by {header['tokenizer_name']}@{header['tokenizer_hash'][:12]}…, "
                       f"not by this model ({name}@{h[:12]}…)")
    mine = [(n, list(g), b) for n, g, b in model.config.layers]
    theirs = [(l["name"], list(l["grid"]), l["bits"]) for l in header["layers"]]
    if mine != theirs:
        raise HVTError(f"the file's layer table {theirs} is not this model's {mine}")


def render_clips(model, header, clips, use=None):
    """→ uint8 [frames, H, W, 3] decoded from the layers in `use` (layer numbers; default every present layer)."""
    cfg = model.config
    names = [n for n, _, _ in cfg.layers]
    present = {i for i, l in enumerate(header["layers"]) if l["present"]}
    use = present if use is None else set(use) & present
    if not use:
        raise ValueError("none of the requested layers is present in the file")
    out = []
    for clip in clips:
        idx = [torch.from_numpy(clip["layers"][n].astype(np.int64))[None] if i in use else None
               for i, n in enumerate(names)]
        masks = [None if clip["masks"].get(n) is None or i not in use else torch.from_numpy(clip["masks"][n])[None]
                 for i, n in enumerate(names)]
        y = model.decode(idx, cfg.frames_per_clip, cfg.frame_size, cfg.frame_size, masks=masks,
                         strategy=header["mask_strategy"])
        out.append(tensor_to_frames(y, clip["frame_count"]))
    return np.concatenate(out)


def render_file(model, hvt_path, y4m_path, use=None):
    header, clips = read_hvt(hvt_path)
    require_compatible(model, header)
    write_y4m(y4m_path, render_clips(model, header, clips, use), fps=tuple(header["fps"]))
