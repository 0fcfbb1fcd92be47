"""Guided enlargement: the model's 64 px redraw delivered at 256 px with the start's own detail.

The embedded model draws at 64 px, from a start it composed there (an emoji exemplar, or a scene
canvas). The learned ×4 upscaler (``models/image/upscaler.py``) gives clean outlines but adds no
detail, so a single subject read worse than the emoji it started from. The same start also exists
at the delivered size: the exemplar at 128 px (``models/image/hires.py``, built by ``models/image/training/hires.py`` from the Noto font's bitmaps)
and the setting drawn at 256 px (``models/image/scene.py``, the same layout). Where the redraw
*kept* its start — per-pixel colour distance at 64 px under ``near`` — the delivered picture takes
the hi-res start's pixels; where the redraw changed it (over ``far``), the upscaler's; between the
two a ramp, and the mask is enlarged bilinearly and feathered (Gaussian, ``feather`` delivered
pixels) so no seam shows. A guided image filter in spirit (He et al. 2010: a high-resolution guide
steering the output), without its local linear model: the guide is the very picture the
low-resolution one was drawn from.

What the model changed stays the model's: the novelty critic measures the 64 px drawing, which
this does not touch, and the delivered picture read back at 64 px keeps its distance from the start
(``bench/image_guided.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.image.upscaler import shrink as read_back  # noqa: F401  (the delivered picture read back at 64 px)


@dataclass(frozen=True)
class GuidedConfig:
    near: float = 20.0  # RGB distance (0..441) at 64 px under which the redraw kept the start: its pixels, in full
    far: float = 48.0  # over this the redraw changed it: the upscaler's pixels, in full (a ramp between)
    feather: float = 1.5  # Gaussian sigma of the mask at the delivered size, in native pixels (x4 at 256 px)
    erode: int = 1  # native pixels the kept region gives up next to a strong change, so a feature the redraw
    # moved is not seen twice (the start's, feathered in, beside the redraw's)
    strong: float = 96.0  # a change this large (RGB distance) is a strong one


@dataclass(frozen=True)
class Enlarged:
    pixels: np.ndarray  # uint8 (H, W, 3) at the delivered size
    how: str  # what the PNG and the summary say
    kept: float  # share of the picture taken from the hi-res start (0 when unguided)


def kept_mask(redraw: np.ndarray, start: np.ndarray, cfg: GuidedConfig = GuidedConfig()) -> np.ndarray:
    """float32 (h, w) in 0..1 at the native size: 1 where the redraw kept the start's colour."""
    d = np.linalg.norm(redraw.astype(np.float32) - start.astype(np.float32), axis=-1)
    m = np.clip((cfg.far - d) / (cfg.far - cfg.near), 0.0, 1.0).astype(np.float32)
    if cfg.erode > 0:  # small changes (a shade, a pixel of outline) keep their neighbours; strong ones do not
        from scipy.ndimage import maximum_filter

        m = np.where(maximum_filter(d > cfg.strong, size=2 * cfg.erode + 1, mode="nearest"), 0.0, m).astype(np.float32)
    return m


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return a
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(a, sigma, mode="nearest")


def guided_enlarge(redraw: np.ndarray, start: np.ndarray | None, start_big: np.ndarray | None,
                   size: tuple[int, int], upscaler, cfg: GuidedConfig = GuidedConfig()) -> Enlarged:
    """``redraw`` (native, uint8) at ``size`` (w, h): the hi-res start ``start_big`` (uint8, any size)
    where the redraw kept ``start`` (native, uint8),
    ``upscaler``'s enlargement (``upscaler.enlarge``) elsewhere (``guide_at`` brings ``start_big`` to
    ``size``; pass it at ``size`` to reuse one enlargement across calls). Without a hi-res start (or at the
    native size): ``upscaler.enlarge`` alone."""
    from PIL import Image

    from models.image.upscaler import enlarge

    if start is None or start_big is None or tuple(size) == redraw.shape[1::-1]:
        base, how = enlarge(redraw, size, upscaler)
        return Enlarged(base, how, 0.0)
    if redraw.shape != start.shape:
        raise ValueError(f"redraw {redraw.shape} and start {start.shape} must be the same size")
    base, how = enlarge(redraw, size, upscaler)
    big = guide_at(start_big, size, upscaler)
    m = kept_mask(redraw, start, cfg)
    mb = np.asarray(Image.fromarray(m).resize(size, Image.Resampling.BILINEAR), np.float32)
    mb = np.clip(_blur(mb, cfg.feather * size[0] / redraw.shape[1]), 0.0, 1.0)[..., None]
    out = (mb * big.astype(np.float32) + (1.0 - mb) * base.astype(np.float32)).round().clip(0, 255).astype(np.uint8)
    kept = float(mb.mean())
    return Enlarged(out, f"{how}, guided by the start at this size where the redraw kept it ({kept:.0%} of the picture)", kept)


def guide_at(start_big: np.ndarray, size: tuple[int, int], upscaler) -> np.ndarray:
    """The hi-res start at ``size`` (w, h): as it is, or enlarged as a drawing is (``enlarge``: the 128 px
    exemplar through the learned x4 and Lanczos back down to 256 px, visibly crisper than Lanczos x2
    alone), or shrunk by Lanczos."""
    from PIL import Image

    from models.image.upscaler import enlarge

    big = np.asarray(start_big, np.uint8)
    if big.shape[1::-1] == tuple(size):
        return big
    if size[0] > big.shape[1] and size[1] > big.shape[0]:
        return enlarge(big, size, upscaler)[0]
    return np.asarray(Image.fromarray(big).resize(size, Image.Resampling.LANCZOS))
