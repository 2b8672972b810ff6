"""python -m hitvideo encode|render ... (see cli.py)."""
import sys

from .cli import encode_main, render_main

if __name__ == "__main__":
    cmds = {"encode": encode_main, "render": render_main}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print("usage: python -m hitvideo encode|render [options]  (--help after the command)", file=sys.stderr)
        sys.exit(64)
    sys.exit(cmds[sys.argv[1]](sys.argv[2:]))
