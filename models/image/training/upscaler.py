"""Train the learned ×4 upscaler (models/image/upscaler.py) on the clip art, and measure it.

Data: Debian's Open Clip Art PNGs (models/image/training/data.py), fitted into a white 256 px
square exactly as the image model's 64 px training pictures are (``fit_square``, Lanczos). The
emoji are left out: the package ships them at 64 px only, so there is no high-resolution target.
A seeded permutation of the picture list gives a fixed split *by picture*: the first ``held_out``
are never trained on. Inputs are the 256 px targets brought to 64 px with Lanczos (how the model's
training pictures were made); half of the training inputs get a light Gaussian blur and a little
noise, so the network also copes with the model's slightly soft outputs.

    .venv/bin/python -m models.image.training.upscaler [--pictures 2400] [--minutes 12] [--resume]

Writes models/weights/image/upscaler-x4.safetensors (fp16; the tool uses it only when copied to
upscaler.safetensors beside it, see models/image/upscaler.py) and prints PSNR (RGB) and SSIM (luma)
of the network, Lanczos and bicubic at ×4 on the held-out pictures. The 256 px pictures are
cached as ``clipart-sr-256.npz`` in the data dir; the run's float32 state in ``runs/upscaler``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from models.image.upscaler import TRAINED, UpscalerConfig, build, load_upscaler, save_upscaler


@dataclass(frozen=True)
class TrainConfig:
    pictures: int = 2400  # clip-art pictures rendered at 256 px
    held_out: int = 200  # of them, never trained on (fixed by ``seed``)
    size: int = 256
    patch: int = 24  # low-resolution patch side (96 px targets)
    batch: int = 32
    lr: float = 2e-3
    minutes: float = 12.0  # wall-clock limit of the training loop
    max_steps: int = 20_000
    degrade: float = 0.5  # share of inputs blurred and noised
    seed: int = 0


def render(n: int, size: int, seed: int, progress=None) -> np.ndarray:
    """(n, size, size, 3) uint8: ``n`` clip-art pictures in a seeded order, white-squared."""
    from models.common.errors import InputFileError
    from models.image.image_io import load_rgb
    from models.image.training.data import clipart_records, fit_square

    recs = clipart_records()
    order = np.random.default_rng(seed).permutation(len(recs))
    out = []
    for i in order:
        if len(out) == n:
            break
        try:
            out.append(np.asarray(fit_square(load_rgb(recs[i].png), size), dtype=np.uint8))
        except InputFileError:
            continue
        if progress and len(out) % 200 == 0:
            progress(len(out), n)
    return np.stack(out)


def downscale(hr: np.ndarray, factor: int) -> np.ndarray:
    from PIL import Image

    h, w = hr.shape[:2]
    return np.asarray(Image.fromarray(hr).resize((w // factor, h // factor), Image.Resampling.LANCZOS))


def ssim_luma(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) on BT.601 luma, 0..255."""
    import torch
    from torch.nn import functional as F

    def luma(x):
        x = torch.from_numpy(x.astype(np.float32))
        return (x @ torch.tensor([0.299, 0.587, 0.114]))[None, None]

    x, y = luma(a), luma(b)
    g = torch.exp(-((torch.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    g = (g / g.sum())
    win = (g[:, None] * g[None, :])[None, None]

    def blur(t):
        return F.conv2d(t, win)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (sxx + syy + c2))
    return float(s.mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))


def evaluate(hr: np.ndarray, upscaler, factor: int = 4) -> dict:
    """Mean PSNR/SSIM of learned, Lanczos and bicubic ×``factor`` against the ``hr`` pictures."""
    from PIL import Image

    rows = {"learned": [], "lanczos": [], "bicubic": []}
    secs = []
    for target in hr:
        lr = downscale(target, factor)
        size = (target.shape[1], target.shape[0])
        outs = {"lanczos": np.asarray(Image.fromarray(lr).resize(size, Image.Resampling.LANCZOS)),
                "bicubic": np.asarray(Image.fromarray(lr).resize(size, Image.Resampling.BICUBIC))}
        if upscaler is not None:
            t = time.perf_counter()
            outs["learned"] = upscaler(lr)
            secs.append(time.perf_counter() - t)
        for k, v in outs.items():
            rows[k].append((psnr(v, target), ssim_luma(v, target)))
    out = {k: {"psnr": round(float(np.mean([r[0] for r in v])), 2), "ssim": round(float(np.mean([r[1] for r in v])), 4),
               # how many held-out pictures this method beats Lanczos on (PSNR)
               "beats_lanczos": round(float(np.mean([a[0] > b[0] for a, b in zip(v, rows["lanczos"])])), 3)}
           for k, v in rows.items() if v}
    if secs:
        out["learned"]["median_ms_64_to_256"] = round(1000 * float(np.median(secs)), 1)
    return out


def _batch(hr: np.ndarray, cfg: TrainConfig, up: UpscalerConfig, rng: np.random.Generator):
    """(inputs (B, 3, p, p), targets (B, 3, 4p, 4p)) floats in [0, 1] from random patches."""
    import torch
    from PIL import Image, ImageFilter

    s, p = up.scale, cfg.patch
    xs, ys = [], []
    for _ in range(cfg.batch):
        im = hr[rng.integers(len(hr))]
        # patches are drawn where the picture is not blank: up to 4 tries for one with ink
        for _ in range(4):
            oy, ox = (rng.integers(0, (cfg.size // s - p) + 1, size=2) * s)
            t = im[oy:oy + p * s, ox:ox + p * s]
            if t.min() < 250:
                break
        if rng.random() < 0.5:
            t = t[:, ::-1]
        k = int(rng.integers(4))
        t = np.ascontiguousarray(np.rot90(t, k))
        lr_im = Image.fromarray(t).resize((p, p), Image.Resampling.LANCZOS)
        lr = np.asarray(lr_im, dtype=np.float32)
        if rng.random() < cfg.degrade:
            lr = np.asarray(lr_im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.2, 0.7)))), dtype=np.float32)
            lr = lr + rng.normal(0, rng.uniform(0, 3.0), lr.shape).astype(np.float32)
        xs.append(np.clip(lr, 0, 255) / 255.0)
        ys.append(t.astype(np.float32) / 255.0)
    to = lambda a: torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    return to(xs), to(ys)


