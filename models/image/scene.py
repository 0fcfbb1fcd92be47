"""Scenes: a prompt read as subjects and a setting, and a canvas composed from them.

"a castle on a hill at sunset" -> subjects (castle), sky (sunset), ground (hill). The canvas is
drawn in layers at the model's native size: a sky for the time of day (a gradient, a sun, a moon
and stars, storm clouds), a ground (a hill, sand, the sea, snow, a row of trees, a skyline), then
the subjects: exemplar pictures with their white page made see-through, scaled and placed on the
ground. The diffusion model then redraws the canvas with the prompt (image-to-image, as from one
exemplar), so it reads as one picture. Layouts are seeded: a revision round asks for other
positions and sizes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from models.image.colours import COLOURS

SKIES = {
    "sunset": ("sunset", "sundown", "dusk", "evening"),
    "night": ("night", "midnight", "moonlit", "moonlight", "starry"),
    "dawn": ("dawn", "sunrise", "daybreak"),
    "storm": ("storm", "stormy", "thunderstorm", "thunder", "lightning"),
}
GROUNDS = {
    "hill": ("hill", "hills", "hillside", "hilltop", "meadow", "field"),
    "beach": ("beach", "shore", "sand", "seaside"),
    "sea": ("sea", "ocean", "waves", "lake"),
    "snow": ("snow", "snowy", "winter"),
    "forest": ("forest", "woods", "woodland", "jungle"),
    "city": ("city", "street", "town"),
}
NUMBERS = {"two": 2, "three": 3, "a pair of": 2, "couple of": 2, "2": 2, "3": 3}
_PREP = r"(?:on|at|in|by|under|near|beside|over|across|along|during|before|after|into|onto|from)"
_DET = r"(?:the|a|an|some)?"


@dataclass(frozen=True)
class SubjectAsk:
    text: str  # 'dog' (singular, no colour, no count)
    colours: tuple[str, ...] = ()
    count: int = 1


@dataclass(frozen=True)
class Scene:
    subjects: tuple[SubjectAsk, ...]
    sky: str | None = None
    ground: str | None = None

    @property
    def is_scene(self) -> bool:
        """More than one picture on a white page: a setting, or several subjects."""
        return bool(self.sky or self.ground or len(self.subjects) > 1 or any(s.count > 1 for s in self.subjects))

    @property
    def elements(self) -> tuple[str, ...]:
        return tuple(e for e in (self.sky, self.ground) if e)


def singular(word: str) -> str:
    """"dogs" -> "dog", "berries" -> "berry" (a rough English rule; "bus", "glass" stay)."""
    if re.search(r"(ss|us|is)$", word) or len(word) <= 3:
        return word
    for a, b in (("ies", "y"), ("ves", "f"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"), ("s", "")):
        if word.endswith(a):
            return word[: -len(a)] + b
    return word


def parse_scene(prompt: str) -> Scene:
    """Subjects (with colour and count) and the setting of a prompt; words of the setting are taken
    out of the subjects ('a boat on the sea at dawn' -> boat; sea; dawn)."""
    low = re.sub(r"\bgray\b", "grey", prompt.lower())
    sky = next((k for k, ws in SKIES.items() if any(re.search(rf"\b{w}\b", low) for w in ws)), None)
    ground = next((k for k, ws in GROUNDS.items() if any(re.search(rf"\b{w}\b", low) for w in ws)), None)
    setting_words = [w for k, ws in (*SKIES.items(), *GROUNDS.items()) if k in (sky, ground) for w in ws]
    rest = low
    for w in setting_words:  # "on a hill", "at sunset", "in the snow", "in a storm"
        rest = re.sub(rf"\b(?:{_PREP}\s+)?{_DET}\s*{w}\b", " ", rest)
    rest = re.sub(rf"\b{_PREP}\s*$", " ", rest.strip(" ,."))
    chunks = [c.strip(" ,.") for c in re.split(r",|\band\b|\bwith\b", rest) if c.strip(" ,.")]
    subjects = []
    for c in chunks:
        count = 1
        for word, n in NUMBERS.items():
            if re.match(rf"^{word}\b", c):
                count, c = n, c[len(word):].strip()
        colours = tuple(col for col in COLOURS if re.search(rf"\b{col}\b", c))
        words = [w for w in re.findall(r"[a-z'-]+", c) if w not in COLOURS and w not in ("a", "an", "the", "some")]
        if not words:
            continue
        if count > 1 or re.search(r"\b(two|three|pair|couple)\b", c):
            words[-1] = singular(words[-1])
        subjects.append(SubjectAsk(" ".join(words), colours, count))
    return Scene(tuple(subjects), sky, ground)


# ---- the canvas ------------------------------------------------------------------------------
# sky gradients, top -> horizon (RGB 0..1)
_SKY = {"sunset": ((0.35, 0.20, 0.45), (0.85, 0.35, 0.40), (0.98, 0.60, 0.25)), "night": ((0.03, 0.04, 0.15), (0.12, 0.16, 0.38)),
        "dawn": ((0.45, 0.62, 0.92), (0.95, 0.72, 0.78), (1.0, 0.75, 0.45)), "storm": ((0.25, 0.27, 0.30), (0.52, 0.54, 0.57)),
        None: ((0.55, 0.78, 0.98), (0.86, 0.94, 1.0))}
_GROUND = {"hill": (0.30, 0.62, 0.25), "beach": (0.93, 0.82, 0.55), "sea": (0.15, 0.42, 0.75),
           "snow": (0.95, 0.97, 1.0), "forest": (0.13, 0.40, 0.18), "city": (0.40, 0.40, 0.43)}
HORIZON = 0.62  # the ground starts at this share of the height


def _disc(img: np.ndarray, cx: float, cy: float, r: float, colour, grid=None) -> None:
    yy, xx = (g.astype(np.float64) for g in grid) if grid is not None else np.mgrid[0:img.shape[0], 0:img.shape[0]]
    img[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = colour


def _grid(size: int, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(yy, xx) float32 (size*scale, size*scale): each pixel centre in native pixel units (integers
    at scale 1, so the native canvas is drawn exactly as before)."""
    c = (np.arange(size * scale, dtype=np.float32) + 0.5) / scale - 0.5
    return np.meshgrid(c, c, indexing="ij")


