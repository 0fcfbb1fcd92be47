"""Held-out NLL of the music language models before and after the CAD phrase-end token, compared
on the same tokens.

A version-2 model (200 tokens) predicts one event more per phrase-final bar (``CAD`` after its
``BAR``), so its per-token NLL over all tokens is not comparable with a version-1 model's. Here
both read the same held-out pieces (the training split's validation pieces, untransposed, their
first 384 tokens cut at a bar line, the same bars for both versions) and the version-2 model is
scored on the version-1 tokens only: every target except ``CAD`` (it still reads the ``CAD`` in its
context, as sampling gives it at the plan's cadence bars; the token after a ``BAR`` pays for the
mass the model put on ``CAD`` in a bar without one). Also reported: its NLL over all tokens and on
the ``CAD``/no-``CAD`` decision after each ``BAR``.

    .venv/bin/python bench/music_nll.py --old /tmp/music-v1 --new models/weights \
        --corpus ~/.local/share/arsnova/music_corpus.npz            # -> bench/music_nll.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HEADER = 5
LENGTH = 385  # 384 predicted positions, as training's validation windows


def cut_at_bar(v2: list[int], v1: list[int], bar_id: int) -> tuple[list[int], list[int]]:
    """Both versions cut before the same BAR so the version-2 sequence fits ``LENGTH``."""
    bars2 = [i for i, t in enumerate(v2) if t == bar_id] + [len(v2)]
    bars1 = [i for i, t in enumerate(v1) if t == bar_id] + [len(v1)]
    k = max(j for j in range(1, len(bars2)) if bars2[j] <= LENGTH) if bars2[1] <= LENGTH else 1
    return v2[: bars2[k]][:LENGTH], v1[: bars1[k]][:LENGTH]


def scores(model, seqs: list[list[int]]) -> list:
    """Per sequence: (targets, nll per target) for positions from the first BAR on."""
    import torch
    from torch.nn import functional as F

    out = []
    with torch.inference_mode():
        for s in seqs:
            x = torch.tensor([s])
            logits, _ = model(x[:, :-1])
            nll = F.cross_entropy(logits[0].float(), x[0, 1:], reduction="none")
            out.append((s[HEADER:], nll[HEADER - 1 :].numpy()))
    return out


def measure(old_file: Path, new_file: Path, corpus_path: Path, pieces: int) -> dict:
    import numpy as np
    import torch

    from models.music.model import load_music_model
    from models.music.training.data import MusicCorpus
    from models.music.tokens import Vocab

    torch.set_num_threads(1)
    corpus = MusicCorpus.load(corpus_path)
    _, val = corpus.split(0.05, seed=0)
    v2, v1 = Vocab(), Vocab.sized(199)
    bar, cad = v2.id("BAR"), v2.id("CAD")
    s2, s1 = [], []
    for i in val[:pieces]:
        sc = corpus.score(int(i))
        a, b = cut_at_bar(v2.encode(sc), v1.encode(sc), bar)
        s2.append(a)
        s1.append(b)
    old, _ = load_music_model(old_file)
    new, meta = load_music_model(new_file)
    if old.config.vocab_size != 199 or new.config.vocab_size != 200:
        raise SystemExit(f"expected a 199-token old and a 200-token new model, got {old.config.vocab_size} "
                         f"and {new.config.vocab_size}")
    r1, r2 = scores(old, s1), scores(new, s2)
    old_nats = float(sum(n.sum() for _, n in r1))
    old_count = sum(len(n) for _, n in r1)
    keep_nats = sum(float(n[np.array(t) != cad].sum()) for t, n in r2)
    keep_count = sum(int((np.array(t) != cad).sum()) for t, n in r2)
    assert keep_count == old_count, (keep_count, old_count)  # the same events, one CAD fewer each
    all_nats = sum(float(n.sum()) for _, n in r2)
    all_count = sum(len(n) for _, n in r2)
    # the decision after each BAR: P(CAD) where the bar has one, 1 - P(CAD) where it has not
    dec, n_cad = [], 0
    with torch.inference_mode():
        for s in s2:
            x = torch.tensor([s])
            logits, _ = new(x[:, :-1])
            p = torch.softmax(logits[0].float(), -1)[:, cad].numpy()
            for j in range(HEADER, len(s) - 1):
                if s[j] == bar:
                    has = s[j + 1] == cad
                    n_cad += has
                    dec.append(-np.log(max(p[j] if has else 1 - p[j], 1e-12)))
    return {
        "pieces": len(s1), "old_tokens": old_count, "cad_tokens": all_count - keep_count,
        "old_model": {"file": str(old_file), "nll_per_token": round(old_nats / old_count, 4)},
        "new_model": {"file": str(new_file), "train_step": meta.get("train_step"),
                      "nll_per_old_token": round(keep_nats / keep_count, 4),
                      "nll_per_token_with_cad": round(all_nats / all_count, 4),
                      "cad_decision_nll_per_bar": round(float(np.mean(dec)), 4), "bars": len(dec),
                      "cadence_bars": int(n_cad)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", type=Path, required=True, help="folder with the version-1 music-*.safetensors")
    ap.add_argument("--new", type=Path, default=Path("models/weights"))
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--kinds", default="rnn,transformer")
    ap.add_argument("--pieces", type=int, default=256)
    ap.add_argument("--out", type=Path, default=Path("bench/music_nll.json"))
    args = ap.parse_args()
    from models.music.generator import MODEL_FILES

    res = {}
    for kind in args.kinds.split(","):
        res[kind] = measure(args.old / MODEL_FILES[kind], args.new / MODEL_FILES[kind], args.corpus, args.pieces)
        print(kind, json.dumps(res[kind]), flush=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
