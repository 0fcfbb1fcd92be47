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


def resume_state(model, opt, out_dir: Path, config, load_model: Callable, log: Callable[[str], None]) -> dict:
    """A fresh state, or the one in ``out_dir`` with the model and Adam moments restored."""
    from dataclasses import asdict

    from models.common.checkpoint import load_safetensors

    if not (out_dir / "state.json").exists():
        return {"step": 0, "tokens_seen": 0, "seconds": 0.0, "history": [], "config": asdict(config)}
    state = json.loads((out_dir / "state.json").read_text())
    tensors, _ = load_safetensors(out_dir / "model.safetensors")
    load_model(model, tensors)
    moments, _ = load_safetensors(out_dir / "optim.safetensors")
    restore_adam(opt, moments, state["step"])
    log(f"resumed at step {state['step']}")
    return state


def train_loop(model, opt, state: dict, config, out_dir: Path, *, step_loss: Callable, evaluate: Callable[[], float],
               save_model: Callable, log: Callable[[str], None] = print,
               progress: Callable[[int, int, float], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> dict:
    """The loop every trainer here shares: ``step_loss()`` -> (loss tensor, tokens counted) for one
    batch; cosine LR; gradient clipping; validation every ``config.eval_every`` steps with the best
    weights kept in ``best.safetensors`` and early stopping after ``config.patience`` evaluations
    without a better NLL (0: never); a checkpoint every ``config.ckpt_every`` steps, on the wall-time
    cap ``config.max_seconds`` and when ``should_stop()`` says so (``state["cancelled"]``); the
    same call on the same ``out_dir`` resumes. ``progress(step, steps, seconds)`` after each step."""
    import time

    import torch

    patience = getattr(config, "patience", 0)
    if "val_before" not in state:  # what the starting weights score on the held-out data
        state["val_before"] = state["best_val"] = evaluate()
        state["best_step"] = 0
        save_model(model, out_dir / "best.safetensors", {"train_step": 0})
    model.train()
    t0 = time.time() - state["seconds"]
    state.pop("cancelled", None)
    while state["step"] < config.steps and not state.get("early_stopped"):
        if config.max_seconds and time.time() - t0 > config.max_seconds:
            log("time limit reached")
            break
        if should_stop is not None and should_stop():
            state["cancelled"] = True
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(state["step"], config)
        loss, tokens = step_loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        state["tokens_seen"] += int(tokens)
        state["seconds"] = time.time() - t0
        if progress is not None:
            progress(state["step"], config.steps, state["seconds"])
        if state["step"] % config.eval_every == 0 or state["step"] == config.steps:
            val = evaluate()
            state["history"].append({"step": state["step"], "train_loss": float(loss.detach()), "val_nll": val,
                                     "seconds": round(state["seconds"], 1)})
            log(f"step {state['step']} loss {float(loss.detach()):.3f} val {val:.3f} ({state['seconds']:.0f}s)")
            if val < state["best_val"]:
                state["best_val"], state["best_step"] = val, state["step"]
                save_model(model, out_dir / "best.safetensors", {"train_step": state["step"]})
            elif (patience and state["step"] < config.steps
                  and state["step"] - state["best_step"] >= patience * config.eval_every):
                state["early_stopped"] = True
                log(f"stopped early: no better validation NLL since step {state['best_step']}")
        if state["step"] % config.ckpt_every == 0 or state["step"] == config.steps:
            checkpoint(model, opt, state, out_dir, save_model)
    state["val_nll"] = evaluate()
    state["params"] = sum(p.numel() for p in model.parameters())
    checkpoint(model, opt, state, out_dir, save_model)
    return state