def train(hr: np.ndarray, cfg: TrainConfig, up: UpscalerConfig, run_dir: Path, resume: bool, log=print):
    import torch

    torch.manual_seed(cfg.seed)
    net = build(up)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    step = 0
    state_path = run_dir / "state.pt"
    if resume and state_path.exists():
        st = torch.load(state_path, weights_only=True)
        net.load_state_dict(st["net"])
        opt.load_state_dict(st["opt"])
        step = int(st["step"])
        log(f"resumed at step {step}")
    rng = np.random.default_rng(cfg.seed + step)  # a resumed run draws fresh patches
    t0, losses = time.perf_counter(), []
    limit = cfg.minutes * 60
    while step < cfg.max_steps and time.perf_counter() - t0 < limit:
        frac = (time.perf_counter() - t0) / limit  # cosine decay over the time budget
        for g in opt.param_groups:
            g["lr"] = float(cfg.lr * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0))))
        x, y = _batch(hr, cfg, up, rng)
        loss = torch.nn.functional.l1_loss(net(x), y)  # L1: sharper edges than L2 (EDSR)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 200 == 0:
            log(f"step {step} L1 {np.mean(losses[-200:]):.4f} {time.perf_counter() - t0:.0f}s")
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "step": step}, state_path)
    return net, step, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.image.training.upscaler", description=__doc__.splitlines()[0])
    ap.add_argument("--pictures", type=int, default=TrainConfig.pictures)
    ap.add_argument("--minutes", type=float, default=TrainConfig.minutes)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("ARSNOVA_THREADS", "1")))
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("ARSNOVA_HOME", Path.home() / ".local/share/arsnova")))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "weights" / "image" / TRAINED,
                    help="where to write (default: beside the model, switched off; copy to upscaler.safetensors to use)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--lr", type=float, default=TrainConfig.lr)
    ap.add_argument("--degrade", type=float, default=TrainConfig.degrade, help="share of blurred/noised inputs")
    ap.add_argument("--eval-only", action="store_true", help="measure the weights at --out, do not train")
    ap.add_argument("--fp32", action="store_true", help="store float32 weights (default float16)")
    ap.add_argument("--json", type=Path, help="also write the held-out scores here (bench/image_upscaler.json)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    cfg = TrainConfig(pictures=args.pictures, minutes=args.minutes, lr=args.lr, degrade=args.degrade)
    up = UpscalerConfig()
    cache = args.data_dir / f"clipart-sr-{cfg.size}-{cfg.pictures}-s{cfg.seed}.npz"
    if cache.exists():
        with np.load(cache) as z:
            hr = z["images"]
    else:
        t = time.perf_counter()
        hr = render(cfg.pictures, cfg.size, cfg.seed, progress=lambda i, n: print(f"  rendered {i}/{n}", flush=True))
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, images=hr)
        print(f"rendered {len(hr)} pictures at {cfg.size}px in {time.perf_counter() - t:.0f}s -> {cache}")
    test, train_set = hr[:cfg.held_out], hr[cfg.held_out:]
    if not args.eval_only:
        net, step, secs = train(train_set, cfg, up, args.data_dir / "runs" / "upscaler", args.resume)
        save_upscaler(args.out, net, up, {"train_step": step, "train_seconds": round(secs),
                                          "train_pictures": len(train_set), "train_config": json.dumps(asdict(cfg))},
                      half=not args.fp32)
        print(f"trained {step} steps in {secs:.0f}s on {len(train_set)} pictures -> {args.out} "
              f"({args.out.stat().st_size // 1024} kB)")
    t = time.perf_counter()
    scores = evaluate(test, load_upscaler(args.out))
    report = {"held_out": len(test), "factor": up.scale, "threads": args.threads, "weights": str(args.out.name),
              "weights_kB": args.out.stat().st_size // 1024, **scores}
    print(json.dumps(report, indent=1))
    print(f"evaluated in {time.perf_counter() - t:.0f}s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
