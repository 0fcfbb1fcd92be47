"""Training data for the embedded image model: public-domain clip art and Apache/MIT emoji.

- Debian's Open Clip Art Library: ``apt-get install openclipart-png openclipart-svg`` puts 8,121
  clip-art pictures under /usr/share/openclipart/{png,svg}; the SVG twin of every PNG carries its
  title and keywords (Dublin Core RDF).
- Google's Noto emoji as packaged on npm by ``emoji-datasource-google`` (MIT; images Apache-2.0):
  ``npm pack emoji-datasource-google@16.0.0`` gives 64px PNGs and emoji.json with each one's
  Unicode name, short names and category (skin-tone variants are left out).

A caption is the title, up to five keywords, the colour words measured from the picture's own
pixels (so "a red apple" can be asked for) and the category path. Pictures are composited on
white and fitted into a square of ``size`` pixels.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import InputFileError

CLIPART_ROOT = Path("/usr/share/openclipart")
_NOISE_KEYWORDS = {"", "hash", "unsorted", "clip art", "clipart", "media", "png", "svg", "public domain", "image",
                   "externalsource", "remix", "how-to", "nicubunu"}
_TITLE_NOISE = re.compile(r"^(clipart by .*? - |part of the flat icon collection.*)", re.IGNORECASE)
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey")


@dataclass(frozen=True)
class ClipartRecord:
    png: Path
    title: str
    keywords: tuple[str, ...]
    category: str


def _svg_meta(svg: Path) -> tuple[str, list[str]]:
    try:
        text = svg.read_text(errors="replace")[:400_000]
    except OSError:
        return "", []
    title = re.search(r"<dc:title>(.*?)</dc:title>", text, re.S)
    subj = re.search(r"<dc:subject>(.*?)</dc:subject>", text, re.S)
    kws = re.findall(r"<rdf:li>(.*?)</rdf:li>", subj.group(1), re.S) if subj else []
    return (title.group(1).strip() if title else ""), [k.strip().lower() for k in kws]


def _words_of_stem(stem: str) -> str:
    """'turkey_on_platter_01' -> 'turkey on platter' (numbers and trailing counters dropped)."""
    parts = [p for p in re.split(r"[_\-\s]+", stem) if p and not re.fullmatch(r"\d+[a-z]?", p)]
    return " ".join(parts)


def clipart_records(root: Path = CLIPART_ROOT) -> list[ClipartRecord]:
    png_root, svg_root = root / "png", root / "svg"
    if not png_root.is_dir():
        raise InputFileError(f"no clip art at {png_root}: apt-get install openclipart-png openclipart-svg")
    out = []
    for png in sorted(png_root.rglob("*.png")):
        rel = png.relative_to(png_root)
        title, kws = _svg_meta((svg_root / rel).with_suffix(".svg"))
        title = _TITLE_NOISE.sub("", title).strip()
        if not title or len(title) > 60:
            title = _words_of_stem(png.stem)
        title = re.sub(r"[_\d]+$", "", title).replace("_", " ").strip() or _words_of_stem(png.stem)
        category = " ".join(rel.parts[:-1]).replace("_", " ")
        keep = tuple(dict.fromkeys(k for k in kws if k not in _NOISE_KEYWORDS and len(k) < 30
                                   and k not in title.lower() and k not in category))[:5]
        out.append(ClipartRecord(png, title, keep, category))
    return out


EMOJI_PACKAGE = "emoji-datasource-google@16.0.0"


def emoji_records(package_dir: Path) -> list[ClipartRecord]:
    """Records for the emoji of an unpacked ``emoji-datasource-google`` package (its ``package/`` dir)."""
    import json

    meta, img_dir = package_dir / "emoji.json", package_dir / "img" / "google" / "64"
    if not meta.exists() or not img_dir.is_dir():
        raise InputFileError(f"no emoji images at {package_dir}: npm pack {EMOJI_PACKAGE} and untar it there")
    out = []
    for e in json.loads(meta.read_text()):
        png = img_dir / str(e.get("image", ""))
        if not e.get("has_img_google") or not png.exists() or e.get("category") == "Component":
            continue
        title = str(e.get("name") or e.get("short_name", "")).lower().replace("_", " ").strip()
        if not title:
            continue
        kws = tuple(dict.fromkeys(n.replace("_", " ").replace("-", " ") for n in e.get("short_names", ())
                                  if n.replace("_", " ") != title))[:3]
        category = f"emoji {str(e.get('subcategory', '')).replace('-', ' ')}".strip()
        out.append(ClipartRecord(png, title, kws, category))
    return out


def fit_square(im, size: int):
    """RGB picture scaled to fit a white ``size`` x ``size`` square, centred (aspect kept)."""
    from PIL import Image

    im = im.copy()
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    canvas.paste(im, ((size - im.width) // 2, (size - im.height) // 2))
    return canvas


def colour_words(rgb: np.ndarray, min_share: float = 0.15, max_words: int = 2) -> list[str]:
    """Basic colour names covering at least ``min_share`` of the non-white pixels, commonest first."""
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
    if deg < 15 or deg >= 340:
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


def caption(rec: ClipartRecord, colours: list[str]) -> str:
    parts = [(" and ".join(colours) + " " + rec.title) if colours and colours != ["white"] else rec.title]
    if rec.keywords:
        parts.append(", ".join(rec.keywords))
    parts.append(rec.category)
    return "; ".join(p for p in parts if p)


def build_clipart_dataset(size: int = 64, root: Path = CLIPART_ROOT, limit: int | None = None,
                          progress=None, emoji_dir: Path | None = None) -> tuple[np.ndarray, list[str]]:
    """-> (uint8 images (N, size, size, 3), captions). Unreadable files are skipped, not fatal.
    With ``emoji_dir`` the emoji come after the clip art."""
    from models.image_io import load_rgb

    recs = clipart_records(root)[:limit] + (emoji_records(emoji_dir) if emoji_dir else [])
    images, caps = [], []
    for i, rec in enumerate(recs):
        try:
            im = fit_square(load_rgb(rec.png), size)
        except InputFileError:
            continue
        arr = np.asarray(im, dtype=np.uint8)
        images.append(arr)
        caps.append(caption(rec, colour_words(arr)))
        if progress and i % 200 == 0:
            progress(i, len(recs))
    return np.stack(images), caps


def save_dataset(path: Path, images: np.ndarray, captions: list[str]) -> None:
    import io

    from models.files import write_atomic

    buf = io.BytesIO()
    np.savez_compressed(buf, images=images, captions=np.array(captions, dtype=str))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buf.getvalue())


def load_dataset(path: Path) -> tuple[np.ndarray, list[str]]:
    with np.load(path, allow_pickle=False) as z:
        return z["images"], [str(c) for c in z["captions"]]
