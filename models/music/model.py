"""Build, save and load the two music models from one config dict (``kind``: rnn | transformer)."""

from __future__ import annotations

from pathlib import Path

from models.common.checkpoint import load_safetensors, load_state_into, save_safetensors
from models.common.errors import ModelFileError

MUSIC_KINDS = ("transformer", "rnn")


def build_music_model(config: dict):
    from models.music.rnn import MusicRNN, RNNConfig
    from models.music.transformer import MusicTransformer, TransformerConfig

    cfg = dict(config)
    kind = cfg.pop("kind", None)
    if kind == "transformer":
        return MusicTransformer(TransformerConfig(**cfg))
    if kind == "rnn":
        return MusicRNN(RNNConfig(**cfg))
    raise ModelFileError(f"unknown music model kind {kind!r}; expected one of {', '.join(MUSIC_KINDS)}")


def save_music_model(model, path: Path, extra: dict | None = None) -> None:
    save_safetensors(model.state_dict(), path, {"config": model.config.to_dict(), **(extra or {})})


def load_music_model(path: Path):
    """-> (model in eval mode, metadata dict)."""
    tensors, meta = load_safetensors(path)
    if "config" not in meta:
        raise ModelFileError(f"{path} has no model config in its metadata; it was not written by `arsnova train music`")
    try:
        model = build_music_model(meta["config"])
    except TypeError as e:
        raise ModelFileError(f"{path} has an unreadable model config ({e})") from None
    load_state_into(model, tensors, path)
    model.eval()
    return model, meta


def grow_vocab(model, n: int, like: int):
    """The same model with ``n`` token rows (embedding and output), the new ones copied from token
    ``like``'s row: new tokens start as that token (BAR for CAD) and fine-tuning tells them apart.
    Returns a new model; ids below the old size keep their weights."""
    import torch

    old = model.config.vocab_size
    if n < old:
        raise ValueError(f"cannot shrink a {old}-token model to {n}")
    bigger = build_music_model({**model.config.to_dict(), "vocab_size": n})
    state = {}
    for name, t in model.state_dict().items():
        if t.shape[:1] == (old,) and bigger.state_dict()[name].shape[:1] == (n,):  # emb / head rows
            t = torch.cat([t, t[like : like + 1].expand(n - old, *t.shape[1:])])
        state[name] = t.clone()
    bigger.load_state_dict(state)
    return bigger.train(model.training)
