"""What a sense critic costs per window, on one thread: the LM-only head (the third critic) against
the semantic heads (models/poetry/sense.py, semantic=True). Writes bench/poetry_critic_cost.json.

    OMP_NUM_THREADS=1 .venv/bin/python bench/poetry_critic_cost.py

Windows are the critic's own (each line with the two before it) cut from 64 held-out passages; the
cost of a head does not depend on its trained weights, so every variant is timed with fresh ones.
Median of 5 repeats: ms a window in batches of 64 (a poem, a batch of candidates) and for one
window alone (a single line's re-score).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def setup():
    """The poet LM, its tokenizer, the sentence encoder, the timed windows and the keyword prefix."""
    import torch

    from models.common.causal_lm import load_causal_lm
    from models.common.encoder import load_encoder
    from models.poetry.corpus import KW, POEM
    from models.poetry.sense import heldout_passages, line_windows

    torch.set_num_threads(1)
    home = Path(__file__).resolve().parent.parent / "models/weights/poet"
    model, tok = load_causal_lm(str(home), role="poet")
    encoder = load_encoder()
    passages = heldout_passages(home)[:64]
    texts = ["\n".join(w) for p in passages for w in line_windows(p)][:256]
    prefix = tok.encode(KW + POEM, add_special_tokens=False)
    return model, tok, encoder, texts, prefix


def time_critic(critic, texts: list[str]) -> dict:
    """Median of 5 repeats: ms a window in batches of 64 and for one window alone."""
    critic.windows(texts[:8])  # warm up
    batched, single = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        critic.windows(texts)
        batched.append((time.perf_counter() - t0) / len(texts) * 1000)
        t0 = time.perf_counter()
        for t in texts[:16]:
            critic.windows([t])
        single.append((time.perf_counter() - t0) / 16 * 1000)
    return {"batch_64": round(statistics.median(batched), 2), "alone": round(statistics.median(single), 2)}


def main() -> None:
    from models.poetry.sense import SenseConfig, SenseCritic, build_head

    model, tok, encoder, texts, prefix = setup()
    variants = {"third critic (LM only)": {}, "lines (LM + line coherence)": dict(semantic=True, sem_tokens=False),
                "tokens (encoder only)": dict(semantic=True, lm_branch=False), "all (LM + encoder)": dict(semantic=True),
                "lines_alone (LM + each line encoded alone)": dict(semantic=True, sem_tokens=False, line_vectors=True),
                "all_alone (LM + encoder window + lines alone)": dict(semantic=True, line_vectors=True)}
    out = {"windows": len(texts), "threads": 1, "ms_per_window": {}}
    for name, kw in variants.items():
        cfg = SenseConfig(features=model.config.n_embd + 1, **kw)
        critic = SenseCritic(model, tok, build_head(cfg).eval(), cfg, prefix, encoder if cfg.semantic else None)
        out["ms_per_window"][name] = time_critic(critic, texts)
        print(name, out["ms_per_window"][name], flush=True)
    Path(__file__).with_name("poetry_critic_cost.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
