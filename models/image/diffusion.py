"""Stable-Diffusion-family pipelines through diffusers, on the CPU in fp32 (issue 4, real-pipeline side).

``sd:ID`` (a hub id, when online), ``sd:/path/to/dir`` (a ``save_pretrained`` directory) and
``sd:/path/to/model.safetensors#/path/to/config-dir`` (a single checkpoint file, with the
pipeline's config directory beside it for offline use) all load with safetensors only, offline
when the path is local or HF_HUB_OFFLINE is set, and never with remote code. The scheduler is
chosen by name; progress comes through ``callback_on_step_end``, which also interrupts the
pipeline when the person cancels. No tqdm output: the chat owns the terminal.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.common.errors import Cancelled, ModelFileError, UserFixableError

SCHEDULERS = {
    "ddim": "DDIMScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler-a": "EulerAncestralDiscreteScheduler",
    "lcm": "LCMScheduler",
}
MAX_SIDE = 1024
MAX_BATCH = 8


def parse_sd_spec(spec: str) -> tuple[str, str | None]:
    """``sd:PATH_OR_ID[#CONFIG_DIR]`` -> (path or id, config dir for a single file)."""
    s = spec[3:] if spec.startswith("sd:") else spec
    path, _, config = s.partition("#")
    if not path:
        raise ModelFileError(f"{spec!r}: write an image model as sd:ID, sd:/dir or sd:/file.safetensors#/config-dir")
    return path, config or None


def load_sd_pipeline(spec: str, scheduler: str | None = None):
    """A diffusers pipeline in fp32 on the CPU, with the named scheduler; one ModelFileError line on failure."""
    import torch
    from diffusers import DiffusionPipeline, StableDiffusionPipeline
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    path, config = parse_sd_spec(spec)
    local = os.path.exists(path)
    offline = local or os.environ.get("HF_HUB_OFFLINE") == "1"
    if local and Path(path).suffix in (".ckpt", ".pt", ".pth", ".bin"):
        raise ModelFileError(f"{path} is a pickle-format checkpoint, which can run code when loaded; use a .safetensors file")
    if local and not os.path.isdir(path):
        from models.common.checkpoint import open_weights

        open_weights(path)[0].close()  # a FIFO, a device or an absurd size: refused before diffusers opens it
    try:
        if Path(path).is_file():
            if Path(path).suffix != ".safetensors":
                raise ModelFileError(f"{path}: a single-file model must be .safetensors")
            if offline and not config:
                raise ModelFileError(f"{path}: offline, a single file needs its pipeline config: sd:{path}#/path/to/config-dir")
            pipe = StableDiffusionPipeline.from_single_file(path, config=config, dtype=torch.float32,
                                                            local_files_only=offline)
        else:
            pipe = DiffusionPipeline.from_pretrained(path, dtype=torch.float32, use_safetensors=True,
                                                     local_files_only=offline)
    except ModelFileError:
        raise
    except (OSError, ValueError, EnvironmentError, KeyError, TypeError) as e:
        raise ModelFileError(f"cannot load image model {path!r}: {str(e).splitlines()[0][:200]}") from None
    pipe.set_progress_bar_config(disable=True)
    if scheduler:
        set_scheduler(pipe, scheduler)
    return pipe


def set_scheduler(pipe, name: str) -> None:
    import diffusers

    if name not in SCHEDULERS:
        raise UserFixableError(f"unknown scheduler {name!r}; use one of {', '.join(SCHEDULERS)}")
    pipe.scheduler = getattr(diffusers, SCHEDULERS[name]).from_config(pipe.scheduler.config)


@dataclass(frozen=True)
class ImageRequest:
    prompt: str
    negative_prompt: str | None = None
    width: int = 512
    height: int = 512
    steps: int = 25
    guidance: float = 7.0
    seed: int = 0
    batch: int = 1

    def __post_init__(self) -> None:
        for name, v in (("width", self.width), ("height", self.height)):
            if not 16 <= v <= MAX_SIDE:
                raise UserFixableError(f"{name} must be between 16 and {MAX_SIDE} pixels (got {v})")
        if not 1 <= self.steps <= 200:
            raise UserFixableError(f"steps must be between 1 and 200 (got {self.steps})")
        if not 1 <= self.batch <= MAX_BATCH:
            raise UserFixableError(f"batch must be between 1 and {MAX_BATCH} (got {self.batch})")


def run_pipeline(pipe, req: ImageRequest, progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> list:
    """-> PIL images. Same request and seed -> the same pixels (an explicit CPU torch.Generator)."""
    import torch

    stopped = {"flag": False}

    def on_step(p, step: int, timestep, kwargs: dict) -> dict:
        if progress:
            progress(step + 1, req.steps)
        if should_stop and should_stop():
            stopped["flag"] = True
            p._interrupt = True
        return kwargs

    gen = torch.Generator("cpu").manual_seed(req.seed)
    out = pipe(req.prompt, negative_prompt=req.negative_prompt, width=req.width, height=req.height,
               num_inference_steps=req.steps, guidance_scale=req.guidance, num_images_per_prompt=req.batch,
               generator=gen, callback_on_step_end=on_step)
    if stopped["flag"]:
        raise Cancelled("image generation cancelled")
    return list(out.images)
