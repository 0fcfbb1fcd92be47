"""Exemplars for the embedded picture model: training pictures it can start a drawing from.

The embedded model learned colours and layouts but not subjects (its card says why). So that "a
red apple" comes out as an apple, a drawing can start from the training picture whose short
caption is closest in meaning to the prompt (all-MiniLM-L6-v2 cosine similarity), noised part of
the way and redrawn by the model (SDEdit, as diffusers' img2img pipelines do): retrieval-augmented
diffusion. The library is the emoji of the training set (one picture per subject, flags left out),
shipped beside the weights as ``exemplars.npz``; every picture says which exemplar it started from
and how far it was redrawn, and the novelty critic measures the distance to it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILE = "exemplars.npz"


@dataclass(frozen=True)
class Exemplars:
    images: np.ndarray  # uint8 (N, S, S, 3)
    captions: tuple[str, ...]  # the short captions they are found by
    vectors: np.ndarray  # float32 (N, D), unit length

    def __post_init__(self) -> None:
        if not (len(self.images) == len(self.captions) == len(self.vectors)) or not len(self.images):
            raise ValueError("an exemplar library needs as many images, captions and vectors, and at least one")

    def ranked(self, query: np.ndarray, k: int = 3, margin: float = 0.05) -> list[int]:
        """The ``k`` best matches for a (D,) embedding, best first, keeping only those within
        ``margin`` cosine similarity of the best (so a clear match is never swapped for a poor one)."""
        q = np.asarray(query, dtype=np.float32)
        sims = self.vectors @ (q / max(float(np.linalg.norm(q)), 1e-8))
        order = np.argsort(-sims, kind="stable")[:k]
        return [int(i) for i in order if sims[i] >= sims[order[0]] - margin]

    def pick(self, query: np.ndarray, seed: int) -> int:
        """One of the close matches, chosen by the seed (different seeds can start from different
        apples when there are several)."""
        ranked = self.ranked(query)
        return ranked[int(np.random.default_rng(seed).integers(len(ranked)))]

    def save(self, path: Path) -> None:
        from models.files import write_atomic

        buf = io.BytesIO()
        np.savez_compressed(buf, images=self.images, captions=np.array(self.captions, dtype=str),
                            vectors=self.vectors.astype(np.float16))
        write_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "Exemplars":
        with np.load(path, allow_pickle=False) as z:
            vec = z["vectors"].astype(np.float32)
            return cls(z["images"], tuple(str(c) for c in z["captions"]), vec / np.linalg.norm(vec, axis=1, keepdims=True))

    @classmethod
    def build(cls, images: np.ndarray, captions: list[str], keep: np.ndarray, encoder) -> "Exemplars":
        """From a training set: the pictures where ``keep`` is true, found by ``captions``."""
        idx = np.flatnonzero(keep)
        caps = [captions[i] for i in idx]
        vec = np.asarray(encoder(caps, batch_size=128), dtype=np.float32)
        return cls(images[idx], tuple(caps), vec / np.linalg.norm(vec, axis=1, keepdims=True))


def exemplar_mask(captions: list[str], emoji: np.ndarray) -> np.ndarray:
    """Which training pictures are exemplars: the emoji, less the country flags (259 near-identical
    rectangles that would take a seventh of the library)."""
    return np.array([bool(e) and not c.endswith("emoji country flag") for c, e in zip(captions, emoji)])
