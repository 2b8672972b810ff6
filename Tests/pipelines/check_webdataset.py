#!/usr/bin/env python3
"""Reads pretokenized shards with the ecosystem's own reader and checks them against the manifest
(Tests/pipelines/test-webdataset.sh; layout: formats/shards.md):

    check_webdataset.py MANIFEST SHARD_DIR FORMATS_DIR ENCODER_ID

PyPI `webdataset` iterates every shard listed by every SPLIT/index.json and decodes every member with its default
decoders (.json to dict, .npy to ndarray); formats/hvt_reader.py parses every .hvt. Checked: each done clip of the
manifest appears exactly once, under its zero-padded id, with exactly the members json, hvt, lN.npy per present
layer and txtemb.npy iff its caption has an embedding; KEY.json agrees with the manifest and the .hvt header;
lN.npy is int32 (windows, t, h, w) equal to the .hvt's tokens with -1 where masked; txtemb.npy is the stored
float32 embedding in float16; index.json counts each shard's samples. Prints one line per failure, exits 1 if any.
"""
import json
import os
import sqlite3
import sys
import tempfile

import numpy as np
import webdataset as wds


def main():
    manifest, shard_dir, formats_dir, encoder = sys.argv[1:5]
    sys.path.insert(0, formats_dir)
    import hvt_reader

    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)
        return ok

    db = sqlite3.connect(f"file:{manifest}?mode=ro", uri=True)
    want = {}
    for row in db.execute("""
            SELECT clip.id, video.key, clip.idx, clip.start_seconds, clip.duration_seconds, clip.frame_count, clip.split,
                   cap.id, cap.text, (SELECT e.vector FROM caption_embedding e WHERE e.caption_id = cap.id AND e.encoder = ?)
            FROM clip JOIN video ON video.id = clip.video_id JOIN clip_status s ON s.clip_id = clip.id
            LEFT JOIN caption cap ON cap.id = (SELECT c.id FROM caption c WHERE c.video_id = video.id
                                               AND (c.clip_id = clip.id OR c.clip_id IS NULL) ORDER BY c.clip_id IS NULL, c.id LIMIT 1)
            WHERE s.state = 'done'""", (encoder,)):
        want[row[0]] = row
    check(want, "the manifest has no done clip")

    seen = {}
    per_shard = {}
    samples = 0
    for split_dir in sorted(os.listdir(shard_dir)):
        index_path = os.path.join(shard_dir, split_dir, "index.json")
        if not os.path.isfile(index_path):
            continue
        index = json.load(open(index_path))
        check(index["__kind__"] == "wids-shard-index-v1" and index["wids_version"] == 1, f"{index_path}: not a wids index")
        check(index["nsamples"] == sum(s["nsamples"] for s in index["shardlist"]), f"{index_path}: nsamples is not the sum")
        urls = [os.path.join(shard_dir, split_dir, s["url"]) for s in index["shardlist"]]
        for s, url in zip(index["shardlist"], urls):
            check(os.path.getsize(url) == s["filesize"], f"{url}: filesize {s['filesize']} in the index, {os.path.getsize(url)} on disk")
            per_shard[url] = [s["nsamples"], 0]
        for sample in wds.WebDataset(urls, shardshuffle=False).decode():
            samples += 1
            key, url = sample["__key__"], sample["__url__"]
            per_shard[url][1] += 1
            info = sample["json"]
            cid = info["clip_id"]
            where = f"{url} {key}"
            check(key == f"{cid:09d}", f"{where}: key is not the zero-padded clip id {cid}")
            check(cid not in seen, f"{where}: clip {cid} also in {seen.get(cid)}")
            seen[cid] = where
            if not check(cid in want, f"{where}: clip {cid} is not a done clip of the manifest"):
                continue
            _, video, idx, start, duration, frames, split, cap_id, caption, vector = want[cid]
            check(split_dir == (split or "none"), f"{where}: in folder {split_dir}, split {split}")
            for k, v in (("video", video), ("clip_idx", idx), ("frames", frames), ("split", split), ("caption", caption),
                         ("caption_id", cap_id)):
                check(info[k] == v, f"{where}: json {k} = {info[k]!r}, manifest {v!r}")
            check(abs(info["start"] - start) < 1e-9 and abs(info["duration"] - duration) < 1e-9, f"{where}: start/duration")

            with tempfile.NamedTemporaryFile(suffix=".hvt") as t:
                t.write(sample["hvt"])
                t.flush()
                header, windows = hvt_reader.read_hvt(t.name)
            check(info["tokenizer"] == header["tokenizer_name"] + "@" + header["tokenizer_hash"], f"{where}: tokenizer")
            check(info["windows"] == [w["frame_count"] for w in windows], f"{where}: windows")
            present = [(i, l) for i, l in enumerate(header["layers"]) if l["present"]]
            members = {"json", "hvt"} | {f"l{i}.npy" for i, _ in present} | ({"txtemb.npy"} if vector is not None else set())
            got = {k for k in sample if not k.startswith("__")}
            check(got == members, f"{where}: members {sorted(got)}, expected {sorted(members)}")
            check([l["member"] for l in info["layers"]] == [f"l{i}.npy" for i, _ in present], f"{where}: json layers")
            for i, layer in present:
                a = sample.get(f"l{i}.npy")
                if not check(isinstance(a, np.ndarray), f"{where}: l{i}.npy did not decode to an array"):
                    continue
                check(a.dtype == np.int32 and a.shape == (len(windows), *layer["grid"]), f"{where}: l{i}.npy is {a.dtype} {a.shape}")
                expect = np.stack([np.where(w["masks"][layer["name"]], -1, w["layers"][layer["name"]].astype(np.int64))
                                   if w["masks"][layer["name"]] is not None else w["layers"][layer["name"]].astype(np.int64)
                                   for w in windows])
                check(np.array_equal(a, expect), f"{where}: l{i}.npy differs from the .hvt's tokens")
            if vector is not None and "txtemb.npy" in sample:
                e = sample["txtemb.npy"]
                stored = np.frombuffer(vector, dtype="<f4")
                check(e.dtype == np.float16 and e.shape == stored.shape, f"{where}: txtemb.npy is {e.dtype} {e.shape}")
                check(np.array_equal(e, stored.astype(np.float16)), f"{where}: txtemb.npy is not the stored embedding in float16")
                check(info["txtemb"] == encoder, f"{where}: json txtemb {info['txtemb']!r}")
            else:
                check(info["txtemb"] is None, f"{where}: json txtemb set without an embedding member")

    for url, (n, got) in per_shard.items():
        check(n == got, f"{url}: index.json says {n} samples, webdataset read {got}")
    missing = sorted(set(want) - set(seen))
    check(not missing, f"clips in no shard: {missing[:10]}")
    for f in failures:
        print(f"check_webdataset: FAIL: {f}")
    if not failures:
        with_emb = sum(1 for c in seen if want.get(c) and want[c][9] is not None)
        print(f"check_webdataset: {samples} samples in {len(per_shard)} shards, every done clip once, {with_emb} with an embedding")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
