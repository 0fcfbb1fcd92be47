"""What the fifth sense critic (the cross-encoder candidate) costs per window, on one thread, beside
the third critic (LM only) and option (b), the poet LM's surprise at each content word
(models/poetry/training/sense_cross.py). Writes bench/poetry_critic_cross_cost.json.

    OMP_NUM_THREADS=1 .venv/bin/python bench/poetry_critic_cross_cost.py

Same windows and protocol as bench/poetry_critic_cost.py: each line with the two before it, cut from
64 held-out passages; the cost of a head does not depend on its trained weights, so the cross-encoder
is timed with fresh ones (a copy of the encoder, the top layers as they start). Median of 5 repeats:
ms a window in batches of 64 (a poem, a batch of candidates) and for one window alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    import time

    from bench.poetry_critic_cost import setup, time_critic
    from models.poetry.sense import SenseConfig, SenseCritic, build_cross, build_head
    from models.poetry.training.sense_cross import WindowLM, variant_scores

    model, tok, encoder, texts, prefix = setup()
    out = {"windows": len(texts), "threads": 1, "ms_per_window": {}}
    variants = {"third critic (LM only)": {},
                "cross-encoder alone (MiniLM-L6, top layers tuned)": dict(cross_tuned=4, cross_mix="alone"),
                "third + cross-encoder (sum)": dict(cross_tuned=4, cross_mix="sum")}
    for name, kw in variants.items():
        cfg = SenseConfig(features=model.config.n_embd + 1, **kw)
        cross = build_cross(encoder.model, cfg).eval() if cfg.cross_tuned else None
        critic = SenseCritic(model, tok, build_head(cfg).eval(), cfg, prefix, encoder, cross)
        out["ms_per_window"][name] = time_critic(critic, texts)
        print(name, out["ms_per_window"][name], flush=True)
    lm = WindowLM(model, tok)  # option (b): every content word against 6 LM alternatives, the window read whole
    t0 = time.perf_counter()
    variant_scores(lm, texts[:64])
    out["ms_per_window"]["poet LM surprise, 6 alternatives a content word (option b, features only)"] = {
        "batch_64": round((time.perf_counter() - t0) / 64 * 1000, 2)}
    print(out["ms_per_window"], flush=True)
    Path(__file__).with_name("poetry_critic_cross_cost.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
