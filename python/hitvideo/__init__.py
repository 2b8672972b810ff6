"""PyTorch twin of the HiTVideo hierarchical video tokenizer (Sources/HVTokenizer): builds the model from a
checkpoint's config.json, loads and saves its model.safetensors with the same names, dtypes and metadata, and
encodes y4m video to .hvt tokens and renders them back as hv-encode and hv-render do. Formats: formats/twin.md."""
from .config import PRESETS, ConfigError, TokenizerConfig, preset
from .checkpoint import CheckpointError, load, save, token_identity
from .model import HierarchicalTokenizer
from .tokens import encode_file, encode_frames, render_clips, render_file

__all__ = ["PRESETS", "ConfigError", "TokenizerConfig", "preset", "CheckpointError", "load", "save", "token_identity",
           "HierarchicalTokenizer", "encode_file", "encode_frames", "render_clips", "render_file"]
