"""Where the shipped weights live, which version of Ars Nova is running, and the one place
torch's thread count is set."""

from __future__ import annotations

from pathlib import Path


def default_weights_dir() -> Path:
    """``models/weights``: the checkpoints and cards that ship with the project."""
    return Path(__file__).resolve().parents[1] / "weights"


def app_version() -> str:
    try:
        from importlib.metadata import version

        return version("arsnova")
    except Exception:
        return "0+unknown"


def use_threads(n: int) -> None:
    """Set torch's intra-op threads (generation per tool call, and training): one place, so a
    reader finds who decides how many cores a model computes on."""
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
