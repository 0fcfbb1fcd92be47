"""The subject critic, measured: held-out retrieval against chance, the 'subject found' threshold's
true and false positive rates, and how often it ranks the right picture first for the eval prompts.

1. Held out: the 600 pictures the training run never saw (seed 0; dev half / test half as in
   ``models/image/training/critic.py``): picture -> caption recall@1 and @5 among their own
   captions, and chance; and per half the 'found' rule's rate on the picture's own caption, a
   random other caption and the nearest near non-synonym caption (``bench/image_misses.py
   near_captions``): a new critic is chosen on the dev half.
2. Eval prompts (``bench/image_eval.py``, none used for training or tuning): the pictures a run of
   that bench drew for the library and scene groups (20; the third group has no right picture).
   For each prompt, the critic's score of each of the 20 pictures (its subjects' cosine,
   standardised by the distractors' on that picture); recall@1 = its own picture scores highest.
   And the tool's own verdict on each picture as delivered (rank above the 'found' threshold, as
   ``tools.critics.image.adherence_report`` asks it): how many library subjects and scenes it
   finds on their own pictures, and how many of the third group's pictures (subjects the library
   lacks, so necessarily a wrong subject) it wrongly passes. Done on the baseline run's pictures
   (the old tool's redrawn emoji) and, when present, on the current run's.

Writes bench/image_critic.json (``--critic FILE --out FILE``: measure another critic file, e.g. a
new training run, without touching the shipped one).

    .venv/bin/python bench/image_critic.py [--critic models/weights/image/subject-critic.safetensors]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(__file__).resolve().parent.parent


def held_out(judge, data: Path) -> dict:
    """Per half: recall@1/@5 and the 'found' rule's rates on own / random / near captions."""
    import numpy as np
    import torch

    from bench.image_misses import near_captions

    from models.common.encoder import load_encoder
    from models.image.training.critic import CriticTrainConfig, embed_texts, retrieval, target_texts
    from models.image.training.data import load_dataset

    cfg = CriticTrainConfig()
    ds = load_dataset(data)
    short_t, _ = target_texts(ds.captions, ds.short_captions)
    e_short = embed_texts(short_t, load_encoder(), data.with_suffix(".critic-short.npy"))
    perm = np.random.default_rng(cfg.seed).permutation(len(ds.images))
    held = perm[:cfg.held_out]
    out = {}
    for name, ix in (("dev", held[: cfg.held_out // 2]), ("test", held[cfg.held_out // 2:])):
        z = judge.critic.embed(list(ds.images[ix]))
        out[name] = retrieval(z, e_short[ix], [short_t[i] for i in ix])
        nc = near_captions(judge, None, ds, name)
        out[name]["found"] = {k: nc[k] for k in ("own_found", "random_other_found", "near_other_found", "n_near")}
    torch.set_num_threads(1)
    return out


def eval_prompts(judge, run: Path) -> dict | None:
    """Recall@1 over the library and scene prompts of a saved image_eval run, and the tool's
    'subject found' verdict on each of its 30 delivered pictures, counted by group."""
    import numpy as np

    from bench.image_eval import GROUPS, ungrid
    from models.image.scene import parse_scene

    saved = json.loads(run.read_text()) if run.exists() else {}
    if "pictures" not in saved:  # not a run of today's bench
        return None
    pics = ungrid(ROOT / saved["pictures"], saved["native"], len(saved["prompts"]))
    rows = [(r["prompt"], p) for r, p in zip(saved["prompts"], pics) if r["group"] in ("library", "scene")]
    z = judge.critic.embed([p for _, p in rows])
    hits, per = [], []
    found = {g: [] for g in GROUPS}  # the tool's verdict on each delivered picture, by group
    for r, pic in zip(saved["prompts"], pics):
        texts = [("an " if s.text[:1] in "aeiou" else "a ") + s.text for s in parse_scene(r["prompt"]).subjects]
        found[r["group"]].append(bool(texts) and all(k > judge.threshold for k in judge.ranks(pic, texts)))
    for i, (prompt, _) in enumerate(rows):
        texts = [("an " if s.text[:1] in "aeiou" else "a ") + s.text for s in parse_scene(prompt).subjects]
        t = judge.text_vectors(texts)
        # each picture against the prompt's subjects, standardised against the distractors on that
        # picture (a raw cosine favours 'hub' pictures close to everything; the rank the tool uses
        # ties at 1.0 for several pictures, which a ranking cannot break)
        d = z @ judge.critic.distractors.T  # (20, K)
        score = (((z @ t.T) - d.mean(axis=1, keepdims=True)) / d.std(axis=1, keepdims=True)).mean(axis=1)
        hits.append(int(np.argmax(score)) == i)
        per.append({"prompt": prompt, "first": rows[int(np.argmax(score))][0], "right": hits[-1]})
    return {"recall@1": float(np.mean(hits)), "chance@1": 1 / len(rows), "n": len(rows), "prompts": per,
            "groups": list(GROUPS)[:2],
            "found": {"library": f"{sum(found['library'])} of {len(found['library'])}",
                      "scene": f"{sum(found['scene'])} of {len(found['scene'])}",
                      "missing_wrongly_passed": f"{sum(found['missing'])} of {len(found['missing'])}"}}


def main() -> None:
    import argparse

    import torch

    from models.common.encoder import load_encoder
    from models.image.critic import FILE, critic_meta, load_judge

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--critic", default=str(ROOT / "models" / "weights" / "image" / FILE))
    ap.add_argument("--out", default=str(ROOT / "bench" / "image_critic.json"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    path = Path(a.critic).resolve()
    judge = load_judge(path, load_encoder())
    meta = critic_meta(path)
    data = ROOT / "data" / "clipart-emoji-64.npz"
    out = {"file": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
           "bytes": path.stat().st_size,
           "parameters": sum(p.numel() for p in judge.critic.model.parameters()),
           "training": {k: meta.get(k) for k in ("steps", "seconds", "batch", "hard", "train_pictures")},
           "threshold": judge.threshold,
           "threshold_rates": {k: v for k, v in meta.get("metrics", {}).items() if k.endswith(("pr", "threshold"))},
           "held_out": held_out(judge, data) if data.exists() else meta.get("metrics"),
           "eval_prompts": {"baseline_run": eval_prompts(judge, ROOT / "bench" / "image_eval_baseline.json"),
                            "current_run": eval_prompts(judge, ROOT / "bench" / "image_eval.json")}}
    Path(a.out).write_text(json.dumps(out, indent=1))
    ho = out["held_out"]["test"]
    print(f"held-out test: recall@1 {ho['recall@1']:.3f} (chance {ho['chance@1']:.3f}), recall@5 {ho['recall@5']:.3f} "
          f"(chance {ho['chance@5']:.3f}), n={ho['n']}")
    for half in ("dev", "test"):
        h = out["held_out"][half]
        if "found" in h:
            f = h["found"]
            print(f"{half}: recall@1 {h['recall@1']:.3f} @5 {h['recall@5']:.3f}; found own {f['own_found']:.3f} "
                  f"random {f['random_other_found']:.3f} near {f['near_other_found']:.3f} (n_near {f['n_near']})")
    r = out["threshold_rates"]
    if r:
        print(f"'subject found' (rank > {out['threshold']:.3f}): dev TPR {r['dev_tpr']:.2f} "
              f"FPR {r['dev_fpr']:.2f}; test TPR {r['test_tpr']:.2f} FPR {r['test_fpr']:.2f}")
    for k, v in out["eval_prompts"].items():
        if v:
            print(f"eval prompts ({k}): right picture first {v['recall@1']:.2f} "
                  f"(chance {v['chance@1']:.2f}, n={v['n']}); "
                  f"found: library {v['found']['library']}, scenes {v['found']['scene']}, "
                  f"missing subjects wrongly passed {v['found']['missing_wrongly_passed']}")


if __name__ == "__main__":
    main()
