"""Train the Coconet-style chorale model (``models/music/coconet.py``) on music21's Bach chorales.

    arsnova train chorale [--install] [--steps N] [--max-seconds S] [--run-dir DIR]

Data: every chorale ``models.music.training.chords.chorale_scores`` parses (four parts, cached in
/tmp/arsnova-chorales.npz), on an eighth-note grid (the pitch sounding at each eighth), each voice
transposed to every key that keeps all four voices inside ``analysis.VOICE_RANGES`` (widened by 2
semitones; Bach's own bass reaches E4). Held out by chorale, never trained on:

- test: every 20th chorale, the real Bach that ``bench/music_eval.py`` measures the generated
  chorales against; the held-out NLL reported is on these;
- dev: the chorales ``bench/music_critics.py`` uses as real pieces (every 5th with >= 6 bars, the
  first 60), less the test ones; the validation NLL that picks the best checkpoint.

Training examples: a random 64-step window (8 bars of 4/4) of a random chorale in a random valid
key; the soprano always given (it is the tune being harmonised), alto, tenor and bass cells each
masked with probability r ~ U(0, 1) per example (Coconet's orderless training); cross-entropy on
the masked cells. Resumable (``models.common.training``): the same command continues a run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.music.coconet import MAX_POS, STEP, CoconetConfig, to_cells
from models.music.tokens import Score

WINDOW = 64


@dataclass(frozen=True)
class ChoraleTrainConfig:
    model: dict = field(default_factory=dict)  # CoconetConfig fields
    steps: int = 6000
    batch_size: int = 32
    lr: float = 2e-3
    min_lr: float = 1e-4
    warmup: int = 200
    weight_decay: float = 0.01
    eval_every: int = 250
    ckpt_every: int = 250
    seed: int = 0
    threads: int = 1
    max_seconds: float = 33 * 60.0
    patience: int = 0


@dataclass(frozen=True)
class Chorale:
    pitches: np.ndarray  # (4, T) MIDI, -1 = rest
    pos: np.ndarray  # (T,) eighth within the bar
    tonic: int
    minor: bool
    shifts: tuple[int, ...]  # transpositions keeping the voices in range


def to_grid(score: Score) -> Chorale:
    from models.music.analysis import VOICE_RANGES

    T = score.bars * score.bar_length // STEP
    g = -np.ones((4, T), np.int64)
    for n in sorted(score.notes, key=lambda n: n.start):
        if 0 <= n.voice < 4:
            a, b = -(-n.start // STEP), -(-(n.start + n.duration) // STEP)  # steps whose time the note sounds at
            g[n.voice, a : min(b, T)] = n.pitch
    shifts = []
    for s in range(-6, 6):
        ok = all(((g[v][g[v] >= 0] + s >= lo - 2) & (g[v][g[v] >= 0] + s <= hi + 2)).all()
                 for v, (lo, hi) in enumerate(VOICE_RANGES))
        if ok:
            shifts.append(s)
    pos = np.minimum(np.arange(T) % max(1, score.bar_length // STEP), MAX_POS - 1)
    return Chorale(g, pos, score.key.tonic, score.key.mode == "minor", tuple(shifts) or (0,))


def split_ids(scores: list[Score]) -> tuple[list[int], list[int], list[int]]:
    """(train, dev, test) chorale indices; see the module docstring."""
    test = [i for i in range(len(scores)) if i % 20 == 0]
    critics = [i for i, s in enumerate(scores) if i % 5 == 0 and s.bars >= 6][:60]
    dev = [i for i in critics if i % 20]
    held = set(test) | set(dev)
    return [i for i in range(len(scores)) if i not in held], dev, test


def example(c: Chorale, shift: int, start: int, rate: float, rng: np.random.Generator):
    """One (cells, mask, pos, key, weight) window of WINDOW steps, padded with rests (weight 0)."""
    T = c.pitches.shape[1]
    end = min(start + WINDOW, T)
    p = -np.ones((4, WINDOW), np.int64)
    seg = c.pitches[:, start:end]
    p[:, : end - start] = np.where(seg >= 0, seg + shift, -1)
    pos = np.zeros(WINDOW, np.int64)
    pos[: end - start] = c.pos[start:end]
    mask = rng.random((4, WINDOW)) < rate
    mask[0] = False
    real = np.zeros((4, WINDOW), bool)
    real[:, : end - start] = True
    mask &= real
    if not mask.any():
        mask[1 + rng.integers(3), rng.integers(max(1, end - start))] = True
    key = (c.tonic + shift) % 12 + 12 * int(c.minor)
    return to_cells(p), mask, pos, key


def batch(items: list):
    import torch

    cells, mask, pos, key = zip(*items)
    return (torch.from_numpy(np.stack(cells)), torch.from_numpy(np.stack(mask)), torch.from_numpy(np.stack(pos)),
            torch.tensor(key, dtype=torch.long))


def masked_nll(model, b) -> tuple[float, int]:
    """Summed NLL (nats) of the masked cells and their count."""
    import torch
    from torch.nn import functional as F

    cells, mask, pos, key = b
    with torch.no_grad():
        logits = model(cells, mask, pos, key)
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), cells.reshape(-1), reduction="none")
    m = mask.reshape(-1)
    return float(nll[m].sum()), int(m.sum())


def eval_batches(chorales: list[Chorale], infill_only: bool, seed: int = 1234) -> list:
    """Untransposed windows covering each chorale; masks: all of A, T, B (``infill_only``) or a
    random share r ~ U(0, 1) per window (seeded, fixed)."""
    rng = np.random.default_rng(seed)
    items = []
    for c in chorales:
        for start in range(0, c.pitches.shape[1], WINDOW):
            items.append(example(c, 0, start, 1.0 if infill_only else float(rng.random()), rng))
    return [batch(items[i : i + 32]) for i in range(0, len(items), 32)]


def evaluate(model, batches: list) -> float:
    model.eval()
    tot = n = 0
    for b in batches:
        s, k = masked_nll(model, b)
        tot, n = tot + s, n + k
    model.train()
    return tot / max(n, 1)


def train(scores: list[Score], out_dir: Path, config: ChoraleTrainConfig, log: Callable[[str], None] = print,
          progress=None, should_stop=None) -> dict:
    """Train or resume in ``out_dir``; returns the final state (``state.json``) with the test NLLs."""
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        return _train(scores, out_dir, config, log, progress, should_stop)


def _train(scores, out_dir, config, log, progress, should_stop) -> dict:
    import torch
    from torch.nn import functional as F

    from models.common.runtime import use_threads
    from models.common.training import checkpoint, resume_state, train_loop
    from models.music.coconet import build_coconet, save_coconet

    use_threads(config.threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    grids = [to_grid(s) for s in scores]
    tr, dev, test = split_ids(scores)
    model = build_coconet(CoconetConfig(**config.model))
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.98))
    state = resume_state(model, opt, out_dir, config, lambda m, t: m.load_state_dict(t), log)
    dev_b = eval_batches([grids[i] for i in dev], False)
    rng = np.random.default_rng(config.seed + state["step"])
    train_g = [grids[i] for i in tr]
    lengths = np.array([g.pitches.shape[1] for g in train_g], np.float64)
    weights = lengths / lengths.sum()  # windows in proportion to length
    n_params = sum(p.numel() for p in model.parameters())
    log(f"coconet: {n_params / 1e6:.2f}M params; chorales {len(tr)} train / {len(dev)} dev / {len(test)} test")

    def step_loss():
        items = []
        for _ in range(config.batch_size):
            c = train_g[int(rng.choice(len(train_g), p=weights))]
            T = c.pitches.shape[1]
            start = int(rng.integers(0, max(1, T - WINDOW + 1)))
            items.append(example(c, int(rng.choice(c.shifts)), start, float(rng.random()), rng))
        cells, mask, pos, key = batch(items)
        logits = model(cells, mask, pos, key)
        loss = F.cross_entropy(logits[mask], cells[mask])
        return loss, int(mask.sum())

    state = train_loop(model, opt, state, config, out_dir, step_loss=step_loss,
                       evaluate=lambda: evaluate(model, dev_b), save_model=save_coconet, log=log,
                       progress=progress, should_stop=should_stop)
    if not state.get("cancelled"):  # the held-out figures, on the best (dev) weights
        from models.common.checkpoint import load_safetensors

        best = build_coconet(CoconetConfig(**config.model))
        best.load_state_dict(load_safetensors(out_dir / "best.safetensors")[0])
        tg = [grids[i] for i in test]
        state["test_nll_infill"] = evaluate(best, eval_batches(tg, True))
        state["test_nll_random"] = evaluate(best, eval_batches(tg, False))
        state["test_chorales"], state["dev_chorales"], state["train_chorales"] = len(test), len(dev), len(tr)
        log(f"held-out NLL (nats/cell): A,T,B given S {state['test_nll_infill']:.3f}; "
            f"random masks {state['test_nll_random']:.3f}")
        checkpoint(model, opt, state, out_dir, save_coconet)
    return state


PRESET = ChoraleTrainConfig(model={"d_model": 128, "n_conv": 6, "n_attn": 2, "n_head": 4})


def install(run_dir: Path, weights_dir: Path) -> Path:
    """The run's best (dev NLL) weights, float16, with the measured figures in the header."""
    from models.common.checkpoint import half_floats, load_safetensors, save_safetensors

    state = json.loads((run_dir / "state.json").read_text())
    tensors, meta = load_safetensors(run_dir / "best.safetensors")
    meta.update(train_step=state["best_step"], steps_run=state["step"], train_seconds=round(state["seconds"]),
                dev_nll=state["best_val"], test_nll_infill=state.get("test_nll_infill"),
                test_nll_random=state.get("test_nll_random"), stored_dtype="float16")
    dest = weights_dir / "music-chorale.safetensors"
    save_safetensors(half_floats(tensors), dest, meta)
    return dest
