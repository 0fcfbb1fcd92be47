"""Build the 128 px exemplar library (``models/image/hires.py``) from Debian's colour-emoji font.

    .venv/bin/python -m models.image.training.hires [--font PATH] [--package data/npm/package] [--weights models/weights/image]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.image.hires import FILE, SIZE, HiresExemplars

FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
FONT_PX = 109  # the size at which Pillow picks the font's 136 px strike unscaled
MATCH_MAX = 12.0  # mean |RGB difference| (0..255) allowed between the rendering shrunk to 64 px and the exemplar


def _ink_box(rgba_or_rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the non-page pixels (alpha > 0, or not near-white)."""
    a = rgba_or_rgb
    ink = a[..., 3] > 8 if a.shape[-1] == 4 else a.min(axis=-1) < 250
    ys, xs = np.nonzero(ink)
    if not len(ys):
        return None
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def render(text: str, small: np.ndarray, font) -> np.ndarray | None:
    """``text`` (an emoji's code points) from the colour font, placed on a white ``SIZE`` square where
    the 64 px ``small`` has its ink (×2), or None when the font draws something else."""
    from PIL import Image, ImageDraw

    canvas = Image.new("RGBA", (200, 200), (255, 255, 255, 0))
    ImageDraw.Draw(canvas).text((10, 10), text, font=font, embedded_color=True)
    big = np.asarray(canvas)
    box, sbox = _ink_box(big), _ink_box(small)
    if box is None or sbox is None:
        return None
    y0, y1, x0, x1 = box
    sy0, sy1, sx0, sx1 = sbox
    scale = SIZE // small.shape[0]
    glyph = Image.fromarray(big[y0:y1, x0:x1]).resize(((sx1 - sx0) * scale, (sy1 - sy0) * scale),
                                                       Image.Resampling.LANCZOS)
    page = Image.new("RGBA", (SIZE, SIZE), (255, 255, 255, 255))
    page.alpha_composite(glyph, (sx0 * scale, sy0 * scale))
    out = np.asarray(page.convert("RGB"), dtype=np.uint8)
    back = np.asarray(Image.fromarray(out).resize(small.shape[:2][::-1], Image.Resampling.LANCZOS), np.float32)
    if float(np.abs(back - small.astype(np.float32)).mean()) > MATCH_MAX:
        return None
    return out


def code_points(package: Path, size: int = 64) -> dict[bytes, str]:
    """The npm package's emoji, keyed by their pixels as the training set has them (``fit_square``
    at ``size``), -> their text (the code points of ``emoji.json``'s ``unified``)."""
    import json

    from models.image.image_io import load_rgb
    from models.image.training.data import fit_square

    out = {}
    for e in json.loads((package / "emoji.json").read_text()):
        png = package / "img" / "google" / "64" / str(e.get("image", ""))
        if not png.exists():
            continue
        key = np.asarray(fit_square(load_rgb(png), size), np.uint8).tobytes()
        out.setdefault(key, "".join(chr(int(u, 16)) for u in e["unified"].split("-")))
    return out


def build(small: np.ndarray, package: Path, font_path: Path = FONT, log=print) -> HiresExemplars:
    """The 128 px library for the 64 px exemplar pictures ``small`` (N, 64, 64, 3)."""
    from PIL import ImageFont

    from models.common.errors import UserFixableError

    if not font_path.is_file():
        raise UserFixableError(f"no colour emoji font at {font_path}: apt-get install fonts-noto-color-emoji")
    font = ImageFont.truetype(str(font_path), FONT_PX)
    texts = code_points(package, small.shape[1])
    images = np.full((len(small), SIZE, SIZE, 3), 255, np.uint8)
    has = np.zeros(len(small), bool)
    unknown = 0
    for i, im in enumerate(small):
        text = texts.get(np.ascontiguousarray(im).tobytes())
        if text is None:
            unknown += 1
            continue
        out = render(text, im, font)
        if out is not None:
            images[i], has[i] = out, True
    log(f"{int(has.sum())} of {len(small)} exemplars at {SIZE} px ({unknown} not found in the package, "
        f"{len(small) - unknown - int(has.sum())} drawn differently by the font)")
    return HiresExemplars(images, has)


def main() -> None:
    import argparse

    from models.image.exemplars import FILE as SMALL, Exemplars

    root = Path(__file__).resolve().parents[3]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--font", default=str(FONT))
    ap.add_argument("--package", default=str(root / "data" / "npm" / "package"))
    ap.add_argument("--weights", default=str(root / "models" / "weights" / "image"))
    args = ap.parse_args()
    dest = Path(args.weights)
    lib = build(Exemplars.load(dest / SMALL).images, Path(args.package), Path(args.font))
    lib.save(dest / FILE)
    print(f"wrote {dest / FILE} ({(dest / FILE).stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
