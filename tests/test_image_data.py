"""Clip-art captions: titles and keywords from the SVG metadata, colour words from the pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.image_data import build_clipart_dataset, clipart_records, colour_words, load_dataset, save_dataset

SVG = """<svg xmlns="http://www.w3.org/2000/svg"><metadata><rdf:RDF><cc:Work><dc:title>{title}</dc:title>
<dc:subject><rdf:Bag><rdf:li>hash</rdf:li><rdf:li>{kw1}</rdf:li><rdf:li>{kw2}</rdf:li></rdf:Bag></dc:subject>
</cc:Work></rdf:RDF></metadata></svg>"""


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "openclipart"
    items = [("food/fruit/red_apple_01", "Red Apple", "fruit", "healthy", (220, 20, 30)),
             ("animals/birds/bluebird_jon_01", "Clipart by Nicu Buculei - bird_02", "bird", "sky", (30, 60, 220)),
             ("shapes/leaf", "", "plant", "nature", (30, 160, 40))]
    for rel, title, kw1, kw2, colour in items:
        png = root / "png" / f"{rel}.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        im = Image.new("RGBA", (120, 80), (0, 0, 0, 0))
        im.paste((*colour, 255), (20, 10, 100, 70))
        im.save(png)
        svg = root / "svg" / f"{rel}.svg"
        svg.parent.mkdir(parents=True, exist_ok=True)
        svg.write_text(SVG.format(title=title, kw1=kw1, kw2=kw2))
    (root / "png" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def test_records_captions_and_colours(library, tmp_path):
    recs = {r.png.stem: r for r in clipart_records(library)}
    assert recs["red_apple_01"].title == "Red Apple" and recs["red_apple_01"].keywords == ("healthy",)  # "fruit" is in the category
    assert recs["red_apple_01"].category == "food fruit"
    assert recs["bluebird_jon_01"].title == "bird"  # "Clipart by <author> - bird_02"
    assert recs["leaf"].title == "leaf"  # no title in the metadata: the file name
    images, caps = build_clipart_dataset(32, library)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8  # the broken file is skipped
    assert images[0, 0, 0].tolist() == [255, 255, 255]  # transparent -> white
    by_title = {c.split(";")[0]: c for c in caps}
    assert "red Red Apple" in by_title and "blue bird" in by_title and "green leaf" in by_title
    save_dataset(tmp_path / "d.npz", images, caps)
    im2, caps2 = load_dataset(tmp_path / "d.npz")
    assert np.array_equal(im2, images) and caps2 == caps


def test_colour_words_ignore_the_background():
    a = np.full((40, 40, 3), 255, np.uint8)
    assert colour_words(a) == ["white"]
    a[5:35, 5:20] = (250, 200, 0)  # yellow
    a[5:35, 20:35] = (120, 60, 200)  # purple
    assert set(colour_words(a)) == {"yellow", "purple"}


def test_missing_library_says_how_to_install(tmp_path):
    from models.errors import InputFileError

    with pytest.raises(InputFileError, match="apt-get install openclipart-png openclipart-svg"):
        clipart_records(tmp_path)
