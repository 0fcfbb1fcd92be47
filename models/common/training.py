"""Pieces shared by the project's training loops: cosine LR with warmup, and resumable checkpoints
(model + AdamW moments as safetensors, counters as JSON — no pickles)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path


def lr_at(step: int, c) -> float:
    """Linear warmup over ``c.warmup`` steps, then cosine from ``c.lr`` down to ``c.min_lr`` at ``c.steps``."""
    if step < c.warmup:
        return c.lr * (step + 1) / c.warmup
    frac = min(1.0, (step - c.warmup) / max(1, c.steps - c.warmup))
    return c.min_lr + 0.5 * (c.lr - c.min_lr) * (1 + math.cos(math.pi * frac))


def checkpoint(model, opt, state: dict, out_dir: Path, save_model: Callable) -> None:
    """Model via ``save_model(model, path, metadata)``, Adam moments, then state.json last (atomically),
    so a kill at any point leaves a consistent earlier or later checkpoint."""
    from models.common.checkpoint import save_safetensors

    save_model(model, out_dir / "model.safetensors", {"train_step": state["step"]})
    moments = {}
    for i, p in enumerate(model.parameters()):
        st = opt.state.get(p)
        if st:
            moments[f"{i}.exp_avg"] = st["exp_avg"]
            moments[f"{i}.exp_avg_sq"] = st["exp_avg_sq"]
    save_safetensors(moments, out_dir / "optim.safetensors", {"step": state["step"]})
    tmp = out_dir / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(out_dir / "state.json")


def restore_adam(opt, moments: dict, step: int) -> None:
    import torch

    params = [p for g in opt.param_groups for p in g["params"]]
    for i, p in enumerate(params):
        if f"{i}.exp_avg" in moments:
            opt.state[p] = {"step": torch.tensor(float(step)), "exp_avg": moments[f"{i}.exp_avg"],
                            "exp_avg_sq": moments[f"{i}.exp_avg_sq"]}
