"""The image generator the studio uses: the embedded pipeline (weights/image) or any Stable
Diffusion model (``sd:…``), behind one ``generate`` call with progress, cancel and seeds."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.common.errors import Cancelled, ModelFileError, ModelMissing


BATCH = 8  # the most pictures of the embedded model drawn in one batch


@dataclass
class ImageKit:
    pipe: object
    kind: str  # "embedded" | "sd"
    native: int | None  # the embedded model's only size; None: any multiple of 8
    index: object | None  # FeatureIndex of the training images (embedded only)
    model_id: str
    model_hash: str
    scheduler: str
    exemplars: object | None = None  # Exemplars (embedded only, when shipped)

    @property
    def batch_size(self) -> int:
        """How many seeds one pipeline call draws together."""
        return BATCH if self.kind == "embedded" else 1

    def pick_exemplars(self, prompt: str, seeds: list[int]) -> list[int] | None:
        """The exemplar each seed's drawing of ``prompt`` starts from (None: no library); the
        prompt's subject is embedded once for all of them."""
        if self.exemplars is None:
            return None
        from models.image.colours import colours_in, subject_of

        subject = self.pipe.embed([subject_of(prompt) or prompt])[0].numpy()
        return self.exemplars.pick(subject, colours_in(prompt), seeds)

    def exemplar_start(self, index: int, prompt: str) -> np.ndarray:
        """The picture a drawing of ``prompt`` starts from: exemplar ``index``, recoloured if need be."""
        from models.image.colours import colours_in

        return self.exemplars.start(index, colours_in(prompt))

    def exemplar_recolour(self, index: int, prompt: str) -> str | None:
        """The colour exemplar ``index`` is turned to for ``prompt`` (None: none)."""
        from models.image.colours import colours_in

        return self.exemplars.recolour_to(index, colours_in(prompt))

    def exemplar_caption(self, index: int) -> str:
        return self.exemplars.captions[index]

    def generate(self, prompt: str, negative: str | None, size: tuple[int, int], steps: int, guidance: float,
                 seeds: list[int], progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, exemplars: list[int] | None = None,
                 strength: float = 1.0) -> list[np.ndarray]:
        """One uint8 array per seed, at the native size (embedded) or ``size`` (SD).

        With ``exemplars`` (one library index per seed) and ``strength`` < 1, picture k starts from
        exemplar k noised to that fraction of the schedule (image-to-image) and takes that fraction
        of the steps.

        The embedded model draws all the seeds as one batch (up to ``BATCH`` at a time: the cheapest
        speed-up on a CPU, ~1.6x for 4 candidates here); picture k is seed k's own picture up to float
        rounding, so a re-draw that must be byte-identical passes the same list of seeds (the PNG
        records it). SD models draw one seed at a time (a 512 px UNet is compute-bound already)."""
        import torch

        from models.image.pipeline import img2img_steps

        out: list[np.ndarray] = []
        group = self.batch_size
        chunks = [seeds[i:i + group] for i in range(0, len(seeds), group)]
        start = exemplars is not None and strength < 1.0
        if start and (self.exemplars is None or len(exemplars) != len(seeds)):
            raise ValueError("exemplars need the model's exemplar library and one index per seed")
        run_steps = img2img_steps(steps, strength) if start else steps
        total = len(seeds) * run_steps
        for c, chunk in enumerate(chunks):
            stopped = {"flag": False}
            done0, n = len(out) * run_steps, len(chunk)

            def on_step(p, i, t, kw, done0=done0, n=n):
                if progress:
                    progress(done0 + (i + 1) * n, total)
                if should_stop and should_stop():
                    stopped["flag"] = True
                    p._interrupt = True
                return kw

            gens = [torch.Generator("cpu").manual_seed(s) for s in chunk]
            kw = {} if self.kind == "embedded" else {"width": size[0], "height": size[1]}
            if start:
                picks = exemplars[c * group:(c + 1) * group]
                starts = np.stack([self.exemplar_start(i, prompt) for i in picks])
                kw = {"image": torch.from_numpy(starts).permute(0, 3, 1, 2).float() / 255.0, "strength": strength}
            res = self.pipe(prompt, negative_prompt=negative, num_inference_steps=steps, guidance_scale=guidance,
                            num_images_per_prompt=n, generator=gens,
                            callback_on_step_end=on_step, **kw)
            if stopped["flag"]:
                raise Cancelled("image generation cancelled")
            out += [np.asarray(im.convert("RGB"), dtype=np.uint8) for im in res.images]
        return out


def _hash_dir(path: Path) -> str:
    h = hashlib.sha256()
    from models.common.checkpoint import open_weights

    for f in sorted(path.rglob("*.safetensors")):
        with open_weights(f)[0] as fh:  # a FIFO here would block for ever
            h.update(fh.read(1 << 20))  # the header and first MiB: cheap and distinctive
    return h.hexdigest()[:16]


def load_image_kit(spec: str | None, weights_dir: Path, encoder_factory: Callable) -> ImageKit:
    """``None``/``embedded`` -> weights/image (ArsNovaImagePipeline); ``sd:…`` -> a diffusers SD pipeline."""
    home = weights_dir / "image"
    if (not spec or spec == "embedded") and not (home / "model_index.json").exists():
        raise ModelMissing(f"generate_image is not available yet: the embedded image model is not at {home} (train it "
                           "with `arsnova train image --install`, or use a Stable Diffusion model: --image-model sd:/path)")
    if spec and spec not in ("embedded",):
        from models.image.diffusion import load_sd_pipeline, parse_sd_spec

        pipe = load_sd_pipeline(spec, "dpm++")
        path, _ = parse_sd_spec(spec)
        h = _hash_dir(Path(path)) if Path(path).is_dir() else hashlib.sha256(path.encode()).hexdigest()[:16]
        return ImageKit(pipe, "sd", None, None, spec, h, "dpm++")
    import torch
    from diffusers.utils import logging as dlog

    from models.image.pipeline import ArsNovaImagePipeline, native_size

    dlog.disable_progress_bar()
    try:
        pipe = ArsNovaImagePipeline.from_pretrained(home, dtype=torch.float32).set_encoder(encoder_factory())
    except (OSError, ValueError) as e:
        raise ModelFileError(f"cannot load the image model at {home}: {str(e).splitlines()[0][:200]}") from None
    pipe.set_progress_bar_config(disable=True)
    pipe.unet.to(memory_format=torch.channels_last)  # ~9% faster convolutions here (measured alone)
    index = None
    if (home / "train-features.npz").exists():
        from models.image.metrics import FeatureIndex

        index = FeatureIndex.load(home / "train-features.npz")
    exemplars = None
    from models.image.exemplars import FILE, Exemplars

    if (home / FILE).exists():
        exemplars = Exemplars.load(home / FILE)
    card = json.loads((home / "training.json").read_text()) if (home / "training.json").exists() else {}
    return ImageKit(pipe, "embedded", native_size(pipe.unet), index,
                    f"arsnova-image (step {card.get('train_step', '?')})", _hash_dir(home), "ddim", exemplars)
