"""Train the learned ×4 upscaler (models/image/upscaler.py) on the clip art, and measure it.

Data: Debian's Open Clip Art PNGs (models/image/training/data.py), fitted into a white 256 px
square exactly as the image model's 64 px training pictures are (``fit_square``, Lanczos). The
emoji are left out: the package ships them at 64 px only, so there is no high-resolution target.
A seeded permutation of the picture list gives a fixed split *by picture*: the first ``held_out``
are never trained on (reported once), the next ``val`` neither (what choices were made on).

Inputs are whole pictures shrunk ×4 once, half by Lanczos (how the model's training pictures were
made), half by box averaging; half of the input patches also get a light Gaussian blur and a little
noise, as the drawing model leaves its pictures. Loss: L1 plus L1 on pixel differences (edges).
The first version (a plain 4-layer ESPCN, 24 px patches each shrunk on its own, L1 only, 10 CPU
minutes) stayed level with Lanczos; what changed since is listed in the image card (not ablated
one factor at a time).

    ARSNOVA_THREADS=1 .venv/bin/python -m models.image.training.upscaler --minutes 33 \
        --json bench/image_upscaler.json [--resume] [--eval-only] [--dev]

Writes models/weights/image/upscaler.safetensors (fp16: the file the picture tool loads) and
prints PSNR (RGB) and SSIM (luma) of the network, Lanczos and bicubic at ×4 on the held-out
pictures, for clean (Lanczos-shrunk) and model-like (box-shrunk, blurred, noised) inputs, with the
share of pictures each beats Lanczos on. The 256 px pictures are cached as
``clipart-sr-256-2400-s0.npz`` in the data dir; the run's float32 state (saved every 500 steps)
in ``runs/upscaler``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from models.image.upscaler import FILE, UpscalerConfig, build, load_upscaler, save_upscaler


@dataclass(frozen=True)
class TrainConfig:
    pictures: int = 2400  # clip-art pictures rendered at 256 px
    held_out: int = 200  # of them, never trained on (fixed by ``seed``)
    size: int = 256
    val: int = 100  # after the held-out ones, also never trained on: what choices were made on
    patch: int = 32  # low-resolution patch side (128 px targets)
    batch: int = 16
    lr: float = 1e-3
    minutes: float = 12.0  # wall-clock limit of the training loop
    max_steps: int = 100_000
    degrade: float = 0.5  # share of inputs blurred and noised
    area: float = 0.5  # share of inputs shrunk by box averaging (the rest: Lanczos)
    edge: float = 0.5  # weight of the L1 loss on pixel differences
    checkpoint: int = 500  # steps between saves of the run's state
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


def lowres(hr: np.ndarray, factor: int, how: str) -> np.ndarray:
    """``hr`` (h, w, 3 uint8) brought down ×``factor``: "lanczos" (how the model's 64 px training
    pictures were made) or "area" (a box average: what a drawing that kept only the mean colour of
    each 4×4 block looks like)."""
    from PIL import Image

    h, w = hr.shape[:2]
    kind = Image.Resampling.LANCZOS if how == "lanczos" else Image.Resampling.BOX
    return np.asarray(Image.fromarray(hr).resize((w // factor, h // factor), kind))


def _blur(x, sigma: float):
    """(B, 3, h, w) float tensor blurred by a 5x5 Gaussian of ``sigma`` (replicate border)."""
    import torch
    from torch.nn import functional as F

    g = torch.exp(-((torch.arange(5) - 2.0) ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    k = (g[:, None] * g[None, :]).expand(3, 1, 5, 5).contiguous()
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), k, groups=3)


def model_like(lr: np.ndarray, seed: int) -> np.ndarray:
    """``lr`` as the drawing model tends to leave it (the held-out "model-like" input): a light blur
    (sigma 0.5) and a little noise (sd 2 of 255), seeded, back to uint8."""
    import torch

    x = torch.from_numpy(lr.astype(np.float32)).permute(2, 0, 1)[None]
    x = _blur(x, 0.5)[0].permute(1, 2, 0).numpy()
    x = x + np.random.default_rng(seed).normal(0, 2.0, x.shape)
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def evaluate(hr: np.ndarray, upscaler, factor: int = 4, protocol: str = "clean") -> dict:
    """Mean PSNR/SSIM of learned, Lanczos and bicubic ×``factor`` against the ``hr`` pictures, and
    on how many pictures each beats Lanczos. ``protocol``: "clean" (Lanczos-downscaled inputs, as
    the model's training pictures were made) or "model-like" (area-downscaled, blurred, noised)."""
    from PIL import Image

    rows = {"learned": [], "lanczos": [], "bicubic": []}
    secs = []
    for i, target in enumerate(hr):
        lr = lowres(target, factor, "lanczos") if protocol == "clean" else model_like(lowres(target, factor, "area"), i)
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
               "psnr_median_gain": round(float(np.median([a[0] - b[0] for a, b in zip(v, rows["lanczos"])])), 2),
               # on how many held-out pictures this method beats Lanczos (PSNR; SSIM)
               "beats_lanczos": round(float(np.mean([a[0] > b[0] for a, b in zip(v, rows["lanczos"])])), 3),
               "beats_lanczos_ssim": round(float(np.mean([a[1] > b[1] for a, b in zip(v, rows["lanczos"])])), 3)}
           for k, v in rows.items() if v}
    if secs:
        out["learned"]["median_ms_64_to_256"] = round(1000 * float(np.median(secs)), 1)
    return out


