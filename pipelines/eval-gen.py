#!/usr/bin/env python3
"""Does the text steer the generator? Paraphrased prompts against the generator's own training data.

    pipelines/eval-gen.py BIN_DIR LM_DATA_DIR OUT_DIR [--prompts pipelines/eval-prompts.tsv]
        [--tokenizer models/tokenizer] [--generator models/generator] [--seeds 2] [--cfg 1,2.5,5,7.5,10]
        [--temperature T[,T...]] [--rerank N [--rerank-first M] [--rerank-likelihood]] [--layers 3,2,1] [--snap MANIFEST] [--heldout FOOTAGE/heldout] [--reuse]

LM_DATA_DIR is what the generator was trained on (`make lm-data`: clips.tsv and one FILE.hvt per video or photo
clip). Its token files are rendered once with the tokenizer (into LM_DATA_DIR/recon/, shared by every generator
evaluated on them; tokenizer.txt there names the tokenizer, and another one's renders are removed before any is
reused) and cut into 64-frame windows, each owned by its source
(a video's name; for a photograph's clips NAME-vK, the photograph NAME). For every prompt (SOURCE<TAB>PROMPT, a
paraphrase of SOURCE's caption that training never saw) and every guidance scale, `hv-gen --samples SEEDS` makes
clips that are rendered with the same tokenizer; a clip is a **hit** when its nearest training window (luma MSE)
belongs to SOURCE. Comparing with the tokenizer's reconstructions rather than the footage leaves the tokenizer's
quality out: the question is only whether the generator brings back the right source. Chance is one in the number
of sources. Prints markdown tables (per guidance scale: hits, hit rate, chance, mean nearest PSNR, median motion,
and the share of a sample's L3 and L2 codes equal to its nearest training clip's, in token space; then every
prompt at each scale) and writes OUT_DIR/eval-gen.json. Beside the luma hit, a sample's L3 and L2 codes are
matched to their nearest training clip: whether that clip is SOURCE's says if the scene was right in token space
before the finer layers were drawn. With --snap MANIFEST each prompt is first replaced by its nearest stored
caption (`hv-manifest search`, MiniLM sentence embeddings): the hit rate of a prompt read through the captions the
generator was trained on, a system around the model, reported apart from the model's own. With --heldout, the clips below that folder
(y4m, never trained on) are encoded with the tokenizer into OUT_DIR/heldout/ and the generator's bits per token per
layer on them, under the null text, are printed beside the same on its training token files (`hv-train lm-bits`):
how much better it predicts what it saw than video it did not. OUT_DIR/models.json names the tokenizer and
generator that made what is in OUT_DIR; --reuse keeps samples only under the same two, and a run with others first
removes what the earlier ones made. Needs numpy.
"""
import argparse
import glob
import hashlib
import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "formats"))  # hvt_reader, for the samples' and clips' codes
from genlib import CLIP, cut, die, motion, nearest, read_tsv, read_y4m_luma, run, run_output  # noqa: E402
from hvt_reader import HVTError, read_hvt  # noqa: E402


def source_of(file_name):
    """A token file's source: FILE.hvt of a video is the video; NAME-vK.hvt is photograph NAME's clip K."""
    stem = os.path.splitext(os.path.basename(file_name))[0]
    return re.sub(r"-v\d+$", "", stem)


def models_stamp(bin_dir, tokenizer, generator):
    """What the outputs depend on: the tokenizer's identity (as .hvt headers carry it) and the generator's bytes."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        try:
            with open(os.path.join(generator, name), "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except OSError as e:
            die(f"--generator {generator}: cannot read {name}: {e.strerror}", 66)
    identity = run_output(bin_dir, "hv-encode", "--model", tokenizer, "--print-identity").strip()
    return {"tokenizer": identity, "generator": digest.hexdigest()}


def claim(out, stamp):
    """Makes OUT_DIR the outputs of `stamp`'s models: when models.json names others (or is missing), the renders,
    samples, encoded held-out clips and results they left are removed, so that --reuse cannot read them."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "models.json")
    try:
        with open(path) as f:
            if json.load(f) == stamp:
                return
    except (OSError, ValueError):
        pass
    made = [p for pattern in ("recon/*.y4m", "heldout/*.hvt", "*.hvt", "*.y4m", "eval-gen*.json")
            for p in glob.glob(os.path.join(out, pattern))]
    if made:
        print(f"eval-gen: {out}: removing {len(made)} files that another tokenizer or generator made", file=sys.stderr)
    for p in made:
        os.remove(p)
    with open(path + ".tmp", "w") as f:
        json.dump(stamp, f, indent=1)
    os.replace(path + ".tmp", path)


