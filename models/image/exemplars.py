"""Exemplars for the embedded picture model: training pictures it can start a drawing from.

The embedded model learned colours and layouts but not subjects (its card says why). So that "a
red apple" comes out as an apple, a drawing can start from the training picture whose short
caption names the closest subject (all-MiniLM-L6-v2 cosine similarity of the subjects, colours
matched apart and the exemplar recoloured when it has none of the asked colours), noised part of
the way and redrawn by the model (SDEdit, as diffusers' img2img pipelines do): retrieval-augmented
diffusion. The library is the emoji of the training set (one picture per subject, flags left out),
shipped beside the weights as ``exemplars.npz``; every picture says which exemplar it started from
and how far it was redrawn, and the novelty critic measures the distance to it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

FILE = "exemplars.npz"


COLOUR_BONUS = 0.2  # similarity added to an exemplar that has a colour the prompt asks for

# Target hue (degrees) of each colour word, and how saturation and value change (recolour)
_TARGETS = {"red": (2, 1.0, 1.0), "orange": (30, 1.0, 1.0), "yellow": (52, 1.0, 1.0), "green": (120, 1.0, 1.0),
            "blue": (215, 1.0, 1.0), "purple": (275, 1.0, 1.0), "pink": (330, 0.55, None), "brown": (25, 0.8, 0.55)}


@dataclass(frozen=True)
class Exemplars:
    images: np.ndarray  # uint8 (N, S, S, 3)
    captions: tuple[str, ...]  # their short captions ("a red apple")
    vectors: np.ndarray  # float32 (N, D), unit length: the embeddings of the captions' subjects ("apple")
    hires: object = None  # models.image.hires.HiresExemplars: the same pictures at 128 px, when shipped

    def __post_init__(self) -> None:
        if not (len(self.images) == len(self.captions) == len(self.vectors)) or not len(self.images):
            raise ValueError("an exemplar library needs as many images, captions and vectors, and at least one")
        if self.hires is not None and len(self.hires.images) != len(self.images):
            raise ValueError(f"the hi-res library has {len(self.hires.images)} pictures for {len(self.images)} exemplars: "
                             "rebuild it with `python -m models.image.training.hires`")

    @cached_property
    def _colour_sets(self) -> list[frozenset[str]]:
        from models.image.colours import colours_in

        return [frozenset(colours_in(c)) for c in self.captions]

    @cached_property
    def subject_names(self) -> frozenset[str]:
        """The captions' subjects, colours left out ('a red apple' -> 'apple')."""
        from models.image.colours import subject_of

        return frozenset(subject_of(c) for c in self.captions)

    def colours(self, i: int) -> frozenset[str]:
        """The colour words of exemplar ``i``'s caption (measured from its pixels)."""
        return self._colour_sets[i]

    def ranked(self, subject: np.ndarray, colours: list[str] = (), k: int = 3, margin: float = 0.03) -> list[int]:
        """The ``k`` best matches for a subject's (D,) embedding, best first, a small bonus for having
        one of ``colours``; only those within ``margin`` of the best (a clear match is never swapped
        for a poor one). Subjects and colours are matched apart: whole captions are dominated by
        their colour words (MiniLM put 'a brown dog' nearest to 'a brown heart')."""
        q = np.asarray(subject, dtype=np.float32)
        sims = self.vectors @ (q / max(float(np.linalg.norm(q)), 1e-8))
        if colours:
            sims = sims + COLOUR_BONUS * np.array([bool(cs & set(colours)) for cs in self._colour_sets])
        order = np.argsort(-sims, kind="stable")[:k]
        return [int(i) for i in order if sims[i] >= sims[order[0]] - margin]

    def pick(self, subject: np.ndarray, colours: list[str], seeds: list[int]) -> list[int]:
        """For each seed, one of the close matches, chosen by that seed (different seeds can start
        from different trees when there are several)."""
        ranked = self.ranked(subject, colours)
        return [ranked[int(np.random.default_rng(s).integers(len(ranked)))] for s in seeds]

    def recolour_to(self, i: int, colours: list[str]) -> str | None:
        """The colour exemplar ``i`` is turned to for a drawing of ``colours``: the first one asked
        for when it has none of them (a red balloon for 'a purple balloon'); None: kept as it is."""
        if not colours or self.colours(i) & set(colours) or colours[0] == "white":
            return None
        return colours[0]

    def start(self, i: int, colours: list[str]) -> np.ndarray:
        """Exemplar ``i`` as a drawing of ``colours`` starts from it (recoloured if need be)."""
        to = self.recolour_to(i, colours)
        return self.images[i] if to is None else recolour(self.images[i], to)

    def start_big(self, i: int, colours: list[str]) -> np.ndarray | None:
        """``start(i, colours)`` at the hi-res library's size (recoloured by the same hue turn), or
        None when there is no hi-res picture of exemplar ``i``."""
        big = self.hires.get(i) if self.hires is not None else None
        if big is None:
            return None
        to = self.recolour_to(i, colours)
        return big if to is None else recolour(big, to, like=self.images[i])

    def save(self, path: Path) -> None:
        """The pictures as one lossless WebP sheet (35% smaller than zlib on the raw pixels: the
        shipped weights have a 60 MB budget), captions, and the unit vectors as int8 (x 127)."""
        from models.common.files import write_atomic
        from models.image.image_io import pack_sheet

        buf = io.BytesIO()
        np.savez_compressed(buf, **pack_sheet(self.images),
                            captions=np.array(self.captions, dtype=str),
                            vectors=np.round(self.vectors * 127).clip(-127, 127).astype(np.int8))
        write_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "Exemplars":
        """The library at ``path`` and, when it is beside it, its hi-res sheet (``hires.FILE``)."""
        from models.image.hires import FILE as HIRES, HiresExemplars
        from models.image.image_io import unpack_sheet

        path = Path(path)
        hires = HiresExemplars.load(path.parent / HIRES) if (path.parent / HIRES).is_file() else None

        with np.load(path, allow_pickle=False) as z:
            images = unpack_sheet(z)
            n = len(images)
            vec = z["vectors"].astype(np.float32)
            return cls(images, tuple(str(c) for c in z["captions"]), vec / np.linalg.norm(vec, axis=1, keepdims=True),
                       hires if hires is not None and len(hires.images) == n else None)

    @classmethod
    def build(cls, images: np.ndarray, captions: list[str], keep: np.ndarray, encoder) -> "Exemplars":
        """From a training set: the pictures where ``keep`` is true, found by their captions' subjects."""
        from models.image.colours import subject_of

        idx = np.flatnonzero(keep)
        caps = [captions[i] for i in idx]
        vec = np.asarray(encoder([subject_of(c) or c for c in caps], batch_size=128), dtype=np.float32)
        return cls(images[idx], tuple(caps), vec / np.linalg.norm(vec, axis=1, keepdims=True))