def _batch(hr: np.ndarray, lows: dict, cfg: TrainConfig, up: UpscalerConfig, rng: np.random.Generator):
    """(inputs (B, 3, p, p), targets (B, 3, 4p, 4p)) floats in [0, 1] from random patches of the
    pre-shrunk pictures ``lows`` (per kind, whole pictures shrunk once: the same pixels the
    held-out evaluation feeds the network, not a separately shrunk patch)."""
    import torch

    s, p = up.scale, cfg.patch
    n_lr = cfg.size // s
    xs, ys = [], []
    for _ in range(cfg.batch):
        i = int(rng.integers(len(hr)))
        # patches are drawn where the picture is not blank: up to 4 tries for one with ink
        for _ in range(4):
            oy, ox = rng.integers(0, n_lr - p + 1, size=2)
            t = hr[i, oy * s:(oy + p) * s, ox * s:(ox + p) * s]
            if t.min() < 250:
                break
        lo = lows["area" if rng.random() < cfg.area else "lanczos"][i, oy:oy + p, ox:ox + p]
        k, flip = int(rng.integers(4)), rng.random() < 0.5
        aug = (lambda a: np.rot90(a[:, ::-1] if flip else a, k))  # noqa: E731
        xs.append(np.ascontiguousarray(aug(lo)))
        ys.append(np.ascontiguousarray(aug(t)))
    to = lambda a: torch.from_numpy(np.stack(a).astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    x, y = to(xs), to(ys)
    # the drawing model's pictures are a little soft and speckled: blur and noise a share of inputs
    for b in range(len(x)):
        if rng.random() < cfg.degrade:
            x[b:b + 1] = _blur(x[b:b + 1], float(rng.uniform(0.3, 0.8)))
            x[b] += torch.from_numpy(rng.normal(0, rng.uniform(0, 4.0) / 255.0, x[b].shape).astype(np.float32))
    return x.clamp(0, 1), y


def _edges(x):
    """Horizontal and vertical differences of (B, 3, h, w): what the edge term of the loss compares."""
    return x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1]


