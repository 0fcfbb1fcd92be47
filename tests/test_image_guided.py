"""Guided enlargement (models/image/guided.py), the hi-res exemplars (models/image/hires.py, built by models/image/training/hires.py) and the
scene canvas drawn at the delivered size: where the redraw kept its start the delivered picture is
the hi-res start, elsewhere the upscaler's; off, these tests fail."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_image_data import image_weights, library  # noqa: F401  (fixtures)


def _pictures():
    """A 16 px start (red square on white), its 64 px version with fine blue stripes the small one
    cannot hold, and a redraw that kept the left half and changed the right half to green."""
    start = np.full((16, 16, 3), 255, np.uint8)
    start[2:14, 2:14] = (220, 30, 30)
    big = np.full((64, 64, 3), 255, np.uint8)
    big[8:56, 8:56] = (220, 30, 30)
    big[8:56:4, 8:56] = (30, 30, 220)  # detail only the big one has
    redraw = start.copy()
    redraw[:, 8:] = (30, 200, 30)
    return start, big, redraw


def test_kept_region_is_the_hi_res_start_and_changed_region_the_upscalers():
    from models.image.guided import GuidedConfig, guided_enlarge, kept_mask
    from models.image.upscaler import enlarge

    start, big, redraw = _pictures()
    cfg = GuidedConfig()
    m = kept_mask(redraw, start, cfg)
    assert m[:, :8 - cfg.erode].min() == 1.0 and m[:, 8 - cfg.erode:].max() == 0.0  # kept gives way next to a change
    assert kept_mask(redraw, start, GuidedConfig(erode=0))[:, :8].min() == 1.0
    out = guided_enlarge(redraw, start, big, (64, 64), None, cfg)
    plain, how = enlarge(redraw, (64, 64), None)
    margin = int(np.ceil(3 * cfg.feather * 4)) + 4  # beyond the feathered seam (sigma in delivered px) and the ramp
    edge = 32 - 4 * cfg.erode
    assert np.array_equal(out.pixels[:, : edge - margin], big[:, : edge - margin])  # the start's own stripes
    assert np.array_equal(out.pixels[:, edge + margin:], plain[:, edge + margin:])
    assert 0.3 < out.kept < 0.6 and "guided" in out.how and out.how.startswith(how)
    assert not np.array_equal(out.pixels, plain)


def test_without_a_hi_res_start_it_is_the_upscaler_alone():
    from models.image.guided import guided_enlarge
    from models.image.upscaler import enlarge

    start, big, redraw = _pictures()
    plain, how = enlarge(redraw, (64, 64), None)
    for s, b in ((start, None), (None, big)):
        out = guided_enlarge(redraw, s, b, (64, 64), None)
        assert np.array_equal(out.pixels, plain) and out.how == how and out.kept == 0.0
    same = guided_enlarge(redraw, start, big, (16, 16), None)  # at the native size: nothing to enlarge
    assert np.array_equal(same.pixels, redraw) and same.kept == 0.0
    with pytest.raises(ValueError):
        guided_enlarge(redraw, start[:8], big, (64, 64), None)


def test_a_redraw_identical_to_its_start_is_delivered_as_the_hi_res_start():
    from models.image.guided import guided_enlarge

    start, big, _ = _pictures()
    out = guided_enlarge(start, start, big, (64, 64), None)
    assert np.array_equal(out.pixels, big) and out.kept == 1.0


def test_the_scene_canvas_at_4x_is_the_same_layout_with_the_hi_res_subject():
    from PIL import Image

    from models.image.scene import background, compose, parse_scene

    start, big, _ = _pictures()
    for prompt in ("a dog on a hill at sunset", "a car in the city at night", "a boat on the sea at dawn",
                   "a deer in the forest in a storm", "two cats on a beach", "a house in the snow"):
        sc = parse_scene(prompt)
        pics = [start] * len(sc.subjects)
        small = compose(sc, pics, 64, seed=3)
        canvas, mask, canvas_big = compose(sc, pics, 64, seed=3, hires=[big] * len(sc.subjects))
        assert np.array_equal(canvas, small) and canvas_big.shape == (256, 256, 3)  # the native canvas is untouched
        back = np.asarray(Image.fromarray(canvas_big).resize((64, 64), Image.Resampling.BOX), np.float32)
        assert np.abs(back - canvas)[~mask].mean() < 3, prompt  # the same setting, drawn finer
        ys, xs = np.nonzero(mask)
        sub = canvas_big[ys.min() * 4:(ys.max() + 1) * 4, xs.min() * 4:(xs.max() + 1) * 4]
        assert ((sub[..., 2] > 150) & (sub[..., 0] < 100)).mean() > 0.05  # the big picture's blue stripes
        assert not ((canvas[..., 2] > 150) & (canvas[..., 0] < 100) & mask).any()
    rng = np.random.default_rng
    sc = parse_scene("a cat in the city at night")
    assert np.array_equal(background(sc, 64, rng(1)), background(sc, 64, rng(1), scale=1))
    # no hi-res picture for a subject: its small one, enlarged, in the same place
    _, _, fallback = compose(parse_scene("a dog on a hill"), [start], 64, seed=3, hires=[None])
    assert not ((fallback[..., 2] > 150) & (fallback[..., 0] < 100)).any()


def test_hires_library_round_trip_and_recolour_turns_like_the_small_one(tmp_path):
    from PIL import Image

    from models.image.exemplars import FILE, Exemplars, recolour
    from models.image.hires import FILE as HIRES, HiresExemplars

    start, big, _ = _pictures()
    small = np.stack([start, 255 - start // 2])
    striped = np.asarray(Image.fromarray(big).resize((32, 32), Image.Resampling.NEAREST))
    bigs = np.stack([striped, np.full((32, 32, 3), 255, np.uint8)])
    vec = np.eye(2, 8, dtype=np.float32)
    ex = Exemplars(small, ("a red square", "a thing"), vec)
    ex.save(tmp_path / FILE)
    assert Exemplars.load(tmp_path / FILE).hires is None  # not shipped: no guidance
    HiresExemplars(bigs, np.array([True, False])).save(tmp_path / HIRES)
    back = Exemplars.load(tmp_path / FILE)
    assert np.array_equal(back.hires.images[0], bigs[0]) and list(back.hires.has) == [True, False]
    assert back.start_big(1, []) is None and np.array_equal(back.start_big(0, []), bigs[0])
    # recoloured by the small picture's hue turn: its red turns as the small one's does (the stripes,
    # which the small one lacks, do not pull the turn off)
    blue = back.start_big(0, ["blue"])
    assert np.abs(blue[10, 10].astype(int) - recolour(start, "blue")[5, 5].astype(int)).max() <= 2
    with pytest.raises(ValueError):
        Exemplars(small, ("a", "b"), vec, HiresExemplars(bigs[:1], np.array([True])))


def test_hires_render_matches_the_package_emoji():
    """The font's apple, aligned onto the npm package's 64 px apple (skipped without the font or package)."""
    from pathlib import Path

    from PIL import ImageFont

    from models.image.image_io import load_rgb
    from models.image.training import hires
    from models.image.training.data import fit_square

    png = Path(__file__).resolve().parent.parent / "data" / "npm" / "package" / "img" / "google" / "64" / "1f34e.png"
    if not hires.FONT.is_file() or not png.is_file():
        pytest.skip("needs fonts-noto-color-emoji and the npm emoji package")
    small = np.asarray(fit_square(load_rgb(png), 64), np.uint8)
    out = hires.render("\U0001F34E", small, ImageFont.truetype(str(hires.FONT), hires.FONT_PX))
    assert out is not None and out.shape == (128, 128, 3)
    assert hires.render("\U0001F697", small, ImageFont.truetype(str(hires.FONT), hires.FONT_PX)) is None  # a car is not an apple


def test_the_tool_delivers_a_guided_picture_and_says_so(image_weights, library, encoder, tmp_path):  # noqa: F811
    from PIL import Image

    from models.image.exemplars import FILE, Exemplars
    from models.image.hires import FILE as HIRES, HiresExemplars
    from models.image.image_io import png_params
    from models.image.training.data import build_clipart_dataset
    from tests.tiny import run_tool
    from tools.host import make_host

    ds = build_clipart_dataset(16, library)
    Exemplars.build(ds.images, ds.short_captions, np.ones(len(ds.images), bool), encoder).save(image_weights / "image" / FILE)
    big = np.stack([np.asarray(Image.fromarray(im).resize((32, 32), Image.Resampling.LANCZOS)) for im in ds.images])
    HiresExemplars(big, np.ones(len(big), bool)).save(image_weights / "image" / HIRES)
    host = make_host(image_weights)
    for prompt in ("an apple", "a red apple on a hill at sunset"):
        art = run_tool("generate_image", {"prompt": prompt, "seed": 1, "steps": 2, "width": 64, "height": 64},
                       tmp_path / "g", host)
        p = png_params(tmp_path / "g" / art.files["image"])
        assert "guided by the" in p["upscale"] and 0 < p["guided_kept"] <= 1, p["upscale"]
        assert "guided by its start where the redraw kept it" in art.summary
    (image_weights / "image" / HIRES).unlink()  # not shipped: the upscaler alone, and it says nothing of guidance
    art = run_tool("generate_image", {"prompt": "an apple", "seed": 1, "steps": 2, "width": 64, "height": 64},
                   tmp_path / "u", make_host(image_weights))
    p = png_params(tmp_path / "u" / art.files["image"])
    assert "guided" not in p["upscale"] and "guided_kept" not in p
