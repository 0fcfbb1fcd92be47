"""Training the embedded image model: DDPM (epsilon prediction) on clip art with caption embeddings.

Captions are embedded once with all-MiniLM-L6-v2 and cached beside the dataset; 10% of them are
dropped to the zero vector so one model gives both the conditional and the unconditional
prediction (classifier-free guidance). Horizontal flips augment. Resumable like the other trainers
(model + AdamW moments as safetensors, counters as JSON); ``install_image_model`` writes the
pipeline with ``save_pretrained`` and a DDIM scheduler for sampling.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from models.common.runtime import use_threads
from models.common.training import checkpoint, lr_at, restore_adam


@dataclass(frozen=True)
class ImageTrainConfig:
    unet: dict = field(default_factory=lambda: {"sample_size": 64, "channels": [64, 128, 128, 128], "patch": 2,
                                                 "attn_max_res": 8})
    steps: int = 6000
    batch_size: int = 16
    lr: float = 3e-4
    min_lr: float = 3e-5
    warmup: int = 200
    weight_decay: float = 0.01
    caption_dropout: float = 0.1
    # objective: epsilon (noise) prediction for the first eps_steps, then v-prediction (the
    # scheduler's get_velocity). With the cosine schedule the first sampling steps see almost pure
    # noise, where x0 = (x - sqrt(1-a) eps) / sqrt(a) magnifies every error in eps 16-fold: an
    # epsilon model denoised well but sampled grey mush without the white page; v fixes that.
    eps_steps: int = 2100
    ema_decay: float = 0.999  # the installed weights are this moving average of the trained ones
    eval_every: int = 250
    ckpt_every: int = 50
    val_size: int = 64
    seed: int = 0
    threads: int = 2
    max_seconds: float = 0.0
    # the "subjects" stage: short prompt-style captions ("a red apple") for this share of the
    # examples, emoji (one picture per subject: the class-balanced part) drawn for this share
    short_caption_share: float = 0.0
    emoji_share: float = 0.0
    init_from: str = ""  # an installed pipeline directory whose UNet the run starts from


# ``base`` is the shipped model. ``subjects`` fine-tunes an installed model on short prompt-style
# captions with the emoji drawn half the time; tried for 850 steps (the card), not shipped: the
# shipped model gets its subjects from exemplars (models/image/exemplars.py) instead.
STAGES = {
    "base": ImageTrainConfig(),
    "subjects": ImageTrainConfig(steps=7000, lr=2e-4, min_lr=2e-5, warmup=100, eps_steps=0,
                                 short_caption_share=0.5, emoji_share=0.5),
}


def _unet(cfg: ImageTrainConfig):
    from models.image.pipeline import make_unet

    u = cfg.unet
    return make_unet(u["sample_size"], tuple(u["channels"]), 384, u.get("layers_per_block", 1),
                     u.get("attention_head_dim", 32), u.get("attn_max_res", 16), u.get("patch", 1))


def _save_unet(model, path: Path, extra: dict) -> None:
    from models.common.checkpoint import save_safetensors

    save_safetensors(model.state_dict(), path, {"config": dict(model.config), **extra})


def embed_captions(captions: list[str], encoder, cache: Path | None) -> np.ndarray:
    if cache and cache.exists():
        vecs = np.load(cache, allow_pickle=False)
        if len(vecs) == len(captions):
            return vecs
    vecs = np.asarray(encoder(captions, batch_size=128), dtype=np.float32)
    if cache:
        import io

        from models.common.files import write_atomic

        buf = io.BytesIO()
        np.save(buf, vecs)
        write_atomic(cache, buf.getvalue())
    return vecs


def _ema_update(ema: dict, model, decay: float, step: int) -> None:
    import torch

    d = min(decay, (1 + step) / (10 + step))  # short memory early, when the weights move fast
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                ema[k].mul_(d).add_(v, alpha=1 - d)
            else:
                ema[k].copy_(v)


def _v_objective(config: ImageTrainConfig, step: int) -> bool:
    """Is step ``step`` (0-based) trained on v? Asked for ``steps done - 1``, it tells the
    objective of the weights as they are."""
    return step >= config.eps_steps


def _target(sched, x0, noise, t, v: bool):
    return sched.get_velocity(x0, noise, t) if v else noise


def _val_loss(model, sched, x0, emb, seed: int, v: bool = False) -> float:
    """Mean noise-prediction MSE at fixed noise and timesteps: comparable across checkpoints."""
    import torch

    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(x0.shape, generator=g)
    t = torch.randint(0, sched.config.num_train_timesteps, (len(x0),), generator=g)
    model.eval()
    with torch.inference_mode():
        pred = model(sched.add_noise(x0, noise, t), t, encoder_hidden_states=emb[:, None, :]).sample
    model.train()
    return float(((pred - _target(sched, x0, noise, t, v)) ** 2).mean())


def train_image(images: np.ndarray, emb: np.ndarray, out_dir: Path, config: ImageTrainConfig,
                log: Callable[[str], None] = print, short_emb: np.ndarray | None = None,
                emoji: np.ndarray | None = None) -> dict:
    """Train (or resume) on ``images`` with caption embeddings ``emb``; ``short_emb`` (the short
    captions' embeddings) and ``emoji`` (bool mask) are needed when the config uses them."""
    import torch

    if config.short_caption_share and short_emb is None:
        raise ValueError("short_caption_share needs the short captions' embeddings")
    if config.emoji_share and (emoji is None or not emoji.any()):
        raise ValueError("emoji_share needs emoji in the dataset")
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        return _train(images, emb, out_dir, config, log, short_emb, emoji)


def _init_unet(model, pipeline_dir: Path) -> None:
    """Start from an installed pipeline's UNet (fp16 on disk, trained in fp32)."""
    import torch

    from models.common.checkpoint import load_safetensors

    files = sorted((pipeline_dir / "unet").glob("*.safetensors"))
    tensors, _ = load_safetensors(files[0] if files else pipeline_dir / "unet" / "diffusion_pytorch_model.safetensors")
    model.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()})


