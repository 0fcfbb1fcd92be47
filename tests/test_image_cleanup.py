"""Cleaning a redraw (issue #21, no degradation): speckle off, blurred outlines made steps again,
the start's flat fills back, and the degradation critic that measures it."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from models.image.cleanup import clean_redraw, sharpen_edges
from models.image.metrics import degradation


def _disc() -> np.ndarray:
    """A flat-filled drawing with outlines on more than 5% of its pixels (the critic's edge measure
    is the 95th percentile of the gradient): four discs on a white page, one with a small eye."""
    im = np.full((64, 64, 3), 255, np.uint8)
    yy, xx = np.mgrid[:64, :64]
    for (cy, cx), colour in zip(((16, 16), (16, 48), (48, 16), (48, 48)),
                                ((200, 40, 60), (40, 90, 200), (240, 200, 40), (60, 160, 70))):
        im[(yy - cy) ** 2 + (xx - cx) ** 2 < 150] = colour
    im[(yy - 14) ** 2 + (xx - 13) ** 2 < 5] = (30, 30, 30)  # a small detail that must survive
    return im


def _redrawn(start: np.ndarray, seed: int = 0) -> np.ndarray:
    """What the small model does to a start: soft outlines and speckle."""
    soft = np.asarray(Image.fromarray(start).filter(ImageFilter.GaussianBlur(0.9)), np.float32)
    return (soft + np.random.default_rng(seed).normal(0, 6, soft.shape)).clip(0, 255).astype(np.uint8)


def test_blurred_outlines_come_back_crisp_and_the_critic_sees_it():
    start = _disc()
    raw = _redrawn(start)
    assert degradation(raw, start).degraded  # soft and speckled
    before = degradation(clean_redraw(raw, start, edge_passes=0), start)
    after = degradation(clean_redraw(raw, start), start)
    assert before.edge_ratio < 0.8 and before.degraded  # the median and the snap alone leave it soft
    assert after.edge_ratio >= 0.9 and after.speckle_ratio < 1.0 and not after.degraded
    out = clean_redraw(raw, start)
    assert (out[14, 13] < 80).all()  # the eye is still there
    assert np.abs(out.astype(int) - start).max(axis=-1).mean() < 8  # no outline moved


def test_toggle_mapping_leaves_gradients_and_flat_fills_and_invents_no_colour():
    ramp = np.repeat(np.linspace(40, 220, 64, dtype=np.float32)[None, :, None], 64, 0).repeat(3, 2)
    assert np.array_equal(sharpen_edges(ramp), ramp)  # a sky gradient is not an outline
    x = _redrawn(_disc(), 1).astype(np.float32)
    y = sharpen_edges(x)
    H, W = x.shape[:2]
    p = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    win = np.stack([p[i:i + H, j:j + W] for i in range(3) for j in range(3)])
    assert (np.abs(win - y[None]).sum(-1) == 0).any(0).all()  # every pixel is one of its window's


def test_the_degradation_floor_judges_the_picture_as_delivered():
    """``image_scores`` measures noise and crispness on ``delivered`` (the picture enlarged and read
    back, as a person sees it) when given, and a flagged picture has its quality halved."""
    from tools.critics.image import ImageContext, image_scores
    from models.image.upscaler import read_back

    start = _disc()
    ctx = ImageContext(None)
    sharp = image_scores(start, "four discs", ctx, start=start)
    assert not sharp.metrics["degraded"] and sharp.metrics["edge_ratio"] == 1.0
    seen = read_back(start, (256, 256))
    # Lanczos there and back costs crispness (0.82 for these unsmoothed discs, 0.92 for an emoji)
    assert seen.shape == start.shape and 0.75 < degradation(seen, start).edge_ratio < 1.0
    soft = _redrawn(start)
    judged = image_scores(start, "four discs", ctx, start=start, delivered=soft)
    assert judged.metrics["degraded"] and judged.quality == sharp.quality * 0.5
