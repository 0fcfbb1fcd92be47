"""Does the sense critic earn its place? Writes bench/poetry_critic.json.

    .venv/bin/python bench/poetry_critic.py [--poems bench/poetry_eval_baseline.json bench/poetry_eval.json]
        [--sense CANDIDATE.safetensors --out ...]   (a candidate critic instead of the installed one)

The default runs: the poet before issue 20 (poetry_eval_baseline.json), the poet that wrote with the
first sense critic in the loop (poetry_eval_sense1.json: the poems that critic was gamed by, on
the test topics; the adversarial round trained on other topics), and the current poet
(poetry_eval.json).

1. The window-level ROC AUC on the critic's held-out test half (real corpus windows never seen
   by the poet or the critic, against the poet's held-out unconstrained samples, word-shuffled
   and word-substituted windows), as measured when it was trained (weights/poet/sense.json).
2. Poem-level ranking: the critic's poem score for real held-out passages (the poet's own
   validation passages, cut to each poem's line count) against the poems the poet wrote in the
   given poetry_eval runs (round 0 and kept): AUC, medians, and the share of the poet's poems
   that score above the real passages' median.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    import torch

    from models.poetry.sense import heldout_passages
    from models.poetry.training.sense_train import real_and_poem_scores, roc_auc
    from tools.host import make_host

    here = Path(__file__).parent
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--poems", type=Path, nargs="*",
                    default=[p for p in (here / "poetry_eval_baseline.json", here / "poetry_eval_sense1.json",
                                         here / "poetry_eval.json") if p.exists()])
    ap.add_argument("--out", type=Path, default=here / "poetry_critic.json")
    ap.add_argument("--sense", type=Path, default=None,
                    help="a candidate critic file to measure instead of the installed one (its sense.json beside it)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    kit = make_host(args.weights, cache_dir=Path(tempfile.gettempdir()) / "arsnova-bench-cache").get("poet", None)
    trained = json.loads((kit.home / "sense.json").read_text())
    if args.sense:  # a candidate: read with the embedded poet's LM and the chat's encoder, as installed it would be
        from models.poetry.sense import load_sense_critic

        kit.sense = load_sense_critic(kit.home, kit.sense.model, kit.sense.tokenizer,
                                      encoder=getattr(kit.poet, "encoder", None), path=args.sense)
        trained = json.loads(args.sense.with_name("sense.json").read_text())
    real_passages = heldout_passages(kit.home)
    result = {"windows": {"test_auc": trained["test_auc"], "test_windows": trained["test_windows"],
                          "params": trained["params"], "train_seconds": trained["seconds"]},
              "real_poem_floor": trained.get("real_poem"), "poems": {}}
    for path in args.poems:
        run = json.loads(path.read_text())
        for which in ("round0", "kept"):
            poems = [r[which]["lines"] for r in run["poems"]]
            real_s, fake_s = real_and_poem_scores(kit.sense, real_passages, poems)
            y = np.r_[np.ones(len(real_s)), np.zeros(len(fake_s))]
            result["poems"][f"{path.name}:{which}"] = {
                "poems": len(poems), "auc_real_vs_poet": roc_auc(y, np.r_[real_s, fake_s]),
                "real_median": float(np.median(real_s)), "poet_median": float(np.median(fake_s)),
                "poet_above_real_median": float((fake_s > np.median(real_s)).mean()),
            }
            print(path.name, which, json.dumps(result["poems"][f"{path.name}:{which}"]), flush=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["windows"]["test_auc"], indent=1))


if __name__ == "__main__":
    main()
