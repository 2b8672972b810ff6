"""PyTorch twin of the HiTVideo hierarchical video tokenizer (Sources/HVTokenizer): builds the model from a
checkpoint's config.json, loads and saves its model.safetensors with the same names, dtypes and metadata, and
encodes y4m video to .hvt tokens and renders them back as hv-encode and hv-render do. Formats: formats/twin.md.

The names below are imported on first use (PEP 562), so that the numpy-only modules (`hitvideo.y4m`) load where
torch is not installed: pipelines/linear-code-bound.py and pipelines/gpu-kit.py read y4m through them."""
import importlib

_HOME = {"PRESETS": "config", "ConfigError": "config", "TokenizerConfig": "config", "preset": "config",
         "CheckpointError": "checkpoint", "load": "checkpoint", "save": "checkpoint", "token_identity": "checkpoint",
         "HierarchicalTokenizer": "model", "encode_file": "tokens", "encode_frames": "tokens",
         "render_clips": "tokens", "render_file": "tokens"}

__all__ = list(_HOME)


def __getattr__(name):
    if name not in _HOME:
        raise AttributeError(f"module 'hitvideo' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value
