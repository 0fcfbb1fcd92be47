"""Measurements of a picture: quality statistics, a compact feature vector for nearest-neighbour
novelty against the training images, and the palette (shared by the critics and the trainer)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness of an (H, W, 3) uint8/float image in 0..255."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of the luminance (higher = crisper detail)."""
    y = luminance(rgb)
    lap = -4 * y[1:-1, 1:-1] + y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:]
    return float(lap.var())


def contrast(rgb: np.ndarray) -> float:
    """RMS contrast: standard deviation of the luminance, 0..255."""
    return float(luminance(rgb).std())


def entropy(rgb: np.ndarray, bins: int = 64) -> float:
    """Shannon entropy (bits) of the luminance histogram."""
    h = np.histogram(luminance(rgb), bins=bins, range=(0, 256))[0].astype(np.float64)
    p = h[h > 0] / h.sum()
    return float(-(p * np.log2(p)).sum())


def quality_metrics(rgb: np.ndarray) -> dict[str, float]:
    return {"colourfulness": colourfulness(rgb), "contrast": contrast(rgb), "entropy": entropy(rgb),
            "sharpness": sharpness(rgb)}


def features(rgb: np.ndarray) -> np.ndarray:
    """A unit vector: the picture as an 8x8 colour thumbnail plus a 4x4 grid of edge energy —
    close for near-copies, far for different compositions or palettes."""
    from PIL import Image

    im = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    thumb = np.asarray(im.resize((8, 8), Image.Resampling.BOX), dtype=np.float32) / 255.0
    y = luminance(np.asarray(im.resize((32, 32), Image.Resampling.BOX)))
    gx, gy = np.abs(np.diff(y, axis=1))[:-1], np.abs(np.diff(y, axis=0))[:, :-1]
    edges = (gx + gy)[:28, :28].reshape(4, 7, 4, 7).mean(axis=(1, 3)) / 64.0
    v = np.concatenate([thumb.ravel() - 0.5, edges.ravel()]).astype(np.float32)
    return v / max(float(np.linalg.norm(v)), 1e-6)


@dataclass(frozen=True)
class FeatureIndex:
    """Training-image features (fp16) and the reference figures the novelty critic scales by."""

    feats: np.ndarray
    loo_median: float  # median distance of a training image to its nearest other training image
    loo_p01: float  # 1st percentile of those distances: closer than this is a near-copy
    quality_p05: dict  # 5th percentile of each quality metric over the training images

    @classmethod
    def build(cls, images: np.ndarray) -> "FeatureIndex":
        f = np.stack([features(im) for im in images]).astype(np.float32)
        sample = f[:: max(1, len(f) // 1000)]
        d = np.sqrt(np.maximum(0, 2 - 2 * sample @ f.T))
        d[d < 1e-6] = np.inf  # itself
        nn = d.min(axis=1)
        nn = nn[np.isfinite(nn)]
        q = [quality_metrics(im) for im in images[:: max(1, len(images) // 1000)]]
        p05 = {k: float(np.percentile([m[k] for m in q], 5)) for k in q[0]}
        return cls(f.astype(np.float16), float(np.median(nn)) if len(nn) else 1.0,
                   float(np.percentile(nn, 1)) if len(nn) else 0.0, p05)

    @cached_property
    def _feats32(self) -> np.ndarray:
        """The features in fp32, converted once (per call it was ~7 ms of a critic's ~50)."""
        return self.feats.astype(np.float32)

    def nearest(self, feat: np.ndarray) -> tuple[float, int]:
        d = np.sqrt(np.maximum(0, 2 - 2 * self._feats32 @ feat))
        i = int(np.argmin(d))
        return float(d[i]), i

    def save(self, path: Path) -> None:
        import io
        import json

        from models.common.files import write_atomic

        buf = io.BytesIO()
        np.savez_compressed(buf, feats=self.feats, meta=np.array(json.dumps(
            {"loo_median": self.loo_median, "loo_p01": self.loo_p01, "quality_p05": self.quality_p05})))
        write_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "FeatureIndex":
        import json

        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return cls(z["feats"], meta["loo_median"], meta["loo_p01"], meta["quality_p05"])


def speckle(rgb: np.ndarray) -> float:
    """Noise: the mean absolute difference (0..255) between the picture and its 3x3 median — what
    isolated specks add and flat fills and clean edges do not (a median keeps a step edge)."""
    from PIL import Image, ImageFilter

    im = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    med = np.asarray(im.filter(ImageFilter.MedianFilter(3)), dtype=np.float32)
    return float(np.abs(np.asarray(im, dtype=np.float32) - med).mean())


def edge_strength(rgb: np.ndarray) -> float:
    """Crispness: the 95th percentile of the luminance gradient (0..255 per pixel) after a 3x3
    median, so specks do not count as edges and a blurred outline scores lower than a clean one."""
    from PIL import Image, ImageFilter

    y = luminance(np.asarray(Image.fromarray(np.asarray(rgb, dtype=np.uint8)).filter(ImageFilter.MedianFilter(3))))
    g = np.hypot(np.diff(y, axis=1)[:-1], np.diff(y, axis=0)[:, :-1])
    return float(np.percentile(g, 95))


@dataclass(frozen=True)
class Degradation:
    """A drawing against the picture it started from: its noise and crispness over the start's (a
    redraw that kept the start's clean edges and flat fills is near 1.0 / 1.0)."""

    speckle_ratio: float  # > 1: noisier than the start
    edge_ratio: float  # < 1: blurrier than the start

    @property
    def degraded(self) -> bool:
        """Noticeably worse than the start: 50% more speckle, or edges at under 80% of its crispness."""
        return self.speckle_ratio > 1.5 or self.edge_ratio < 0.8


def degradation(rgb: np.ndarray, start: np.ndarray) -> Degradation:
    """``rgb`` against ``start``, both uint8 (H, W, 3) at the same size."""
    return Degradation(speckle(rgb) / max(speckle(start), 0.5), edge_strength(rgb) / max(edge_strength(start), 1.0))
