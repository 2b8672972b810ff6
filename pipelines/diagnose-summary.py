#!/usr/bin/env python3
"""Summarise `hv-train diagnose --json` output: the numbers issue 15 judges a tokenizer by, over all clips and by
group of clips (city, cockatoo, diver: real footage; everything else: photo-motion clips).

    hv-train diagnose --model models/tokenizer --json data/footage/heldout > heldout.json
    pipelines/diagnose-summary.py heldout.json [more.json …]

Per file: mean PSNR per layer prefix (coarsest first), box means, all layers − box means (mean, worst clip),
bypassed quantiser, L0 shuffled − all, the worst channel's mean-colour error in levels, motion correlation, 64²
tiles − whole frames; then each group's clip count, PSNR and − box.
"""
import json
import statistics as st
import sys


def fail(message, code):
    print(f"diagnose-summary: error: {message}", file=sys.stderr)
    sys.exit(code)


def load(path):
    rows = []
    try:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if line.startswith('{'):
                    d = json.loads(line)
                    if 'prefixPSNR' in d:
                        rows.append(d)
    except FileNotFoundError:
        fail(f"no such file: {path}", 66)
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}", 74)
    except (json.JSONDecodeError, UnicodeDecodeError):
        fail(f"{path}:{number}: not a JSON line of hv-train diagnose --json", 65)
    return rows


def group(name):
    n = name.lower()
    for g in ('city', 'cockatoo', 'diver'):
        if g in n:
            return g
    return 'photo'


def motion(rows):
    """Mean motion correlation over the clips where it is defined (diagnose omits it for static shots)."""
    v = [r['motionCorrelation'] for r in rows if r.get('motionCorrelation') is not None]
    if not v:
        return 'n/a'
    return f"{st.mean(v):.2f}" + (f" of {len(v)}" if len(v) < len(rows) else '')


def main(paths):
    for path in paths:
        rows = load(path)
        if not rows:
            fail(f"no clip rows in {path} (expected hv-train diagnose --json output)", 65)
        last = [r['prefixPSNR'][-1] for r in rows]
        gap = [a - r['boxMeanPSNR'] for a, r in zip(last, rows)]
        colour = max(max(abs(x - y) for x, y in zip(r['reconColour'], r['sourceColour'])) for r in rows)
        prefixes = [st.mean(r['prefixPSNR'][i] for r in rows) for i in range(len(rows[0]['prefixPSNR']))]
        print(f"{path}: {len(rows)} clips; prefixes {' / '.join(f'{x:.2f}' for x in prefixes)}; "
              f"box {st.mean(r['boxMeanPSNR'] for r in rows):.2f}; all − box {st.mean(gap):+.2f} (worst {min(gap):+.2f}); "
              f"bypass {st.mean(r['bypassPSNR'] for r in rows):.2f}; "
              f"shuffled − all {st.mean(r['shuffledL0PSNR'] - a for a, r in zip(last, rows)):+.2f}; "
              f"colour max {colour:.1f}; motion {motion(rows)}; "
              + (f"tiles − all {st.mean(r['cropPSNR'] - a for a, r in zip(last, rows)):+.2f}"
                 if all(r.get('cropPSNR') is not None for r in rows) else "tiles not measured (--crop 0)"))
        groups = {}
        for r, a, g in zip(rows, last, gap):
            groups.setdefault(group(r['name']), []).append((a, g))
        print('  ' + ', '.join(f"{k} ({len(v)}) {st.mean(a for a, _ in v):.2f} / {st.mean(g for _, g in v):+.2f}"
                               for k, v in sorted(groups.items())))


if __name__ == '__main__':
    try:
        if len(sys.argv) < 2 or sys.argv[1] in ('-h', '--help'):
            print(__doc__.strip() if len(sys.argv) > 1 else "usage: diagnose-summary.py DIAGNOSE.json …",
                  file=sys.stdout if len(sys.argv) > 1 else sys.stderr)
            sys.exit(0 if len(sys.argv) > 1 else 64)
        try:
            main(sys.argv[1:])
        except (KeyError, TypeError, IndexError, ValueError) as e:
            fail(f"a clip row lacks a field hv-train diagnose --json writes ({e!r})", 65)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): one line and 74, as the tools do; stdout is dropped so that the
        # interpreter's own flush at exit does not fail again.
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        fail("write to 'stdout' failed: Broken pipe", 74)
