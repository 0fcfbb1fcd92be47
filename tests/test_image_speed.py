"""The picture speed-ups (issue #21) change no result they should not: the text-embedding cache
gives the encoder's own vectors, bit for bit, and the default step count is the embedded
model's own (a PNG still records it, so an older 25-step picture draws again the same)."""

from __future__ import annotations

import numpy as np

from tests.test_image_data import image_weights, library  # noqa: F401  (fixtures)


class CountingEncoder:
    def __init__(self, encoder) -> None:
        self.encoder, self.calls = encoder, []

    def __call__(self, texts):
        self.calls.append(list(texts))
        return self.encoder(texts)


def test_the_embedding_cache_returns_the_encoders_vectors(encoder):
    from diffusers import DDIMScheduler

    from models.image.pipeline import ArsNovaImagePipeline, make_unet

    enc = CountingEncoder(encoder)
    pipe = ArsNovaImagePipeline(make_unet(16, (8, 16), layers_per_block=1, attention_head_dim=8), DDIMScheduler())
    pipe.set_encoder(enc)
    a = pipe.embed(["a red apple"]).numpy()
    b = pipe.embed(["a blue boat", "a red apple"]).numpy()
    assert np.array_equal(a[0], b[1]) and np.array_equal(a[0], encoder(["a red apple"])[0])
    assert np.array_equal(b[0], encoder(["a blue boat"])[0])
    assert enc.calls == [["a red apple"], ["a blue boat"]]  # each text once, one at a time
    b[0][:] = 0  # the caller's copy, not the cache
    assert np.array_equal(pipe.embed(["a blue boat"]).numpy()[0], encoder(["a blue boat"])[0])
    assert pipe.embed([]).shape == (0, 384)
    pipe.set_encoder(enc)  # a new encoder: nothing kept from the old one
    pipe.embed(["a red apple"])
    assert enc.calls[-1] == ["a red apple"]
    object.__setattr__(pipe, "EMBED_CACHE", 4)  # bounded: the oldest goes first
    pipe.set_encoder(lambda texts: np.ones((len(texts), 384), np.float32))
    pipe.embed([f"t{i}" for i in range(10)])
    assert list(pipe._embedded) == ["t6", "t7", "t8", "t9"]


def test_the_default_steps_are_the_embedded_models_and_recorded(image_weights, tmp_path):  # noqa: F811
    from models.image.image_io import png_params
    from tests.tiny import run_tool
    from tools.generate_image import EMBEDDED_STEPS
    from tools.host import make_host

    host = make_host(image_weights)
    seen = []
    art = run_tool("generate_image", {"prompt": "a green leaf", "seed": 3, "width": 32, "height": 32},
                   tmp_path / "s", host, emit=seen.append)
    assert png_params(tmp_path / "s" / art.files["image"])["steps"] == EMBEDDED_STEPS == 12
    # an explicit count (a PNG drawn with the old default of 25) is kept
    art = run_tool("generate_image", {"prompt": "a green leaf", "seed": 3, "steps": 25, "width": 32, "height": 32},
                   tmp_path / "s", host)
    assert png_params(tmp_path / "s" / art.files["image"])["steps"] == 25
