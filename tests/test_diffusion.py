"""Stable Diffusion pipelines through diffusers, with tiny components built from the real classes."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("diffusers")

from models.image.diffusion import SCHEDULERS, ImageRequest, load_sd_pipeline, parse_sd_spec, run_pipeline  # noqa: E402
from models.common.errors import Cancelled, ModelFileError, UserFixableError  # noqa: E402


@pytest.fixture(scope="module")
def sd_dir(tmp_path_factory):
    from tests.tiny import make_tiny_sd_pipeline

    return make_tiny_sd_pipeline(tmp_path_factory.mktemp("sd"))


REQ = ImageRequest("a red fox in the snow", negative_prompt="blurry", width=32, height=32, steps=2, seed=3)


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
def test_local_pipeline_each_scheduler_seeded(sd_dir, scheduler):
    pipe = load_sd_pipeline(f"sd:{sd_dir}", scheduler)
    assert type(pipe.scheduler).__name__ == SCHEDULERS[scheduler]
    assert pipe.unet.dtype.is_floating_point and str(pipe.unet.dtype) == "torch.float32"
    steps = []
    a = np.asarray(run_pipeline(pipe, REQ, progress=lambda d, t: steps.append((d, t)))[0])
    b = np.asarray(run_pipeline(pipe, REQ)[0])
    c = np.asarray(run_pipeline(pipe, ImageRequest(**{**REQ.__dict__, "seed": 4}))[0])
    assert a.shape == (32, 32, 3) and steps == [(1, 2), (2, 2)]
    assert np.array_equal(a, b) and not np.array_equal(a, c)  # same seed, same image


def test_batch_of_candidates_and_cancel(sd_dir):
    pipe = load_sd_pipeline(f"sd:{sd_dir}")
    ims = run_pipeline(pipe, ImageRequest("a boat", width=32, height=32, steps=2, seed=0, batch=3))
    assert len(ims) == 3 and not np.array_equal(np.asarray(ims[0]), np.asarray(ims[1]))
    with pytest.raises(Cancelled):
        run_pipeline(pipe, ImageRequest("a boat", width=32, height=32, steps=4), should_stop=lambda: True)


def test_bad_models_and_requests_are_one_line_errors(tmp_path):
    (tmp_path / "model.ckpt").write_bytes(b"\x80\x04pickle")
    with pytest.raises(ModelFileError, match="pickle-format checkpoint"):
        load_sd_pipeline(f"sd:{tmp_path / 'model.ckpt'}")
    (tmp_path / "one.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(ModelFileError, match="needs its pipeline config"):
        load_sd_pipeline(f"sd:{tmp_path / 'one.safetensors'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="cannot load image model"):
        load_sd_pipeline(f"sd:{tmp_path / 'empty'}")
    with pytest.raises(ModelFileError, match="write an image model as"):
        parse_sd_spec("sd:")
    with pytest.raises(UserFixableError, match="unknown scheduler 'turbo'"):
        from models.image.diffusion import set_scheduler

        set_scheduler(object(), "turbo")
    for kw, frag in (({"width": 4000}, "width must be between 16 and 1024"), ({"steps": 0}, "steps must be between"),
                     ({"batch": 50}, "batch must be between 1 and 8")):
        with pytest.raises(UserFixableError, match=frag):
            ImageRequest("x", **kw)


def test_embedded_pipeline_class_round_trip_guidance_and_interrupt(tmp_path, encoder):
    """The project's own pipeline (UNet2DConditionModel on MiniLM sentence embeddings, CFG) at toy size:
    save_pretrained -> from_pretrained, seeded, negative prompt and guidance change the result."""
    import torch
    from diffusers import DDIMScheduler

    from models.image.pipeline import ArsNovaImagePipeline, make_unet

    torch.manual_seed(0)
    ArsNovaImagePipeline(make_unet(16, (32, 32), 384, 1, 8), DDIMScheduler()).save_pretrained(tmp_path / "p")
    pipe = ArsNovaImagePipeline.from_pretrained(tmp_path / "p").set_encoder(encoder)
    pipe.set_progress_bar_config(disable=True)

    def draw(**kw):
        g = torch.Generator().manual_seed(kw.pop("seed", 1))
        return pipe("a red fox", num_inference_steps=3, generator=g, output_type="pt", **kw).images

    a, b = draw(), draw()
    assert a.shape == (1, 3, 16, 16) and torch.equal(a, b)
    assert not torch.equal(a, draw(seed=2))
    assert not torch.equal(a, draw(negative_prompt="blue"))
    assert not torch.equal(a, draw(guidance_scale=7.0))
    assert draw(num_images_per_prompt=2).shape[0] == 2
    calls = []

    def stop(p, i, t, kw):
        calls.append(i)
        p._interrupt = True
        return kw

    draw(callback_on_step_end=stop)
    assert calls == [0]
    with pytest.raises(ValueError, match="this model draws 16x16"):
        draw(height=64, width=64)
