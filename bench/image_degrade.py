"""Where a single subject loses its crispness, and what restores it (issue #21, "no degradation").

A dev set of twelve library subjects (none of them a ``bench/image_eval.py`` prompt, whose 30 are
the test), four seeds each, drawn from their exemplars at several redraw strengths. Each raw
redraw is then cleaned by each candidate cleanup and delivered as the tool delivers it (Lanczos to
256 px), then read back at 64 px as the eval reads a PNG. For every (strength, cleanup): the share
flagged by the degradation critic (``metrics.degradation`` against the exemplar), median edge and
speckle ratios, the distance to the exemplar (the novelty critic's features; 0 = the exemplar), and
the share whose subject the subject critic finds (and asked colour present).

    /tmp/brief/heavy .venv/bin/python bench/image_degrade.py [--cache /tmp/image_degrade.npz]

Writes ``bench/image_degrade.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
DEV = ["an apple", "a rocket", "a tiger", "a strawberry", "a bicycle", "a turtle", "an octopus", "a trumpet",
       "a mushroom", "a crown", "a green fish", "a pink bird"]
STRENGTHS = (0.3, 0.4, 0.5, 0.6, 0.7)
SEEDS = (0, 1, 2, 3)


def draws(kit, cache: Path):
    """{prompt: (starts (4, 64, 64, 3), {strength: redraws (4, 64, 64, 3)})}, cached."""
    import numpy as np

    if cache.exists():
        z = dict(np.load(cache))
    else:
        z = {}
        for p in DEV:
            picks = kit.pick_exemplars(p, list(SEEDS))
            starts = [kit.exemplar_start(i, p) for i in picks]
            z[f"{p}|start"] = np.stack(starts)
            for v in STRENGTHS:
                z[f"{p}|{v}"] = np.stack(kit.generate(p, None, (256, 256), 12, 3.0, list(SEEDS), strength=v,
                                                      starts=starts))
            print(p, flush=True)
        np.savez_compressed(cache, **z)
    return {p: (z[f"{p}|start"], {v: z[f"{p}|{v}"] for v in STRENGTHS}) for p in DEV}


def delivered(x, size: int = 256):
    """As the tool delivers a picture and the eval reads it back: Lanczos up, box down."""
    from models.image.upscaler import read_back

    return read_back(x, (size, size))


def cleanups():
    from models.image.cleanup import clean_redraw

    return {"raw": lambda r, s: r,
            "median + snap (before)": lambda r, s: clean_redraw(r, s, edge_passes=0),
            "+ edges, 1 toggle pass (shipped)": lambda r, s: clean_redraw(r, s, edge_passes=1),
            "+ edges, 2 toggle passes": lambda r, s: clean_redraw(r, s, edge_passes=2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="/tmp/image_degrade.npz")
    ap.add_argument("--out", default=str(ROOT / "bench" / "image_degrade.json"))
    args = ap.parse_args()

    import numpy as np
    import torch

    from models.image.metrics import degradation, features
    from tools.critics.image import adherence_report
    from tools.host import make_host

    torch.set_num_threads(1)
    kit = make_host().get("image")
    data = draws(kit, Path(args.cache))
    rows = []
    ref = [degradation(delivered(s), s) for p in DEV for s in data[p][0]]
    rows.append({"strength": 0.0, "cleanup": "the exemplar itself, delivered", "n": len(ref),
                 "degraded": round(float(np.mean([d.degraded for d in ref])), 3),
                 "edge_ratio": round(statistics.median(d.edge_ratio for d in ref), 3),
                 "speckle_ratio": round(statistics.median(d.speckle_ratio for d in ref), 3)})
    for v in STRENGTHS:
        for name, fn in cleanups().items():
            deg, dist, found, colour = [], [], [], []
            for p in DEV:
                starts, red = data[p]
                for s, r in zip(starts, red[v]):
                    x = delivered(fn(r, s))
                    deg.append(degradation(x, s))
                    dist.append(float(np.sqrt(max(0.0, 2 - 2 * float(features(x) @ features(s))))))
                    rep = adherence_report(x, p, kit.judge)
                    found.append(bool(rep.subject_found))
                    colour.append(rep.colour_match)
            row = {"strength": v, "cleanup": name, "n": len(deg),
                   "degraded": round(float(np.mean([d.degraded for d in deg])), 3),
                   "edge_ratio": round(statistics.median(d.edge_ratio for d in deg), 3),
                   "speckle_ratio": round(statistics.median(d.speckle_ratio for d in deg), 3),
                   "distance_to_exemplar": round(statistics.median(dist), 3),
                   "subject_found": round(float(np.mean(found)), 3), "colour_match": round(float(np.mean(colour)), 3)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps({"dev_prompts": DEV, "seeds": list(SEEDS), "steps": 12, "guidance": 3.0,
                                          "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