def claim_renders(recon, identity):
    """Makes RECON (LM_DATA/recon) the renders of the tokenizer `identity`: renders of the training token files
    depend on the tokenizer alone, so every generator trained on them shares one set; another tokenizer's are
    removed first."""
    try:
        os.makedirs(recon, exist_ok=True)
    except OSError as e:
        die(f"cannot make {recon} for the training clips' renders: {e.strerror}", 74)
    path = os.path.join(recon, "tokenizer.txt")
    try:
        with open(path) as f:
            if f.read().strip() == identity:
                return
    except OSError:
        pass
    made = glob.glob(os.path.join(recon, "*.y4m"))
    if made:
        print(f"eval-gen: {recon}: removing {len(made)} renders that another tokenizer made", file=sys.stderr)
    for p in made:
        os.remove(p)
    with open(path + ".tmp", "w") as f:
        f.write(identity + "\n")
    os.replace(path + ".tmp", path)


SCENE_LAYERS = ("L3", "L2")


def scene_codes(path):
    """The coarse layers' codes of every clip of a .hvt file: [{"L3": int64[positions], "L2": ...}, ...]."""
    try:
        _, clips = read_hvt(path)
    except (OSError, HVTError) as e:
        die(f"cannot read the codes of {path}: {e}", 65)
    return [{n: c["layers"][n].reshape(-1).astype(np.int64) for n in SCENE_LAYERS if n in c["layers"]} for c in clips]


def nearest_codes(training, sample):
    """Per coarse layer, the nearest training clip (fewest differing bits over the layer) and the share of the
    sample's positions whose code equals that clip's there: {"L3": (clip index, share), ...}."""
    out = {}
    for n, codes in sample.items():
        bits = np.unpackbits(np.bitwise_xor(training[n], codes[None]).view(np.uint8)).reshape(*training[n].shape, 64).sum(-1)
        j = int(np.argmin(bits.sum(1)))
        out[n] = (j, float(np.mean(bits[j] == 0)))
    return out


def codes_shared(training, sample):
    """Per coarse layer, the share of a sample's positions whose code equals the nearest training clip's there. A
    generator that draws its data's scenes scores near 1; a patchwork of codes from several clips, or codes no clip
    has, scores near 0."""
    return {n: share for n, (_, share) in nearest_codes(training, sample).items()}


