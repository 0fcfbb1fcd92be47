"""Style-transfer critic: the style loss reached, the content still recognisable, sharpness and
colour; novelty as distance from both the content and the style image."""

from __future__ import annotations

import numpy as np

from tools.artifacts import Scores
from tools.critics import band
from models.image.metrics import colourfulness, sharpness


def style_scores(result, content, style, losses: tuple[float, float, float], content_feats: tuple[float, float]) -> Scores:
    """result/content/style: PIL images; losses: (style start, style end, content end);
    content_feats: distance of the result's relu4_2 features to the content's and to the style's."""
    x = np.asarray(result, dtype=np.float64)
    c = np.asarray(content.resize(result.size), dtype=np.float64)
    s = np.asarray(style.resize(result.size), dtype=np.float64)
    start, end, c_loss = losses
    ratio = start / max(end, 1e-12)
    d_content = float(np.abs(x - c).mean() / 255.0)
    d_style = float(np.abs(x - s).mean() / 255.0)
    to_content, to_style = content_feats
    recognisable = to_content < to_style
    sharp, colour = sharpness(x), colourfulness(x)
    quality_parts = {
        "style_drop": min(1.0, float(np.log10(max(ratio, 1.0)))),  # 10x lower style loss -> 1
        "content_kept": 1.0 if recognisable else 0.0,
        "sharpness": band(sharp, 20.0, 1e9, 20.0),
        "colourfulness": band(colour, 10.0, 1e9, 10.0),
    }
    quality = float(np.mean(list(quality_parts.values())))
    novelty = float(min(1.0, min(d_content, d_style) / 0.12))  # identity or a copy of the style scores 0
    adherence = float(min(1.0, max(0.0, 1.0 - end / max(start, 1e-12)) / 0.9))
    return Scores(quality, novelty, adherence, {
        "style_loss_start": start, "style_loss_end": end, "style_loss_ratio": ratio, "content_loss": c_loss,
        "distance_to_content": d_content, "distance_to_style": d_style, "content_recognisable": recognisable,
        "features_to_content": to_content, "features_to_style": to_style,
        "sharpness": sharp, "colourfulness": colour,
    })
