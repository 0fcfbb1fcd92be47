"""Picture critics: quality against the training pictures' floors, novelty as distance to the
nearest training picture and the session's earlier ones, adherence as the asked colours."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.artifacts import Scores
from tools.critics import band


@dataclass(frozen=True)
class ImageContext:
    """The training set's feature index and quality floors, and the session's earlier images."""

    index: object  # models.image.metrics.FeatureIndex, or None for a model without one
    earlier: tuple = ()  # feature vectors


def requested_colours(prompt: str) -> list[str]:
    from models.image.colours import colours_in

    return colours_in(prompt)


def image_scores(rgb: np.ndarray, prompt: str, ctx: ImageContext) -> Scores:
    """rgb: the picture at the model's native size (uint8). quality: colourfulness, contrast,
    entropy and sharpness against the 5th percentiles of the training images; novelty: distance
    to the nearest training image (scaled by the training set's own median nearest-neighbour
    distance; a near-copy scores 0) and to the session's earlier images; adherence: the colour
    words of the prompt found in the measured palette."""
    from models.image.colours import colour_words
    from models.image.metrics import features, quality_metrics

    q = quality_metrics(rgb)
    floors = ctx.index.quality_p05 if ctx.index is not None else {k: 0.0 for k in q}
    quality_parts = {k: band(v, floors.get(k, 0.0), 1e9, max(floors.get(k, 0.0), 1e-6)) for k, v in q.items()}
    quality = float(np.mean(list(quality_parts.values())))
    f = features(rgb)
    near_copy, d_train = False, 1.0
    if ctx.index is not None:
        d_train, _ = ctx.index.nearest(f)
        near_copy = d_train < ctx.index.loo_p01
        train_part = 0.0 if near_copy else min(1.0, d_train / max(ctx.index.loo_median, 1e-6))
    else:
        train_part = 1.0
    session = 1.0
    if ctx.earlier:
        session = float(min(1.0, min(np.sqrt(max(0.0, 2 - 2 * float(f @ e))) for e in ctx.earlier) / 0.5))
    novelty = 0.7 * train_part + 0.3 * session
    wanted = requested_colours(prompt)
    palette = colour_words(rgb, min_share=0.1, max_words=3)
    colour_ok = sum(c in palette for c in wanted) / len(wanted) if wanted else 1.0
    adherence = colour_ok
    return Scores(quality, novelty, adherence, {
        **q, "nearest_training_distance": d_train, "near_copy": near_copy, "session_distance": session,
        "requested_colours": wanted, "palette": palette, "colour_match": colour_ok,
    })


def stray_colours(scores: Scores) -> list[str]:
    """The measured colours that were not asked for, when an asked-for colour is missing: the
    next round's negative prompt ("a red apple" that came out green and grey -> "green grey")."""
    m = scores.metrics
    wanted = m.get("requested_colours") or []
    if not wanted or m.get("colour_match", 1.0) >= 1.0:
        return []
    return [c for c in m.get("palette", []) if c not in wanted and c != "white"]