def train(hr: np.ndarray, cfg: TrainConfig, up: UpscalerConfig, run_dir: Path, resume: bool, val=None, log=print):
    """Train for ``cfg.minutes`` of wall clock (cosine lr decay over that budget), checkpointing to
    ``run_dir/state.pt`` every ``cfg.checkpoint`` steps; ``resume`` continues the clock and the
    schedule where the checkpoint left them. ``val``: pictures to report the PSNR gain on."""
    import torch
    from torch.nn import functional as F

    torch.manual_seed(cfg.seed)
    net = build(up)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    step, spent = 0, 0.0
    state_path = run_dir / "state.pt"
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume and state_path.exists():
        st = torch.load(state_path, weights_only=True)
        net.load_state_dict(st["net"])
        opt.load_state_dict(st["opt"])
        step, spent = int(st["step"]), float(st.get("seconds", 0.0))
        log(f"resumed at step {step} ({spent:.0f}s spent)")
    lows = {k: np.stack([lowres(im, up.scale, k) for im in hr]) for k in ("lanczos", "area")}
    rng = np.random.default_rng(cfg.seed + step)  # a resumed run draws fresh patches
    t0, losses = time.perf_counter() - spent, []
    limit = cfg.minutes * 60

    def save():
        torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "step": step,
                    "seconds": time.perf_counter() - t0}, state_path)

    while step < cfg.max_steps and time.perf_counter() - t0 < limit:
        frac = (time.perf_counter() - t0) / limit  # cosine decay over the time budget
        for g in opt.param_groups:
            g["lr"] = float(cfg.lr * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0))))
        x, y = _batch(hr, lows, cfg, up, rng)
        out = net(x)
        # L1 (sharper than L2, EDSR) plus L1 on the pixel differences: clip art is flat fills whose
        # whole difficulty is the edges
        loss = F.l1_loss(out, y) + cfg.edge * sum(F.l1_loss(a, b) for a, b in zip(_edges(out), _edges(y)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 200 == 0:
            log(f"step {step} loss {np.mean(losses[-200:]):.4f} {time.perf_counter() - t0:.0f}s", flush=True)
        if step % cfg.checkpoint == 0:
            save()
            if val is not None:
                net.eval()
                from models.image.upscaler import Upscaler
                r = evaluate(val, Upscaler(net, up, "", ""))
                log(f"  val: learned {r['learned']['psnr']} dB / {r['learned']['ssim']}, lanczos "
                    f"{r['lanczos']['psnr']} / {r['lanczos']['ssim']}, beats {r['learned']['beats_lanczos']}", flush=True)
                net.train()
    save()
    return net, step, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.image.training.upscaler", description=__doc__.splitlines()[0])
    ap.add_argument("--pictures", type=int, default=TrainConfig.pictures)
    ap.add_argument("--minutes", type=float, default=TrainConfig.minutes)
    ap.add_argument("--steps", type=int, default=TrainConfig.max_steps, help="at most this many optimizer steps")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("ARSNOVA_THREADS", "1")))
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("ARSNOVA_HOME", Path.home() / ".local/share/arsnova")))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "weights" / "image" / FILE,
                    help="where to write (default: the file the picture tool loads)")
    ap.add_argument("--run", default="upscaler", help="name of the run's checkpoint folder under DATA_DIR/runs")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--lr", type=float, default=TrainConfig.lr)
    ap.add_argument("--degrade", type=float, default=TrainConfig.degrade, help="share of blurred/noised inputs")
    ap.add_argument("--area", type=float, default=TrainConfig.area, help="share of box-shrunk inputs")
    ap.add_argument("--edge", type=float, default=TrainConfig.edge, help="weight of the edge (difference) loss")
    ap.add_argument("--channels", type=int, default=UpscalerConfig.channels)
    ap.add_argument("--blocks", type=int, default=UpscalerConfig.blocks, help="residual blocks (0: plain ESPCN of --layers)")
    ap.add_argument("--layers", type=int, default=UpscalerConfig.layers)
    ap.add_argument("--eval-only", action="store_true", help="measure the weights at --out, do not train")
    ap.add_argument("--dev", action="store_true", help="measure on the validation pictures, not the held-out ones")
    ap.add_argument("--fp32", action="store_true", help="store float32 weights (default float16)")
    ap.add_argument("--json", type=Path, help="also write the held-out scores here (bench/image_upscaler.json)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    cfg = TrainConfig(pictures=args.pictures, minutes=args.minutes, max_steps=args.steps, lr=args.lr, degrade=args.degrade,
                      area=args.area, edge=args.edge)
    up = UpscalerConfig(channels=args.channels, layers=args.layers, blocks=args.blocks)
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
    # a fixed split by picture: held out (reported once), validation (choices), training
    test, val = hr[:cfg.held_out], hr[cfg.held_out:cfg.held_out + cfg.val]
    train_set = hr[cfg.held_out + cfg.val:]
    if not args.eval_only:
        net, step, secs = train(train_set, cfg, up, args.data_dir / "runs" / args.run, args.resume, val=val[:50])
        save_upscaler(args.out, net, up, {"train_step": step, "train_seconds": round(secs),
                                          "train_pictures": len(train_set), "train_config": json.dumps(asdict(cfg))},
                      half=not args.fp32)
        print(f"trained {step} steps in {secs:.0f}s on {len(train_set)} pictures -> {args.out} "
              f"({args.out.stat().st_size // 1024} kB)")
    t = time.perf_counter()
    pics = val if args.dev else test
    model = load_upscaler(args.out)
    report = {"pictures": "validation" if args.dev else "held_out", "n": len(pics), "factor": up.scale,
              "threads": args.threads, "weights": str(args.out.name), "weights_kB": args.out.stat().st_size // 1024,
              "config": asdict(model.cfg) if model else None,
              **{proto: evaluate(pics, model, protocol=proto) for proto in ("clean", "model-like")}}
    print(json.dumps(report, indent=1))
    print(f"evaluated in {time.perf_counter() - t:.0f}s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