def _hsv(rgb: np.ndarray):
    from PIL import Image

    hsv = np.asarray(Image.fromarray(rgb).convert("HSV"), dtype=np.float32)
    h, s, v = hsv[..., 0] * (360 / 255), hsv[..., 1], hsv[..., 2]
    return h, s, v, (rgb.min(axis=-1) < 235) & (s > 40)


def recolour(rgb: np.ndarray, colour: str, like: np.ndarray | None = None) -> np.ndarray:
    """The picture's coloured (non-white, saturated) pixels turned to ``colour``: hues rotated so
    their saturation-weighted mean lands on the colour's hue (shading and highlights keep their
    relative hue), with saturation/value changed for pink and brown; black and grey darken or
    desaturate. White pixels (the page) are left alone. ``like``: take the mean hue from this
    picture instead (the 64 px exemplar, so its 128 px version turns by exactly the same angle)."""
    from PIL import Image

    h, s, v, fg = _hsv(rgb)
    if not fg.any():
        return rgb
    if colour in ("black", "grey"):
        s = np.where(fg, s * 0.15, s)
        v = np.where(fg, v * (0.15 if colour == "black" else 0.8), v)
    else:
        target, s_mul, v_mul = _TARGETS[colour]
        rh, rs, _, rfg = _hsv(like) if like is not None else (h, s, v, fg)
        if not rfg.any():
            rh, rs, rfg = h, s, fg
        ang = np.deg2rad(rh[rfg])
        mean = np.rad2deg(np.arctan2((rs[rfg] * np.sin(ang)).sum(), (rs[rfg] * np.cos(ang)).sum()))
        h = np.where(fg, (h + target - mean) % 360, h)
        s = np.where(fg, s * s_mul, s)
        v = np.where(fg, np.minimum(255, v * 0.6 + 100) if v_mul is None else v * v_mul, v)
    out = np.stack([h * (255 / 360), s, v], axis=-1).round().clip(0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(out, mode="HSV").convert("RGB"), dtype=np.uint8)


def exemplar_mask(captions: list[str], emoji: np.ndarray) -> np.ndarray:
    """Which training pictures are exemplars: the emoji, less the country flags (259 near-identical
    rectangles that would take a seventh of the library)."""
    return np.array([bool(e) and not c.endswith("emoji country flag") for c, e in zip(captions, emoji)])