def _to_model_space(batch: np.ndarray, patch: int = 1):
    import torch

    from models.image.pipeline import to_patches

    return to_patches(torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 127.5 - 1.0, patch)


def _train(images, emb, out_dir: Path, config: ImageTrainConfig, log, short_emb, emoji) -> dict:
    import torch
    from diffusers import DDPMScheduler

    from models.common.checkpoint import load_safetensors, save_safetensors

    use_threads(config.threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = _unet(config)
    sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    state = {"step": 0, "images_seen": 0, "seconds": 0.0, "history": [], "config": asdict(config)}
    if (out_dir / "state.json").exists():
        state = json.loads((out_dir / "state.json").read_text())
        tensors, _ = load_safetensors(out_dir / "model.safetensors")
        model.load_state_dict(tensors)
        moments, _ = load_safetensors(out_dir / "optim.safetensors")
        restore_adam(opt, moments, state["step"])
        log(f"resumed at step {state['step']}")
        state["config"] = asdict(config)  # the objective switch and the step count are the caller's
    elif config.init_from:
        _init_unet(model, Path(config.init_from))
        log(f"starting from {config.init_from}")
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if (out_dir / "ema.safetensors").exists():
        ema.update(load_safetensors(out_dir / "ema.safetensors")[0])
    ema_model = _unet(config)

    def save(m, path, meta):
        _save_unet(m, path, meta)
        save_safetensors(ema, out_dir / "ema.safetensors", meta)

    def ema_val() -> float:
        ema_model.load_state_dict(ema)
        return _val_loss(ema_model, sched, x_val, e_val, config.seed, _v_objective(config, state["step"] - 1))

    order = np.random.default_rng(config.seed).permutation(len(images))
    val_idx, train_idx = order[: config.val_size], order[config.val_size :]
    patch = config.unet.get("patch", 1)
    x_val, e_val = _to_model_space(images[val_idx], patch), torch.from_numpy(emb[val_idx])
    emoji_idx = train_idx[emoji[train_idx]] if emoji is not None else train_idx[:0]
    rng = np.random.default_rng(config.seed + state["step"])
    n_params = sum(p.numel() for p in model.parameters())
    log(f"UNet {config.unet}: {n_params / 1e6:.2f}M params, {len(train_idx)} train / {len(val_idx)} val images")
    t0 = time.time() - state["seconds"]
    while state["step"] < config.steps:
        if config.max_seconds and time.time() - t0 > config.max_seconds:
            log("time limit reached")
            break
        idx = rng.choice(train_idx, config.batch_size)
        if config.emoji_share:
            take = rng.random(len(idx)) < config.emoji_share
            idx[take] = rng.choice(emoji_idx, int(take.sum()))
        batch = images[idx]
        flip = rng.random(len(idx)) < 0.5
        batch = np.where(flip[:, None, None, None], batch[:, :, ::-1], batch)
        x0 = _to_model_space(np.ascontiguousarray(batch), patch)
        e = emb[idx].copy()
        if config.short_caption_share:
            short = rng.random(len(idx)) < config.short_caption_share
            e[short] = short_emb[idx[short]]
        e = torch.from_numpy(e)
        e[torch.from_numpy(rng.random(len(idx)) < config.caption_dropout)] = 0.0  # for guidance
        noise = torch.randn_like(x0)
        t = torch.from_numpy(rng.integers(0, sched.config.num_train_timesteps, len(idx)))
        for g in opt.param_groups:
            g["lr"] = lr_at(state["step"], config)
        v = _v_objective(config, state["step"])
        if v and state["step"] == config.eps_steps:  # the average of epsilon weights is no v model
            ema = {k: t_.detach().clone() for k, t_ in model.state_dict().items()}
        pred = model(sched.add_noise(x0, noise, t), t, encoder_hidden_states=e[:, None, :]).sample
        loss = ((pred - _target(sched, x0, noise, t, v)) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        _ema_update(ema, model, config.ema_decay, state["step"])
        state["step"] += 1
        state["images_seen"] += len(idx)
        state["seconds"] = time.time() - t0
        if state["step"] % config.eval_every == 0:
            val, val_ema = _val_loss(model, sched, x_val, e_val, config.seed, v), ema_val()
            state["history"].append({"step": state["step"], "train_loss": float(loss.detach()), "val_mse": val,
                                     "val_mse_ema": val_ema, "seconds": round(state["seconds"], 1)})
            log(f"step {state['step']} loss {float(loss.detach()):.4f} val {val:.4f} ema {val_ema:.4f} "
                f"({state['seconds']:.0f}s)")
        if state["step"] % config.ckpt_every == 0:
            checkpoint(model, opt, state, out_dir, save)
    state["val_mse"] = _val_loss(model, sched, x_val, e_val, config.seed, _v_objective(config, state["step"] - 1))
    state["val_mse_ema"] = ema_val()
    state["params"] = n_params
    checkpoint(model, opt, state, out_dir, save)
    return state


def install_image_model(run_dir: Path, weights_dir: Path, data=None, encoder=None) -> Path:
    """The run as an ArsNovaImagePipeline directory (fp16 safetensors, DDIM for sampling), with
    ``write_image_library`` beside it when the training set (a PictureSet) is given."""
    import torch
    from diffusers import DDIMScheduler

    from models.common.checkpoint import load_safetensors
    from models.image.pipeline import ArsNovaImagePipeline

    state = json.loads((run_dir / "state.json").read_text())
    cfg = ImageTrainConfig(**{**state["config"]})
    model = _unet(cfg)
    ema = run_dir / "ema.safetensors"
    tensors, _ = load_safetensors(ema if ema.exists() else run_dir / "model.safetensors")
    model.load_state_dict(tensors)
    sched = DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=True,
                          prediction_type="v_prediction" if _v_objective(cfg, state["step"] - 1) else "epsilon")
    dest = weights_dir / "image"
    ArsNovaImagePipeline(model.to(torch.float16), sched).save_pretrained(dest, safe_serialization=True)
    if data is not None:
        write_image_library(dest, data, encoder)
    (dest / "training.json").write_text(json.dumps({
        "val_mse": state.get("val_mse"), "val_mse_ema": state.get("val_mse_ema"), "weights": "ema" if ema.exists()
        else "last", "train_step": state["step"], "images_seen": state["images_seen"],
        "train_seconds": round(state["seconds"]), "params": state.get("params"), "config": state["config"],
        "history": state["history"]}, indent=1))
    return dest


def write_image_library(dest: Path, data, encoder=None) -> None:
    """Beside an installed picture model: the training pictures' feature index and quality floors
    (the critics) and, given the sentence encoder, the exemplar library (the emoji, found by their
    short captions' subjects)."""
    from models.image.exemplars import FILE, Exemplars, exemplar_mask
    from models.image.metrics import FeatureIndex

    FeatureIndex.build(data.images).save(dest / "train-features.npz")
    if encoder is not None:
        keep = exemplar_mask(data.captions, data.emoji)
        Exemplars.build(data.images, data.short_captions, keep, encoder).save(dest / FILE)