def main():
    ap = argparse.ArgumentParser(description="Paraphrased prompts: does the nearest training window come from the "
                                 "prompt's source?")
    ap.error = lambda message: die(message, 64)
    ap.add_argument("bin_dir")
    ap.add_argument("lm_data")
    ap.add_argument("out")
    ap.add_argument("--prompts", default=os.path.join(HERE, "eval-prompts.tsv"))
    ap.add_argument("--tokenizer", default="models/tokenizer")
    ap.add_argument("--generator", default="models/generator")
    ap.add_argument("--seeds", type=int, default=2, help="samples per prompt and scale (seeds 0..N-1)")
    ap.add_argument("--first-seed", type=int, default=0,
                    help="seeds FIRST..FIRST+N-1 instead: fresh samples to confirm settings chosen on seeds 0..N-1")
    ap.add_argument("--cfg", default="1,2.5,5,7.5,10",
                    help="guidance scales, comma-separated; one per layer (coarse first) joined by '/', e.g. 7.5/7.5/1")
    ap.add_argument("--temperature", default="1", help="hv-gen's --temperature: one value, or one per layer, coarse first")
    ap.add_argument("--rerank", type=int, default=1, help="hv-gen's --rerank: drafts of the coarse layers per sample")
    ap.add_argument("--rerank-layers", type=int, default=2, help="hv-gen's --rerank-layers: leading layers the drafts cover")
    ap.add_argument("--rerank-first", type=int, default=1,
                    help="hv-gen's --rerank-first: drafts of the coarsest layer alone, the best kept before --rerank's")
    ap.add_argument("--contrast", help="hv-gen's --contrast: captions the drafts are weighed against (with --rerank)")
    ap.add_argument("--rerank-likelihood", action="store_true",
                    help="hv-gen's --rerank-likelihood: keep the most probable of the --rerank drafts")
    ap.add_argument("--top-k", type=int, help="hv-gen's --top-k: keep the K most likely classes of each head group")
    ap.add_argument("--top-p", type=float, help="hv-gen's --top-p: nucleus of each head group")
    ap.add_argument("--layers", help="hv-gen's --layers: generate only these leading (coarse) layers, e.g. 3,2,1; "
                    "samples are rendered from them")
    ap.add_argument("--snap", metavar="MANIFEST",
                    help="sample each prompt's nearest stored caption in MANIFEST (hv-manifest search) instead of the prompt")
    ap.add_argument("--heldout", help="folder of held-out y4m clips: print bits per token on them and on the training clips")
    ap.add_argument("--reuse", action="store_true",
                    help="keep renders and samples already in OUT_DIR (when the same tokenizer and generator made them)")
    a = ap.parse_args()
    # A scale is one number, or one per generated layer joined by '/' (7.5/7.5/1: hv-gen --cfg 7.5,7.5,1).
    scales = a.cfg.split(",")
    if not all(re.fullmatch(r"\d+(\.\d*)?(/\d+(\.\d*)?)*", g) for g in scales):
        die(f"--cfg takes numbers such as 1,2.5,7.5 (or per-layer lists such as 7.5/7.5/1), not {a.cfg!r}", 64)
    scales = [g if "/" in g else f"{float(g):g}" for g in scales]
    if a.seeds < 1 or a.first_seed < 0 or not scales:
        die("--seeds must be at least 1, --first-seed at least 0, and --cfg must name a scale", 64)

    files = read_tsv(os.path.join(a.lm_data, "clips.tsv"), "FILE.hvt<TAB>CAPTION")
    prompts = read_tsv(a.prompts, "SOURCE<TAB>PROMPT")
    stamp = models_stamp(a.bin_dir, a.tokenizer, a.generator)
    claim(a.out, stamp)
    recon = os.path.join(a.lm_data, "recon")
    claim_renders(recon, stamp["tokenizer"])
    windows, owners = [], []
    # A file listed once per phrasing of its caption is one set of windows.
    for name in dict.fromkeys(n for n, _ in files):
        y4m = os.path.join(recon, os.path.splitext(os.path.basename(name))[0] + ".y4m")
        if not (a.reuse and os.path.exists(y4m)):
            run(a.bin_dir, "hv-render", os.path.join(a.lm_data, name), "--model", a.tokenizer, "-o", y4m)
        w = cut(read_y4m_luma(y4m))
        windows += w
        owners += [source_of(name)] * len(w)
    sources = sorted(set(owners))
    for src, _ in prompts:
        if src not in sources:
            die(f"{a.prompts}: source {src!r} is not in {a.lm_data}/clips.tsv", 65)
    windows = np.stack(windows).astype(np.float32)
    training_codes, code_owners = {}, []
    for name in dict.fromkeys(n for n, _ in files):
        for clip in scene_codes(os.path.join(a.lm_data, name)):
            for n, c in clip.items():
                training_codes.setdefault(n, []).append(c)
            code_owners.append(source_of(name))
    training_codes = {n: np.stack(c) for n, c in training_codes.items()}
    chance = 1 / len(sources)
    print(f"{len(windows)} training windows from {len(set(n for n, _ in files))} token files of {len(sources)} sources; "
          f"{len(prompts)} prompts × {a.seeds} seeds; chance {chance:.3f}")

    # Samples of non-default settings get a file-name tag of their own, so --reuse never mixes settings.
    tag = ("" if a.temperature == "1" else "t" + a.temperature.replace(",", "_") + "-") + \
        ("" if a.rerank == 1 else f"r{a.rerank}-") + ("" if a.rerank_first == 1 else f"f{a.rerank_first}-") + ("" if a.rerank_layers == 2 else f"d{a.rerank_layers}-") + ("" if not a.rerank_likelihood else "rl-") + ("" if not a.contrast else "c-") + \
        ("" if a.top_k is None else f"k{a.top_k}-") + ("" if a.top_p is None else f"p{a.top_p:g}-") + \
        ("" if not a.layers else "l" + a.layers.replace(",", "_") + "-") + \
        ("" if not a.snap else "snap-") + ("" if a.first_seed == 0 else f"s{a.first_seed}-")
    sampled = {p: snap_caption(a.bin_dir, a.snap, p) if a.snap else p for _, p in prompts}
    results = []
    for g in scales:
        for i, (src, prompt) in enumerate(prompts):
            stem = os.path.join(a.out, f"{tag}cfg{g.replace('/', '_')}-{i:02d}-{src}")
            if not (a.reuse and os.path.exists(stem + ".y4m")):
                run(a.bin_dir, "hv-gen", sampled[prompt], "--samples", str(a.seeds), "--seed", str(a.first_seed), "--cfg", g.replace("/", ","), "--temperature",
                    a.temperature, "--rerank", str(a.rerank), "--rerank-first", str(a.rerank_first), "--rerank-layers", str(a.rerank_layers), *(["--rerank-likelihood"] if a.rerank_likelihood else []),
                    *(["--contrast", a.contrast] if a.contrast else []),
                    *(["--top-k", str(a.top_k)] if a.top_k is not None else []), *(["--top-p", f"{a.top_p:g}"] if a.top_p is not None else []),
                    *(["--layers", a.layers] if a.layers else []),
                    "--model", a.generator, "--tokenizer", a.tokenizer, "-o", stem + ".hvt")
                run(a.bin_dir, "hv-render", stem + ".hvt", "--model", a.tokenizer, "-o", stem + ".y4m")
            frames = read_y4m_luma(stem + ".y4m")
            sample_codes = scene_codes(stem + ".hvt")
            for s in range(a.seeds):
                clip = frames[s * CLIP:(s + 1) * CLIP].astype(np.float32)
                k, p = nearest(windows, clip)
                near = nearest_codes(training_codes, sample_codes[s])
                results.append({"cfg": g, "source": src, "prompt": prompt, "sampled": sampled[prompt], "seed": a.first_seed + s, "nearest": owners[k],
                                "psnr": round(p, 3), "hit": owners[k] == src, "motion": round(motion(clip), 3),
                                "codes_shared": {n: share for n, (_, share) in near.items()},
                                # The scene in token space: whose clip the coarse codes are nearest to.
                                "codes_nearest": {n: code_owners[j] for n, (j, _) in near.items()}})

    # A sample of fewer layers (--layers 3) has no L2 codes to match.
    layers = [n for n in SCENE_LAYERS if n in training_codes and all(n in x["codes_shared"] for x in results)]
    print("\n| cfg | hits | hit rate | chance | mean nearest PSNR dB (luma) | median motion | "
          + " / ".join(layers) + " codes as the nearest training clip's | " + " / ".join(layers)
          + " codes nearest the prompt's source |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    summary = []
    for g in scales:
        r = [x for x in results if x["cfg"] == g]
        hits = sum(x["hit"] for x in r)
        summary.append({"cfg": g, "hits": hits, "samples": len(r), "hit_rate": hits / len(r), "chance": chance,
                        "nearest_psnr": float(np.mean([x["psnr"] for x in r])),
                        "motion": float(np.median([x["motion"] for x in r])),
                        "codes_shared": {n: float(np.mean([x["codes_shared"][n] for x in r])) for n in layers},
                        "code_hits": {n: sum(x["codes_nearest"][n] == x["source"] for x in r) for n in layers}})
        print(f"| {g} | {hits}/{len(r)} | {hits / len(r):.2f} | {chance:.3f} | {summary[-1]['nearest_psnr']:.2f} "
              f"| {summary[-1]['motion']:.2f} | " + " / ".join(f"{summary[-1]['codes_shared'][n]:.2f}" for n in layers)
              + " | " + " / ".join(f"{summary[-1]['code_hits'][n]}/{len(r)}" for n in layers) + " |")
    print("\n| source | prompt | " + " | ".join(f"cfg {g}: nearest (seeds)" for g in scales) + " |")
    print("|" + " --- |" * (2 + len(scales)))
    for src, prompt in prompts:
        cells = [", ".join(x["nearest"] + ("✓" if x["hit"] else "") for x in results if x["cfg"] == g and x["source"] == src)
                 for g in scales]
        print(f"| {src} | {prompt} | " + " | ".join(cells) + " |")
    bits = heldout_bits(a, [os.path.join(a.lm_data, n) for n in dict.fromkeys(n for n, _ in files)]) if a.heldout else None
    # Through a temporary file, so that an interrupted run leaves no partial JSON behind.
    path = os.path.join(a.out, f"eval-gen-{tag[:-1]}.json" if tag else "eval-gen.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"sources": len(sources), "snap": a.snap, "layers": a.layers, "temperature": a.temperature, "rerank": a.rerank, "rerank_first": a.rerank_first, "rerank_layers": a.rerank_layers,
                   "rerank_likelihood": a.rerank_likelihood, "contrast": a.contrast, "top_k": a.top_k, "top_p": a.top_p, "summary": summary,
                   "bits_per_token": bits, "samples": results}, f, indent=1)
    os.replace(path + ".tmp", path)


