"""Training for the music models: random windows of random transpositions, AdamW, cosine LR.

Resumable: every ``ckpt_every`` steps the model, optimizer moments and step counter are
written as safetensors + JSON into ``out_dir``; calling ``train`` again continues from there.
Validation NLL per token is measured on fixed windows of held-out pieces (no transposition).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.music.training.data import MusicCorpus
from models.music.tokens import MAX_PITCH, MIN_PITCH, Vocab
from models.common.runtime import use_threads
from models.common.training import resume_state, train_loop

HEADER_LEN = 5


@dataclass(frozen=True)
class TrainConfig:
    model: dict = field(default_factory=lambda: {"kind": "transformer"})
    steps: int = 2000
    batch_size: int = 8
    block_size: int = 384
    lr: float = 2e-3
    min_lr: float = 1e-4
    warmup: int = 100
    weight_decay: float = 0.05
    eval_every: int = 100
    ckpt_every: int = 50
    val_windows: int = 64
    seed: int = 0
    threads: int = 1
    transpose: bool = True  # random transposition of every training piece (key conditioning for all keys)
    max_seconds: float = 0.0  # 0 = no wall-clock limit
    val_fraction: float = 0.05  # pieces held out for the validation NLL
    init_from: str = ""  # fine-tune: start from this checkpoint (its config replaces ``model``)
    patience: int = 0  # early stopping: evaluations without a better validation NLL (0 = off); the best is kept
    grow_vocab: bool = False  # fine-tune: give an older (version-1, 199-token) model the current vocabulary's rows


def piece_tokens(corpus: MusicCorpus, vocab: Vocab, i: int, transpose: int) -> np.ndarray:
    return np.array(vocab.encode(corpus.score(i, transpose)), dtype=np.int64)


def valid_transpositions(corpus: MusicCorpus, i: int) -> list[int]:
    p = corpus.notes[corpus.offsets[i] : corpus.offsets[i + 1], 2]
    return [t for t in range(-5, 7) if p.min() + t >= MIN_PITCH and p.max() + t <= MAX_PITCH]


def window(tokens: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Header + a random stretch of the body starting at a bar, padded to ``length``."""
    if len(tokens) > length:
        body = tokens[HEADER_LEN:]
        bar_starts = np.flatnonzero(body == 3)  # BAR id
        bar_starts = bar_starts[bar_starts <= len(body) - (length - HEADER_LEN) // 2] if len(bar_starts) else bar_starts
        s = int(rng.choice(bar_starts)) if len(bar_starts) else 0
        tokens = np.concatenate([tokens[:HEADER_LEN], body[s : s + length - HEADER_LEN]])
    out = np.zeros(length, dtype=np.int64)  # PAD = 0
    out[: len(tokens)] = tokens
    return out


def packed_window(corpus: MusicCorpus, vocab: Vocab, pieces: np.ndarray, length: int,
                  rng: np.random.Generator, transpose: bool = True) -> np.ndarray:
    """Whole pieces (random transposition each) end to end, as GPT training packs documents;
    a piece longer than the window contributes its header + a random bar-aligned stretch."""
    parts: list[np.ndarray] = []
    filled = 0
    while filled < length:
        i = int(rng.choice(pieces))
        ts = (valid_transpositions(corpus, i) or [0]) if transpose else [0]
        toks = piece_tokens(corpus, vocab, i, int(rng.choice(ts)))
        if len(toks) > length:
            toks = window(toks, length, rng)
        parts.append(toks)
        filled += len(toks)
    return np.concatenate(parts)[:length]


def evaluate(model, batches: list) -> float:
    """Mean NLL (nats) per predicted non-pad body token."""
    import torch
    from torch.nn import functional as F

    model.eval()
    tot, n = 0.0, 0
    with torch.inference_mode():
        for x in batches:
            logits, _ = model(x[:, :-1])
            y = x[:, 1:].clone()
            y[:, : HEADER_LEN - 1] = 0  # header tokens are given, not predicted
            mask = y != 0
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
            tot += float(loss[mask.reshape(-1)].sum())
            n += int(mask.sum())
    model.train()
    return tot / max(n, 1)


def train(corpus: MusicCorpus, out_dir: Path, config: TrainConfig, log: Callable[[str], None] = print,
          progress: Callable[[int, int, float], None] | None = None, should_stop: Callable[[], bool] | None = None) -> dict:
    """Train (or resume) and return the final state dict written to ``state.json``. ``progress(step,
    steps, seconds)`` after each step; ``should_stop()`` ends the run early with a checkpoint
    (``state["cancelled"]``), so the same call resumes it."""
    import torch

    # initialisation and dropout draw from torch's global generator: seed it without leaking
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        return _train(corpus, out_dir, config, log, progress, should_stop)


def _train(corpus: MusicCorpus, out_dir: Path, config: TrainConfig, log: Callable[[str], None],
           progress=None, should_stop=None) -> dict:
    import torch
    from torch.nn import functional as F

    from models.music.model import build_music_model, save_music_model

    use_threads(config.threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = Vocab()
    if config.init_from:  # transfer learning: the shipped model's shape and weights
        from models.music.model import grow_vocab, load_music_model

        model, meta = load_music_model(Path(config.init_from))
        if config.grow_vocab and model.config.vocab_size < len(vocab):  # new token rows start as BAR's
            model = grow_vocab(model, len(vocab), like=vocab.id("BAR"))
        mcfg = model.config.to_dict()
        vocab = Vocab.for_model(model)  # a learned composer keeps its base model's token version
        L = min(config.block_size, int(mcfg.get("block_size") or config.block_size))  # an RNN has no limit
    else:
        mcfg = {**config.model, "vocab_size": len(vocab), "block_size": config.block_size}
        model = build_music_model(mcfg)
        L = config.block_size
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.98))
    state = resume_state(model, opt, out_dir, config, lambda m, t: m.load_state_dict(t), log)
    train_idx, val_idx = corpus.split(config.val_fraction, seed=config.seed)
    vrng = np.random.default_rng(1234)
    val_batches = []
    pick = val_idx[: config.val_windows]
    for j in range(0, len(pick), config.batch_size):
        rows = [window(piece_tokens(corpus, vocab, int(i), 0), L + 1, vrng) for i in pick[j : j + config.batch_size]]
        val_batches.append(torch.from_numpy(np.stack(rows)))
    rng = np.random.default_rng(config.seed + state["step"])
    n_params = sum(p.numel() for p in model.parameters())
    log(f"{mcfg['kind']}: {n_params / 1e6:.2f}M params, {len(train_idx)} train / {len(val_idx)} val pieces")

    def step_loss():
        rows = [packed_window(corpus, vocab, train_idx, L + 1, rng, config.transpose)
                for _ in range(config.batch_size)]
        x = torch.from_numpy(np.stack(rows))
        logits, _ = model(x[:, :-1])
        y = x[:, 1:].clone()
        y[:, : HEADER_LEN - 1] = 0
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=0)
        return loss, int((y != 0).sum())

    return train_loop(model, opt, state, config, out_dir, step_loss=step_loss,
                      evaluate=lambda: evaluate(model, val_batches), save_model=save_music_model, log=log,
                      progress=progress, should_stop=should_stop)


