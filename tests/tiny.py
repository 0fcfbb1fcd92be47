"""Tiny real models for tests: the project's own classes at toy size, built in a few ms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.music_tokens import Key, NoteEvent, Score


def scale_tune(key: Key, bars: int = 4, meter: str = "4/4", offset: int = 0) -> Score:
    """A deterministic tune: walks the scale in eighth notes, a different contour per offset."""
    steps = sorted(key.scale() - ({(key.tonic + 11) % 12} if key.mode == "minor" else set()))
    bar = Score((), meter, key).bar_length
    notes, t, i = [], 0, offset
    rng = np.random.default_rng(offset)
    while t < bars * bar:
        pc = steps[i % len(steps)]
        notes.append(NoteEvent(t, 2, 60 + pc))
        i += int(rng.integers(1, 4))
        t += 2
    return Score(tuple(notes), meter, key, "folk", "moderate", bars)


def tiny_corpus(n: int = 12, distinct: int | None = None):
    """n pieces; with ``distinct`` only that many different tunes, repeated (easy to memorise)."""
    from models.music_data import MusicCorpus

    keys = [Key(0, "major"), Key(2, "minor"), Key(7, "major"), Key(9, "minor")]
    d = distinct or n
    return MusicCorpus.from_scores([scale_tune(keys[i % 4], 4, offset=i % d) for i in range(n)])


def make_tiny_weights(out: Path, seed: int = 0) -> Path:
    import torch

    from models.music_model import build_music_model, save_music_model
    from models.music_tokens import Vocab
    from models.music_train import build_melody_index

    torch.manual_seed(seed)
    v = Vocab()
    out.mkdir(parents=True, exist_ok=True)
    t = build_music_model({"kind": "transformer", "vocab_size": len(v), "block_size": 128, "n_layer": 2,
                           "n_head": 2, "n_embd": 32, "dropout": 0.0})
    r = build_music_model({"kind": "rnn", "vocab_size": len(v), "n_embd": 32, "hidden": 48, "n_layer": 1, "dropout": 0.0})
    save_music_model(t, out / "music-transformer.safetensors", {"train_step": 0})
    save_music_model(r, out / "music-rnn.safetensors", {"train_step": 0})
    build_melody_index(tiny_corpus()).save(out / "music-ngrams.npz")
    return out
