"""The learned ×4 upscaler: loads from safetensors, enlarges 64 -> 256 px deterministically, and the
picture tool falls back to Lanczos (and says so) when its weights file is not there."""

from __future__ import annotations

import numpy as np
import pytest

from models.image.upscaler import FILE, UpscalerConfig, build, enlarge, load_upscaler, save_upscaler
from tests.test_image_data import image_weights, library  # noqa: F401  (fixtures)


def _tiny(path, seed: int = 0):
    """A real network at toy width with random (non-zero) output weights, saved as fp16."""
    import torch

    torch.manual_seed(seed)
    cfg = UpscalerConfig(channels=4, layers=1)
    net = build(cfg)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.05)
    save_upscaler(path, net, cfg)
    return path


def _picture(size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(3)
    im = np.full((size, size, 3), 255, np.uint8)
    im[16:48, 20:44] = rng.integers(0, 255, 3, dtype=np.uint8)
    return im


def test_upscaler_loads_and_enlarges_deterministically(tmp_path):
    up = load_upscaler(_tiny(tmp_path / FILE))
    assert up is not None and up.name == "learned x4 upscaler" and len(up.digest) == 16
    a, b = up(_picture()), up(_picture())
    assert a.shape == (256, 256, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    # the learned residual is on top of bicubic: not the same pixels as Lanczos
    lanczos, how = enlarge(_picture(), (256, 256), None)
    assert how == "lanczos 64x64 -> 256x256" and not np.array_equal(a, lanczos)
    out, how = enlarge(_picture(), (256, 256), up)
    assert how == "learned x4 upscaler 64x64 -> 256x256" and np.array_equal(out, a)
    # any other size: the network's ×4, then Lanczos for the rest; never the network to shrink
    out, how = enlarge(_picture(), (512, 512), up)
    assert out.shape == (512, 512, 3) and how == "learned x4 upscaler 64x64 -> 256x256, then lanczos 256x256 -> 512x512"
    assert enlarge(_picture(), (32, 32), up)[1] == "lanczos 64x64 -> 32x32"
    assert enlarge(_picture(), (64, 64), up)[1] == "none"


def test_missing_or_broken_weights(tmp_path):
    from models.common.errors import ModelFileError

    assert load_upscaler(tmp_path / FILE) is None  # absent: the caller uses Lanczos
    (tmp_path / FILE).write_bytes(b"not safetensors")
    with pytest.raises(ModelFileError, match="delete it to use Lanczos"):
        load_upscaler(tmp_path / FILE)


def test_tool_says_which_upscaler(image_weights, tmp_path):  # noqa: F811
    """Without the weights file the tool enlarges with Lanczos and says so; with it, the learned
    network, recorded in the PNG (with its own hash; the drawing model's hash does not change)."""
    from agent.app import make_agent
    from agent.config import Config
    from models.image.image_io import png_params
    from tools.revise import ReviseConfig

    def draw(home):
        agent = make_agent(Config(data_dir=home, weights_dir=image_weights, threads=1,
                                  revise=ReviseConfig(max_rounds=0, candidates=1, target=0.0)))
        sid = agent.store.create("t").id
        art = list(agent.run("a picture of a red apple, 64x64, 2 steps, seed 5", sid))[-1].artifacts[0]
        return art, png_params(agent.store.session_dir(sid) / art.files["image"])

    art, p = draw(tmp_path / "a")
    assert p["upscale"] == "lanczos 16x16 -> 64x64" and "upscaler_hash" not in p
    assert "(native 16 px, Lanczos)" in art.summary

    _tiny(image_weights / "image" / FILE)
    art2, p2 = draw(tmp_path / "b")
    assert p2["upscale"] == "learned x4 upscaler 16x16 -> 64x64" and len(p2["upscaler_hash"]) == 16
    assert "(native 16 px, learned x4 upscaler)" in art2.summary
    assert p2["model_hash"] == p["model_hash"] and p2["seed"] == p["seed"]


def _clipart(n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """(n, size, size, 3) uint8 flat-fill pictures with sharp edges: what the upscaler trains on."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        im = Image.new("RGB", (size, size), "white")
        d = ImageDraw.Draw(im)
        for _ in range(4):
            x0, y0 = rng.integers(0, size * 3 // 4, 2)
            x1, y1 = np.array([x0, y0]) + rng.integers(size // 8, size // 2, 2)
            fill = tuple(int(c) for c in rng.integers(0, 255, 3))
            (d.ellipse if rng.random() < 0.5 else d.rectangle)((int(x0), int(y0), int(x1), int(y1)), fill=fill,
                                                               outline="black", width=2)
        out.append(np.asarray(im))
    return np.stack(out)


def test_training_steps_checkpoint_and_resume(tmp_path):
    """The real trainer at toy size: patches of the pre-shrunk pictures, a few steps, a checkpoint,
    and a resume that continues the step count."""
    from models.image.training.upscaler import TrainConfig, _batch, lowres, model_like, train

    hr = _clipart(4)
    cfg = TrainConfig(size=64, patch=8, batch=3, minutes=5, max_steps=3, checkpoint=2)
    up = UpscalerConfig(channels=4, blocks=1)
    lows = {k: np.stack([lowres(im, 4, k) for im in hr]) for k in ("lanczos", "area")}
    x, y = _batch(hr, lows, cfg, up, np.random.default_rng(0))
    assert tuple(x.shape) == (3, 3, 8, 8) and tuple(y.shape) == (3, 3, 32, 32)
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    ml = model_like(lows["area"][0], 0)
    assert ml.dtype == np.uint8 and ml.shape == (16, 16, 3) and np.array_equal(ml, model_like(lows["area"][0], 0))
    _, step, _ = train(hr, cfg, up, tmp_path / "run", resume=False, log=lambda *a, **k: None)
    assert step == 3 and (tmp_path / "run" / "state.pt").exists()
    _, step, _ = train(hr, TrainConfig(**{**cfg.__dict__, "max_steps": 5}), up, tmp_path / "run", resume=True,
                       log=lambda *a, **k: None)
    assert step == 5


def test_shipped_upscaler_beats_lanczos_on_flat_fills():
    """The shipped network (when present) against Lanczos on synthetic clip art it never saw, shrunk
    ×4 as the model's training pictures were: sharper edges, so higher PSNR on most pictures."""
    from pathlib import Path

    from models.image.training.upscaler import lowres, psnr

    up = load_upscaler(Path(__file__).resolve().parent.parent / "models" / "weights" / "image" / FILE)
    if up is None:
        pytest.skip("no shipped upscaler")
    wins = []
    for hr in _clipart(6, 256, seed=1):
        lr = lowres(hr, 4, "lanczos")
        lanczos, _ = enlarge(lr, (256, 256), None)
        wins.append(psnr(up(lr), hr) - psnr(lanczos, hr))
    assert np.mean(wins) > 0.5 and sum(w > 0 for w in wins) >= 5