def snap_caption(bin_dir, manifest, prompt):
    """The stored caption of MANIFEST nearest to the prompt (cosine of MiniLM sentence embeddings)."""
    out = run_output(bin_dir, "hv-manifest", "search", manifest, prompt, "-k", "1", "--json").strip()
    try:
        return json.loads(out.splitlines()[0])["caption"]
    except (IndexError, ValueError, KeyError):
        die(f"--snap {manifest}: no stored caption embedding to match {prompt!r} ('hv-manifest embed' first)", 65)


def heldout_bits(a, training):
    """Mean bits per token per layer under the null text, on the training token files and on the held-out clips
    (encoded once into OUT_DIR/heldout/); prints both rows and returns them."""
    clips = sorted(os.path.join(d, f) for d, _, fs in os.walk(a.heldout) for f in fs if f.endswith(".y4m"))
    if not clips:
        die(f"--heldout {a.heldout}: no .y4m clips below it", 66)
    os.makedirs(os.path.join(a.out, "heldout"), exist_ok=True)
    held = []
    for y4m in clips:
        hvt = os.path.join(a.out, "heldout", os.path.basename(os.path.dirname(y4m)) + "-" +
                           os.path.splitext(os.path.basename(y4m))[0] + ".hvt")
        if not (a.reuse and os.path.exists(hvt)):
            run(a.bin_dir, "hv-encode", y4m, "--model", a.tokenizer, "-o", hvt)
        held.append(hvt)
    rows = {}
    for name, group in (("training clips", training), ("held-out clips", held)):
        table = run_output(a.bin_dir, "hv-train", "lm-bits", "--model", a.generator, *group)
        header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
        mean = [c.strip() for c in next(line for line in table.splitlines() if line.startswith("| mean |")).strip("|").split("|")]
        rows[name] = {"clips": int(mean[1]), "layers": header[2:], "bits": [float(x) for x in mean[2:]]}
    layers = rows["training clips"]["layers"]
    print("\n| bits per token, null text | clips | " + " | ".join(layers) + " |")
    print("|" + " --- |" * (2 + len(layers)))
    for name, r in rows.items():
        print(f"| {name} | {r['clips']} | " + " | ".join(f"{b:.3f}" for b in r["bits"]) + " |")
    return rows


if __name__ == "__main__":
    main()
