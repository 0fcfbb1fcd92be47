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
# an exemplar "fits" a subject when their MiniLM cosine similarity reaches this: set on a dev list
# of 20 subjects the library has (lowest 0.74, "ball") and 20 it lacks (highest 0.70, "harmonica"
# -> harp), none of them an eval prompt (IMAGE_CARD.md)
FIT = 0.72


def library_has(names, subject: str) -> bool:
    """Whether ``subject`` ('apples', 'teddy bear') is one of the library's own subject names
    (``names``), as written or with its last word made singular: the exact-name half of coverage,
    for names whose MiniLM similarity to themselves is not a clean 1.0 (plurals, int8 vectors)."""
    from models.image.scene import singular

    words = subject.split()
    return bool(words) and (subject in names or " ".join([*words[:-1], singular(words[-1])]) in names)


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
    judge: object | None = None  # models.image.critic.SubjectJudge (when the subject critic is shipped)
    upscaler: object | None = None  # models.image.upscaler.Upscaler (embedded only, when shipped); else Lanczos

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

    def subject_match(self, text: str, colours: list[str] = ()) -> tuple[list[int], float]:
        """The close exemplars for one subject ('castle'), best first, and the best one's subject
        similarity (below ``FIT``: the library has no such subject)."""
        v = self.pipe.embed([text])[0].numpy()
        v = v / max(float(np.linalg.norm(v)), 1e-8)
        return self.exemplars.ranked(v, list(colours)), float(np.max(self.exemplars.vectors @ v))

    def covers(self, text: str) -> bool:
        """Whether the library has the subject ``text`` ('castle'): one of its subject names, or one
        whose MiniLM similarity reaches ``FIT`` (bench/image_misses.py measures both on a dev set)."""
        return library_has(self.exemplars.subject_names, text) or self.subject_match(text)[1] >= FIT

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
                 strength: float = 1.0, starts: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """One uint8 array per seed, at the native size (embedded) or ``size`` (SD).

        With ``exemplars`` (one library index per seed) and ``strength`` < 1, picture k starts from
        exemplar k noised to that fraction of the schedule (image-to-image) and takes that fraction
        of the steps. ``starts`` (one uint8 native-size picture per seed, e.g. a composed scene)
        does the same from any picture.

        The embedded model draws all the seeds as one batch (up to ``BATCH`` at a time: the cheapest
        speed-up on a CPU, ~1.6x for 4 candidates here); picture k is seed k's own picture up to float
        rounding, so a re-draw that must be byte-identical passes the same list of seeds (the PNG
        records it). SD models draw one seed at a time (a 512 px UNet is compute-bound already)."""
        import torch

        from models.image.pipeline import img2img_steps

        out: list[np.ndarray] = []
        group = self.batch_size
        chunks = [seeds[i:i + group] for i in range(0, len(seeds), group)]
        if starts is not None and len(starts) != len(seeds):
            raise ValueError("one start picture per seed")
        start = (exemplars is not None or starts is not None) and strength < 1.0
        if start and starts is None and (self.exemplars is None or len(exemplars) != len(seeds)):
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
                if starts is not None:
                    first = np.stack(starts[c * group:(c + 1) * group])
                else:
                    first = np.stack([self.exemplar_start(i, prompt) for i in exemplars[c * group:(c + 1) * group]])
                kw = {"image": torch.from_numpy(first).permute(0, 3, 1, 2).float() / 255.0, "strength": strength}
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

    # the drawing model only: an upscaler (upscaler*.safetensors) is recorded on its own (the PNG's
    # "upscale" and "upscaler_hash"), so shipping or switching one leaves the model's hash alone
    for f in sorted(p for p in path.rglob("*.safetensors") if not p.name.startswith("upscaler")):
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
        return ImageKit(pipe, "sd", None, None, spec, h, "dpm++", judge=_judge(home, encoder_factory))
    import torch
    from diffusers.utils import logging as dlog

    from models.image.pipeline import ArsNovaImagePipeline, native_size

    dlog.disable_progress_bar()
    encoder = encoder_factory()
    try:
        pipe = ArsNovaImagePipeline.from_pretrained(home, dtype=torch.float32).set_encoder(encoder)
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
    from models.image.upscaler import FILE as UPSCALER, load_upscaler

    return ImageKit(pipe, "embedded", native_size(pipe.unet), index,
                    f"arsnova-image (step {card.get('train_step', '?')})", _hash_dir(home), "ddim", exemplars,
                    _judge(home, lambda: encoder), load_upscaler(home / UPSCALER))


def _judge(home: Path, encoder_factory: Callable):
    """The subject critic beside the embedded model (it judges SD pictures too), or None."""
    from models.image.critic import FILE, load_judge

    return load_judge(home / FILE, encoder_factory()) if (home / FILE).is_file() else None
