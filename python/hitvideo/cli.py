"""hitvideo-encode / hitvideo-render: the twin's counterparts of hv-encode and hv-render (y4m files only)."""
import argparse
import sys

import torch

from . import checkpoint
from .hvt import HVTError
from .tokens import encode_file, render_file
from .y4m import Y4MError


def _run(prog, body):
    try:
        body()
        return 0
    except (HVTError, Y4MError, ValueError, checkpoint.CheckpointError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 65
    except OSError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 74


def encode_main(argv=None):
    ap = argparse.ArgumentParser(prog="hitvideo-encode", description="Tokenize a y4m file into .hvt with the PyTorch twin.")
    ap.add_argument("input", help="Input y4m file (at the model's size and rate).")
    ap.add_argument("-o", "--output", required=True, help="Output .hvt file.")
    ap.add_argument("--model", required=True, help="Tokenizer checkpoint folder.")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default).")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    return _run("hitvideo-encode", lambda: encode_file(checkpoint.load(a.model), a.input, a.output))


def render_main(argv=None):
    ap = argparse.ArgumentParser(prog="hitvideo-render", description="Decode .hvt tokens to a y4m file with the PyTorch twin.")
    ap.add_argument("input", help="Input .hvt file.")
    ap.add_argument("-o", "--output", required=True, help="Output y4m file.")
    ap.add_argument("--model", required=True, help="Tokenizer checkpoint folder.")
    ap.add_argument("--layers", help="Comma-separated layers to decode from (default: every layer in the file).")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default).")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    use = None if a.layers is None else [int(s) for s in a.layers.split(",")]
    return _run("hitvideo-render", lambda: render_file(checkpoint.load(a.model), a.input, a.output, use))
