"""Tokenizer configuration as data: the `config.json` of a checkpoint (Sources/HVTokenizer/TokenizerConfig.swift).

The dict read from config.json is kept as it is, so that saving writes back the same keys (absent optional keys
stay absent) in the bytes Swift's JSONEncoder writes (sorted keys, two-space indent, " : "); the checkpoint's
identity hashes those bytes, so a config that crosses Swift -> PyTorch -> Swift keeps its hash.
"""
import copy
import json


class ConfigError(ValueError):
    """A config.json that is not a tokenizer config, or whose geometry does not add up."""


def _size(d):
    return (int(d["t"]), int(d["h"]), int(d["w"]))


def _s3(t, h, w):
    return {"t": t, "h": h, "w": w}


class TokenizerConfig:
    """Read-only view of a config dict with the defaults of the Swift optionals."""

    def __init__(self, data: dict):
        try:
            self.data = copy.deepcopy(data)
            self.name = str(data["name"])
            self.frames_per_clip = int(data["framesPerClip"])
            self.frame_size = int(data["frameSize"])
            self.fps = int(data["fps"])
            self.patch = _size(data["patch"])
            self.stages = [(int(s["channels"]), int(s["blocks"]), _size(s["down"])) for s in data["stages"]]
            self.latent_channels = int(data["latentChannels"])
            self.layers = [(str(l["name"]), _size(l["grid"]), int(l["bits"])) for l in data["layers"]]
            self.norm_groups = int(data["normGroups"])
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"config.json is not a tokenizer config (missing or bad field {e})") from None
        self.encoder_size = data.get("encoderSize")
        self.output_norm = data.get("outputNorm", True)
        self.norm = data.get("norm", "group")
        if self.norm not in ("group", "rms"):
            raise ConfigError(f"config {self.name}: norm '{self.norm}' is neither group nor rms")
        self.shortcuts = bool(data.get("shortcuts", False))
        self.decoder_channels = data.get("decoderChannels")
        self.decoder_blocks = data.get("decoderBlocks")
        self.norm_epsilon = float(data.get("normEpsilon", 1e-6))
        self.lookahead = int(data.get("decoderLookahead", 0) or 0)
        self.pointwise_coarse_down = bool(data.get("pointwiseCoarseDown", False))
        self.frame_branches = bool(data.get("frameBranches", False))
        self.validate()

    # Derived geometry, as in TokenizerConfig.swift.
    @property
    def decoder_stages(self):
        widths = self.decoder_channels or [c for c, _, _ in self.stages]
        blocks = self.decoder_blocks or [b for _, b, _ in self.stages]
        return [(w, b, d) for (_, _, d), w, b in zip(self.stages, widths, blocks)]

    @property
    def total_down(self):
        t, h, w = self.patch
        for _, _, d in self.stages:
            t, h, w = t * d[0], h * d[1], w * d[2]
        return (t, h, w)

    @property
    def latent_grid(self):
        d, s = self.total_down, self.encoder_size or self.frame_size
        return (self.frames_per_clip // d[0], s // d[1], s // d[2])

    def pool(self, i):
        g, l = self.latent_grid, self.layers[i][1]
        return (g[0] // l[0], g[1] // l[1], g[2] // l[2])

    def validate(self):
        def fail(s):
            raise ConfigError(f"config {self.name}: {s}")
        d, s = self.total_down, self.encoder_size or self.frame_size
        if self.frames_per_clip % d[0] or s % d[1] or s % d[2]:
            fail(f"clip {self.frames_per_clip}x{s}x{s} is not divisible by the encoder's total down-sampling {d}")
        if not self.layers:
            fail("there are no token layers")
        g = self.latent_grid
        for i, (_, grid, bits) in enumerate(self.layers):
            if not 1 <= bits <= 20:
                fail(f"layer {i} has {bits} bits; 1...20 are supported")
            if min(grid) <= 0 or any(a % b for a, b in zip(g, grid)):
                fail(f"layer {i} grid {grid} does not divide the latent grid {g}")
        if self.decoder_channels is not None:
            if len(self.decoder_channels) != len(self.stages) or min(self.decoder_channels) <= 0:
                fail(f"decoderChannels needs one positive width per stage ({len(self.stages)})")
        if self.decoder_blocks is not None:
            if len(self.decoder_blocks) != len(self.stages) or min(self.decoder_blocks) < 0:
                fail(f"decoderBlocks needs one block count (0 or more) per stage ({len(self.stages)})")
        widths = [c for c, _, _ in self.stages + self.decoder_stages]
        if self.norm == "group":
            if self.norm_groups <= 0 or any(c % self.norm_groups for c in widths + [self.latent_channels]):
                fail(f"every stage's channels must be a multiple of normGroups {self.norm_groups}")
        if self.shortcuts and (min(widths) < 3 or self.latent_channels < 3):
            fail("colour shortcuts need at least 3 channels in every stage and in the latent")

    def canonical_json(self) -> bytes:
        """The bytes Swift's JSONEncoder([.sortedKeys, .prettyPrinted]) writes for this config."""
        return json.dumps(self.data, indent=2, sort_keys=True, separators=(",", " : "), ensure_ascii=False).encode()

    @staticmethod
    def from_json(data: bytes) -> "TokenizerConfig":
        try:
            return TokenizerConfig(json.loads(data))
        except json.JSONDecodeError as e:
            raise ConfigError(f"config.json is not JSON ({e})") from None


def _stage(c, b, d):
    return {"channels": c, "blocks": b, "down": _s3(*d)}


def _layer(name, grid, bits):
    return {"name": name, "grid": _s3(*grid), "bits": bits}


_PAPER_LAYERS = [_layer("L0", (8, 16, 16), 18), _layer("L1", (4, 8, 8), 16), _layer("L2", (2, 8, 8), 14),
                 _layer("L3", (1, 4, 4), 12)]
_SMALL_STAGES = [_stage(32, 1, (2, 2, 2)), _stage(64, 2, (2, 2, 2)), _stage(128, 2, (1, 1, 1))]


def _base(name, stages, latent, layers, groups, frames=64, size=256, **extra):
    d = {"name": name, "framesPerClip": frames, "frameSize": size, "fps": 8, "patch": _s3(2, 4, 4),
         "stages": stages, "latentChannels": latent, "layers": layers, "normGroups": groups}
    d.update(extra)
    return d


def _presets():
    p = {}
    p["paper"] = _base("hitvideo-paper", [_stage(128, 2, (2, 2, 2)), _stage(256, 2, (2, 2, 2)), _stage(512, 2, (1, 1, 1))],
                       256, _PAPER_LAYERS, 32)
    p["small"] = _base("hitvideo-small", _SMALL_STAGES, 128, _PAPER_LAYERS, 8)
    p["small2"] = _base("hitvideo-small2", _SMALL_STAGES, 128, _PAPER_LAYERS, 8, outputNorm=True, norm="rms",
                        decoderChannels=[48, 96, 192])
    p["single"] = _base("hitvideo-single", _SMALL_STAGES, 128, [_layer("L0", (8, 17, 17), 18)], 8, encoderSize=272)
    p["tiny"] = _base("hitvideo-tiny", [_stage(8, 1, (2, 2, 2)), _stage(16, 1, (1, 1, 1))], 16,
                      [_layer("L0", (2, 4, 4), 6), _layer("L1", (1, 2, 2), 4)], 4, frames=8, size=32)
    p["tiny2"] = dict(copy.deepcopy(p["tiny"]), name="hitvideo-tiny2", norm="rms", shortcuts=True, decoderChannels=[12, 20])
    p["single2"] = dict(copy.deepcopy(p["small2"]), name="hitvideo-single2", layers=copy.deepcopy(p["single"]["layers"]),
                        encoderSize=272)
    return p


PRESETS = _presets()


def preset(name: str) -> TokenizerConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset '{name}'; known: {', '.join(sorted(PRESETS))}")
    return TokenizerConfig(copy.deepcopy(PRESETS[name]))
