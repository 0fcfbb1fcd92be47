"""Training data for the embedded image model: public-domain clip art and Apache/MIT emoji.

- Debian's Open Clip Art Library: ``apt-get install openclipart-png openclipart-svg`` puts 8,121
  clip-art pictures under /usr/share/openclipart/{png,svg}; the SVG twin of every PNG carries its
  title and keywords (Dublin Core RDF).
- Google's Noto emoji as packaged on npm by ``emoji-datasource-google`` (MIT; images Apache-2.0):
  ``npm pack emoji-datasource-google@16.0.0`` gives 64px PNGs and emoji.json with each one's
  Unicode name, short names and category (skin-tone variants are left out).

Every picture has two captions: a long one (the colour words measured from the picture's own
pixels, so "a red apple" can be asked for, then the title, up to five keywords and the category
path) and a short one in the style of a prompt ("a red apple": the colours and the shortest name).
Pictures are composited on white and fitted into a square of ``size`` pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.common.errors import InputFileError
from models.image.colours import COLOURS, colour_words

CLIPART_ROOT = Path("/usr/share/openclipart")
_NOISE_KEYWORDS = {"", "hash", "unsorted", "clip art", "clipart", "media", "png", "svg", "public domain", "image",
                   "externalsource", "remix", "how-to", "nicubunu"}
_TITLE_NOISE = re.compile(r"^(clipart by .*? - |part of the flat icon collection.*)", re.IGNORECASE)


@dataclass(frozen=True)
class ClipartRecord:
    png: Path
    title: str
    keywords: tuple[str, ...]
    category: str
    names: tuple[str, ...] = ()  # other names of the subject (an emoji's short names)


@dataclass
class PictureSet:
    """The training pictures: uint8 images (N, size, size, 3), a long and a short caption each, and
    which of them are emoji (the class-balanced part the trainer can draw more often)."""

    images: np.ndarray
    captions: list[str]
    short_captions: list[str]
    emoji: np.ndarray  # bool (N,)


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
        names = tuple(dict.fromkeys(n.replace("_", " ").replace("-", " ") for n in e.get("short_names", ())
                                    if n.replace("_", " ") != title))
        category = f"emoji {str(e.get('subcategory', '')).replace('-', ' ')}".strip()
        out.append(ClipartRecord(png, title, names[:3], category, names))
    return out


def fit_square(im, size: int):
    """RGB picture scaled to fit a white ``size`` x ``size`` square, centred (aspect kept)."""
    from PIL import Image

    im = im.copy()
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    canvas.paste(im, ((size - im.width) // 2, (size - im.height) // 2))
    return canvas


def caption(rec: ClipartRecord, colours: list[str]) -> str:
    parts = [(" and ".join(colours) + " " + rec.title) if colours and colours != ["white"] else rec.title]
    if rec.keywords:
        parts.append(", ".join(rec.keywords))
    parts.append(rec.category)
    return "; ".join(p for p in parts if p)


def short_caption(rec: ClipartRecord, colours: list[str]) -> str:
    """'a red apple', 'a yellow star', 'a blue car': the subject's shortest name (the title or, for
    an emoji, one of its short names), after the measured colours unless the name has a colour."""
    name = min((rec.title, *rec.names), key=lambda n: (len(n.split()), len(n))).lower().strip()
    name = re.sub(r"^(an?|the) ", "", name)
    if colours and colours != ["white"] and not set(name.split()) & set(COLOURS):
        name = " and ".join(colours) + " " + name
    return ("an " if name[:1] in "aeiou" else "a ") + name


def build_clipart_dataset(size: int = 64, root: Path = CLIPART_ROOT, limit: int | None = None,
                          progress=None, emoji_dir: Path | None = None) -> PictureSet:
    """Clip art (and, with ``emoji_dir``, the emoji after it) as a PictureSet. Unreadable files are
    skipped, not fatal."""
    from models.image.image_io import load_rgb

    recs = clipart_records(root)[:limit] + (emoji_records(emoji_dir) if emoji_dir else [])
    images, caps, short, emoji = [], [], [], []
    for i, rec in enumerate(recs):
        try:
            im = fit_square(load_rgb(rec.png), size)
        except InputFileError:
            continue
        arr = np.asarray(im, dtype=np.uint8)
        colours = colour_words(arr)
        images.append(arr)
        caps.append(caption(rec, colours))
        short.append(short_caption(rec, colours))
        emoji.append(rec.category.startswith("emoji"))
        if progress and i % 200 == 0:
            progress(i, len(recs))
    return PictureSet(np.stack(images), caps, short, np.array(emoji, dtype=bool))


def save_dataset(path: Path, data: PictureSet) -> None:
    import io

    from models.common.files import write_atomic

    buf = io.BytesIO()
    np.savez_compressed(buf, images=data.images, captions=np.array(data.captions, dtype=str),
                        short_captions=np.array(data.short_captions, dtype=str), emoji=data.emoji)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buf.getvalue())


def load_dataset(path: Path) -> PictureSet:
    with np.load(path, allow_pickle=False) as z:
        if "short_captions" not in z.files:
            raise InputFileError(f"{path} is a dataset from an older version (no short captions): "
                                 "rebuild it with `arsnova train image --prepare`")
        return PictureSet(z["images"], [str(c) for c in z["captions"]], [str(c) for c in z["short_captions"]],
                          z["emoji"].astype(bool))
