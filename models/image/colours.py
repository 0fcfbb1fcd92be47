"""Colour words: the basic colours a prompt names and the ones a picture shows, measured the
same way for training captions, exemplar picking and the adherence critic."""

from __future__ import annotations

import colorsys
import re

import numpy as np

COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey")


def _lower_grey(text: str) -> str:
    return re.sub(r"\bgray\b", "grey", text.lower())


def colours_in(text: str) -> list[str]:
    """The basic colour words a text names ('grey' and 'gray' alike), in COLOURS order."""
    low = _lower_grey(text)
    return [c for c in COLOURS if re.search(rf"\b{c}\b", low)]


def subject_of(text: str) -> str:
    """'a red and grey racing car' -> 'racing car': the text without colour words and articles.
    'white' stays: the page is white, so it is never a measured colour but can be a name ('white
    flower' is an outline, not a flower to colour in)."""
    low = _lower_grey(text)
    words = [w for w in re.findall(r"[\w'-]+", low)
             if (w not in COLOURS or w == "white") and w not in ("a", "an", "the")]
    while words and words[0] == "and":
        words.pop(0)
    return " ".join(w for i, w in enumerate(words) if not (w == "and" and i + 1 < len(words) and words[i + 1] == "and"))


def colour_words(rgb: np.ndarray, min_share: float = 0.15, max_words: int = 2,
                 where: np.ndarray | None = None) -> list[str]:
    """Basic colour names covering at least ``min_share`` of the non-white pixels, commonest first.
    ``where``: a bool (H, W) mask of the part to read (a composed scene's subjects); ignored when it
    does not fit the picture or covers under 1% of it."""
    if where is not None and where.shape == rgb.shape[:2] and where.mean() >= 0.01:
        rgb = rgb[where]
    px = rgb.reshape(-1, 3).astype(np.float32) / 255.0
    fg = px[(px < 0.94).any(axis=1)]  # the white background does not count
    if len(fg) < 0.02 * len(px):
        return ["white"]
    counts = {c: 0 for c in COLOURS}
    for r, g, b in fg[:: max(1, len(fg) // 4000)]:
        counts[_name(r, g, b)] += 1
    total = sum(counts.values())
    ranked = sorted((c for c in COLOURS if counts[c] / total >= min_share), key=lambda c: -counts[c])
    ranked = [c for c in ranked if c != "white"] or ranked  # near-white is mostly anti-aliased background
    return ranked[:max_words]


def _name(r: float, g: float, b: float) -> str:
    h, l, s = colorsys.rgb_to_hls(r, g, b)
    if l < 0.15:
        return "black"
    if l > 0.9:
        return "white"
    if s < 0.2:
        return "grey"
    deg = h * 360
    if deg < 17 or deg >= 340:  # up to vermilion (Noto's red apple is 15 degrees; its basketball 18)
        return "pink" if l > 0.7 else ("brown" if l < 0.3 else "red")
    if deg < 40:
        return "brown" if l < 0.4 else "orange"
    if deg < 70:
        return "brown" if l < 0.3 else "yellow"
    if deg < 170:
        return "green"
    if deg < 255:
        return "blue"
    if deg < 290:
        return "purple"
    return "pink"