# The shipped checkpoints were trained with these presets (see models/weights/MUSIC_CARD.md).
PRESETS = {
    "transformer": TrainConfig(model={"kind": "transformer", "n_layer": 4, "n_head": 6, "n_embd": 192, "dropout": 0.1},
                               steps=4000, batch_size=8, block_size=384, lr=2e-3),
    "rnn": TrainConfig(model={"kind": "rnn", "n_embd": 256, "hidden": 512, "n_layer": 2, "dropout": 0.1},
                       steps=2500, batch_size=8, block_size=384, lr=2e-3),
}


# Version 2 (the CAD phrase-end token) by fine-tuning the version-1 checkpoints above
# (`arsnova train music --model M --init-from OLD.safetensors`): the new row starts as BAR's, a
# quarter of the from-scratch learning rate, the same data, windows and seed.
FINETUNE = {
    kind: dataclasses.replace(PRESETS[kind], steps=steps, lr=5e-4, min_lr=5e-5, warmup=50, grow_vocab=True)
    for kind, steps in (("rnn", 1200), ("transformer", 1000))
}


def build_melody_index(corpus: MusicCorpus):
    """The corpus n-gram index the novelty critic and n-gram blocking use (all pieces)."""
    from models.music.sample import MELODY_N, score_melody
    from models.common.ngram_index import NgramIndex

    return NgramIndex.build((score_melody(corpus.score(i)) for i in range(len(corpus))), MELODY_N)


def install_music_model(run_dir: Path, weights_dir: Path, kind: str) -> Path:
    """Copy a finished run into the weights directory, with its measured figures in the header."""
    from models.common.checkpoint import half_floats, load_safetensors, save_safetensors
    from models.music.generator import MODEL_FILES

    state = json.loads((run_dir / "state.json").read_text())
    tensors, meta = load_safetensors(run_dir / "model.safetensors")
    meta.update(train_step=state["step"], tokens_seen=state["tokens_seen"], train_seconds=round(state["seconds"]),
                val_nll=state.get("val_nll") or state["history"][-1]["val_nll"], params=state.get("params"))
    dest = weights_dir / MODEL_FILES[kind]
    save_safetensors(half_floats(tensors), dest, {**meta, "stored_dtype": "float16"})
    return dest