def background(scene: Scene, size: int, rng: np.random.Generator, scale: int = 1) -> np.ndarray:
    """float32 (size*scale, size*scale, 3) in 0..1: the setting without its subjects. Every random
    draw is made in native pixels (``size``), so ``scale`` > 1 draws the same setting at a higher
    resolution (geometry sampled finer; stars, wave lines and windows as scale x scale blocks)."""
    s, k = size, scale
    h0 = int(s * HORIZON)
    yy, xx = _grid(s, k)
    stops = np.array(_SKY[scene.sky], np.float32)  # top .. horizon, evenly spaced
    pos = np.linspace(0, h0, len(stops))
    rows = np.stack([np.interp(yy[:, 0], pos, stops[:, c]) for c in range(3)], axis=-1).astype(np.float32)
    img = np.broadcast_to(rows[:, None, :], (s * k, s * k, 3)).copy()
    grid = (yy, xx)
    if scene.sky == "sunset":
        _disc(img, s * rng.uniform(0.25, 0.75), h0 - s * 0.04, s * 0.12, (1.0, 0.82, 0.30), grid)
    elif scene.sky == "dawn":
        _disc(img, s * rng.uniform(0.2, 0.8), h0 - s * 0.02, s * 0.10, (1.0, 0.93, 0.60), grid)
    elif scene.sky == "night":
        for _ in range(int(s / 5)):
            y, x = int(rng.uniform(0, h0 * 0.8)), int(rng.uniform(0, s))
            img[y * k:(y + 1) * k, x * k:(x + 1) * k] = (1.0, 1.0, 0.85)
        _disc(img, s * rng.uniform(0.7, 0.88), s * 0.16, s * 0.08, (0.97, 0.95, 0.80), grid)
    elif scene.sky == "storm":
        for _ in range(4):
            _disc(img, s * rng.uniform(0.0, 1.0), s * rng.uniform(0.05, 0.25), s * rng.uniform(0.12, 0.2),
                  (0.33, 0.34, 0.37), grid)
    g = scene.ground
    if g is None:
        g = "hill" if scene.sky else None
    if g is None:
        return img
    col = np.array(_GROUND[g], np.float32)
    if g == "hill":  # a rounded rise
        cx = s * rng.uniform(0.3, 0.7)
        ground = yy >= h0 - s * 0.14 * np.clip(1 - ((xx - cx) / (s * 0.6)) ** 2, 0, 1)
    else:
        ground = yy >= h0
    shade = (1 - 0.15 * (yy - h0) / s)[..., None]
    if g == "snow" and scene.sky in ("night", "storm"):
        col = col * 0.8
    img = np.where(ground[..., None], col * shade, img)
    if g == "sea":  # lighter wave lines
        wave = np.floor(xx[0] + 0.5) % 8 < 4  # the native column of each pixel
        for row in range(h0 + 3, s, 5):
            img[row * k:(row + 1) * k, wave] = np.minimum(1, col + 0.25)
    elif g == "beach":  # a strip of sea behind the sand
        img[h0 * k:(h0 + max(2, s // 16)) * k] = (0.2, 0.5, 0.8)
    elif g == "forest":  # a row of dark trees on the horizon
        for cx in np.arange(rng.uniform(0, 6), s, s / 7):
            tri = (yy <= h0) & (yy >= h0 - s * 0.22) & (np.abs(xx - cx) <= (yy - (h0 - s * 0.22)) * 0.35)
            img[tri] = (0.08, 0.30, 0.12)
    elif g == "city":  # a skyline
        x = 0
        while x < s:
            w, hgt = int(rng.integers(s // 10, s // 5)), int(rng.integers(s // 8, s // 3))
            img[(h0 - hgt) * k:h0 * k, x * k:(x + w - 1) * k] = (0.30, 0.30, 0.34) if scene.sky != "night" else (0.10, 0.10, 0.16)
            if scene.sky == "night":
                for _ in range(3):
                    wy, wx = int(rng.integers(h0 - hgt + 1, h0)), min(s - 1, int(rng.integers(x, max(x + 1, x + w - 2))))
                    img[wy * k:(wy + 1) * k, wx * k:(wx + 1) * k] = (1, 0.9, 0.4)
            x += w
    return img


PAGE_LEVEL = 0.93  # a pixel whose every channel is above this (0..1) is the white page, not the subject


def _page_box(rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """(alpha, (y0, y1, x0, x1) of the subject) of a picture on a white page; None: all page."""
    a = np.asarray(rgb, np.float32) / 255.0
    alpha = (a.min(axis=-1) < PAGE_LEVEL).astype(np.float32)
    ys, xs = np.nonzero(alpha)
    if not len(ys):
        return alpha, None
    return alpha, (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)


def cut_out(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An exemplar without its page: (float RGB, alpha) cropped to the subject's bounding box."""
    a = np.asarray(rgb, np.float32) / 255.0
    alpha, box = _page_box(rgb)
    if box is None:
        return a, np.ones(a.shape[:2], np.float32)
    y0, y1, x0, x1 = box
    return a[y0:y1, x0:x1], alpha[y0:y1, x0:x1]


def _cut_big(small: np.ndarray, big: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``big`` (the same picture as ``small`` at a higher resolution) cut out on ``small``'s subject
    box, so it lands exactly where the small one does; its own page made see-through."""
    a = np.asarray(big, np.float32) / 255.0
    alpha = (a.min(axis=-1) < PAGE_LEVEL).astype(np.float32)
    _, box = _page_box(small)
    if box is None:
        return a, np.ones(a.shape[:2], np.float32)
    f = big.shape[0] / small.shape[0]
    y0, y1, x0, x1 = (int(round(v * f)) for v in box)
    return a[y0:y1, x0:x1], alpha[y0:y1, x0:x1]


def _resized(rgb: np.ndarray, alpha: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    sub = np.asarray(Image.fromarray((rgb * 255).astype(np.uint8)).resize((w, h), Image.Resampling.LANCZOS),
                     np.float32) / 255.0
    al = np.asarray(Image.fromarray((alpha * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BILINEAR),
                    np.float32)[..., None] / 255.0
    return sub, al


def compose(scene: Scene, pictures: list[np.ndarray], size: int, seed: int, with_mask: bool = False,
            hires: list[np.ndarray | None] | None = None, scale: int = 4):
    """uint8 (size, size, 3): the setting with ``pictures`` (one uint8 picture per subject of
    ``scene``, in order) placed on it. The layout (positions, sizes, a flip) follows ``seed``.
    ``with_mask``: -> (picture, bool (size, size) mask of where the subjects cover the setting),
    so a subject's asked colour is looked for on the subject, not on the sky.
    ``hires`` (the same pictures at a higher resolution, None where there is none): -> (picture,
    mask, the same canvas at ``size * scale``: the setting drawn there, each subject from its
    hi-res picture, or its ``pictures`` one enlarged by Lanczos, in the same place)."""
    rng = np.random.default_rng(seed)
    setting = bool(scene.sky or scene.ground)
    img = background(scene, size, rng) if setting else np.ones((size, size, 3), np.float32)
    if hires is not None:
        big = (background(scene, size, np.random.default_rng(seed), scale) if setting
               else np.ones((size * scale, size * scale, 3), np.float32))
        hires = [p if hp is None else hp for p, hp in zip(pictures, hires)]
    cover = np.zeros((size, size), np.float32)
    items = [(k, p, sa) for k, (p, sa) in enumerate(zip(pictures, scene.subjects)) for _ in range(max(1, sa.count))]
    n = len(items)

    def done():
        out = (img * 255).round().clip(0, 255).astype(np.uint8)
        if hires is not None:
            return out, cover > 0.5, (big * 255).round().clip(0, 255).astype(np.uint8)
        return (out, cover > 0.5) if with_mask else out

    if not n:
        return done()
    base = (0.62 if n == 1 else 0.46 if n == 2 else 0.36) * rng.uniform(0.85, 1.1)
    slots = np.linspace(0.5 / n, 1 - 0.5 / n, n) + rng.uniform(-0.06, 0.06, n)
    floor = HORIZON + 0.16 if setting else 0.85  # where the subjects stand
    for k, (j, p, _) in enumerate(items):
        rgb, alpha = cut_out(p)
        side = max(4, int(size * base * rng.uniform(0.9, 1.05)))
        fit = side / max(rgb.shape[:2])
        h, w = max(2, int(rgb.shape[0] * fit)), max(2, int(rgb.shape[1] * fit))
        sub, al = _resized(rgb, alpha, w, h)
        flip = n > 1 and rng.random() < 0.5
        if flip:
            sub, al = sub[:, ::-1], al[:, ::-1]
        cx, bottom = int(slots[k] * size), int(min(size - 1, floor * size + rng.uniform(-2, 2)))
        y0, x0 = max(0, bottom - h), int(np.clip(cx - w // 2, 0, size - w))
        hh, ww = min(h, size - y0), min(w, size - x0)
        region = img[y0:y0 + hh, x0:x0 + ww]
        img[y0:y0 + hh, x0:x0 + ww] = al[:hh, :ww] * sub[:hh, :ww] + (1 - al[:hh, :ww]) * region
        cover[y0:y0 + hh, x0:x0 + ww] = np.maximum(cover[y0:y0 + hh, x0:x0 + ww], al[:hh, :ww, 0])
        if hires is not None:  # the same subject, placed the same, from its hi-res picture
            bsub, bal = _resized(*_cut_big(p, hires[j]), w * scale, h * scale)
            if flip:
                bsub, bal = bsub[:, ::-1], bal[:, ::-1]
            Y0, X0, HH, WW = y0 * scale, x0 * scale, hh * scale, ww * scale
            big[Y0:Y0 + HH, X0:X0 + WW] = bal[:HH, :WW] * bsub[:HH, :WW] + (1 - bal[:HH, :WW]) * big[Y0:Y0 + HH, X0:X0 + WW]
    return done()


# ---- is the setting there? -------------------------------------------------------------------
def setting_present(rgb: np.ndarray, element: str) -> bool:
    """A measured check of one setting element in a picture (uint8): the sky in the top third, the
    ground in the bottom quarter, by their colours. sunset: a warm (red/orange/pink/purple) sky;
    night: a dark sky; dawn: a light sky with warm and blue in it; storm: a grey, dim sky; hill /
    forest: a green ground (forest: dark green); beach: sand; sea: blue; snow: a bright, pale
    ground under a sky that is not the white page; city: grey blocks on the skyline."""
    import colorsys

    a = np.asarray(rgb, np.float32) / 255.0
    s = a.shape[0]
    sky, ground = a[: s // 3].reshape(-1, 3), a[3 * s // 4:].reshape(-1, 3)  # (n, 3) pixels

    def hls(px):
        return np.array([colorsys.rgb_to_hls(*p) for p in px[:: max(1, len(px) // 600)]])

    def share(px, test) -> float:
        h = hls(px)
        return float(np.mean([test(hh * 360, ll, ss) for hh, ll, ss in h]))

    page = float(np.mean(sky.min(axis=1) > 0.94))  # the white page
    if element == "sunset":
        return share(sky, lambda h, l, s_: s_ > 0.25 and 0.15 < l < 0.9 and (h < 50 or h > 260)) > 0.35
    if element == "night":
        return float(np.mean(sky.mean(axis=1) < 0.3)) > 0.6
    if element == "dawn":  # a light sky, blue above and warm low down (seen beside the subject)
        low = a[int(s * 0.3):int(s * HORIZON)]
        sides = np.concatenate([low[:, : s // 5], low[:, -s // 5:]], axis=1).reshape(-1, 3)
        warm = share(sides, lambda h, l, s_: s_ > 0.2 and l > 0.45 and (h < 60 or h > 300))
        blue = share(sky, lambda h, l, s_: s_ > 0.15 and l > 0.45 and 180 < h < 260)
        return warm > 0.3 and blue > 0.3
    if element == "storm":
        return share(sky, lambda h, l, s_: s_ < 0.2 and 0.15 < l < 0.65) > 0.5
    if element == "hill":
        return share(ground, lambda h, l, s_: 70 < h < 170 and s_ > 0.2 and 0.12 < l < 0.75) > 0.4
    if element == "forest":
        lower = a[s // 3:].reshape(-1, 3)
        return share(lower, lambda h, l, s_: 70 < h < 170 and s_ > 0.2 and 0.08 < l < 0.5) > 0.3
    if element == "beach":
        return share(ground, lambda h, l, s_: 25 < h < 60 and s_ > 0.25 and l > 0.55) > 0.35
    if element == "sea":
        return share(a[int(s * 0.6):].reshape(-1, 3), lambda h, l, s_: 180 < h < 250 and s_ > 0.3 and 0.2 < l < 0.85) > 0.4
    if element == "snow":
        return page < 0.5 and float(np.mean(ground.min(axis=1) > 0.7)) > 0.5
    if element == "city":  # buildings: upright edges above the horizon, and a grey street
        y = a[int(s * 0.3):int(s * HORIZON)] @ np.array([0.299, 0.587, 0.114], np.float32)
        upright = float(np.mean(np.abs(np.diff(y, axis=1)) > 0.08))
        return upright > 0.04 and share(ground, lambda h, l, s_: s_ < 0.25 and 0.1 < l < 0.7) > 0.4
    raise ValueError(f"unknown setting element {element!r}")
