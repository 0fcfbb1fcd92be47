"""Guided enlargement against the learned upscaler alone, at the delivered size (issue #21).

Each prompt is drawn by the picture tool as a person would call it (``--set dev``: round 0 only,
seeds 0-3; ``--set eval``: the 30 prompts of ``bench/image_eval.py``, seed 0, revision on, so the
kept picture), and the inputs of its delivery are caught (the 64 px redraw, its start, the start
at the delivered size). Three pictures at 256 px are compared:

- ``emoji``: the start at the delivered size (the 128 px exemplar enlarged by Lanczos, or the scene
  canvas drawn at 256 px): what the drawing started from, at the size a person sees;
- ``upscaler``: the learned x4 upscaler alone (the delivery before guidance);
- ``guided``: ``models.image.guided.guided_enlarge`` with the config asked (default: the shipped one).

Measured inside the subject (the start's non-page pixels; a scene's subject mask), at 256 px:
edge sharpness (mean luminance gradient of the steepest 2% of pixels) and fine detail (mean
absolute band-pass, Gaussian sigma 0.7 minus sigma 2.5, of the luminance), both as ratios to the
emoji's — both count blotches and seams as "detail", so two more: spurious detail (the band-pass
where the emoji is flat) and detail in place (the band-pass's correlation with the emoji's); then, read back at 64 px as ``bench/image_eval.py`` reads a PNG: speckle and edges against
the start (the degradation critic), the distance to the start and to the nearest training picture
in the novelty critic's features (the model's own 64 px redraw is the reference: unchanged means
guidance did not take the picture back toward its start), and the subject critic's verdict. And
the seconds each enlargement takes. ``--grid`` also scores a grid of configs on the captured
drawings (choose on dev, report on eval). Sheets: emoji | upscaler | guided per prompt, seed 0.

    /tmp/brief/heavy .venv/bin/python bench/image_guided.py --set dev [--grid]
    /tmp/brief/heavy .venv/bin/python bench/image_guided.py --set eval

-> ``bench/image_guided_dev.json`` / ``bench/image_guided_eval30.json`` and the sheets
``bench/image-guided-{dev,eval}-N.png``. The tool-level figures with guidance on (subject found,
misses, degraded, seconds) are ``bench/image_eval.py --threads 1 --out bench/image_guided_eval``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEV = ["an apple", "a rocket", "a tiger", "a strawberry", "a bicycle", "a turtle", "an octopus", "a trumpet",
       "a mushroom", "a crown", "a green fish", "a pink bird"]  # bench/image_degrade.py's dev set
DEV_SCENES = ["a cat on a hill at sunset", "a car in the snow", "a bird in the forest at night",
              "two horses on a beach", "a boat on the sea in a storm", "a bus in the city at dawn"]
METHODS = ("emoji", "upscaler", "guided")


def _lum(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.float32)[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)


def edge_sharpness(rgb: np.ndarray, mask: np.ndarray) -> float:
    """Mean luminance gradient of the steepest 2% of pixels inside ``mask``."""
    y = _lum(rgb)
    g = np.hypot(np.diff(y, axis=1)[:-1], np.diff(y, axis=0)[:, :-1])[mask[:-1, :-1]]
    if not len(g):
        return 0.0
    return float(np.mean(np.sort(g)[-max(1, len(g) // 50):]))


def fine_detail(rgb: np.ndarray, mask: np.ndarray) -> float:
    """Mean |band-pass| of the luminance inside ``mask`` (detail finer than ~5 px at 256 px)."""
    from scipy.ndimage import gaussian_filter

    y = _lum(rgb)
    return float(np.abs(gaussian_filter(y, 0.7) - gaussian_filter(y, 2.5))[mask].mean()) if mask.any() else 0.0


def band_pass(rgb: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    y = _lum(rgb)
    return gaussian_filter(y, 0.7) - gaussian_filter(y, 2.5)


def detail_split(rgb: np.ndarray, emoji: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(spurious, in place): the mean |band-pass| inside ``mask`` where the emoji itself is flat there
    (|band-pass| < 2 levels: blotches, speckle and seams the emoji does not have; lower is better),
    and the correlation of the band-pass with the emoji's inside ``mask`` (its fine detail present
    where the emoji has it; 1 = the emoji's, 0 = none of it)."""
    a, e = band_pass(rgb)[mask], band_pass(emoji)[mask]
    flat = np.abs(e) < 2.0
    spurious = float(np.abs(a[flat]).mean()) if flat.any() else 0.0
    c = np.corrcoef(a, e)[0, 1] if a.std() > 0 and e.std() > 0 else 0.0
    return spurious, float(c)


def subject_region(start_big: np.ndarray, scene_mask: np.ndarray | None, size: int) -> np.ndarray:
    """bool (size, size): a scene's subject mask enlarged, or the start's non-page pixels, dilated."""
    from PIL import Image
    from scipy.ndimage import binary_dilation

    if scene_mask is not None:
        m = np.asarray(Image.fromarray(scene_mask.astype(np.uint8) * 255).resize((size, size), Image.Resampling.NEAREST)) > 0
    else:
        big = np.asarray(Image.fromarray(start_big).resize((size, size), Image.Resampling.LANCZOS))
        m = big.min(axis=-1) < 0.93 * 255
    return binary_dilation(m, iterations=2)


def draw_all(prompts, seeds, revise: bool, threads: int):
    """Each (prompt, seed) through the tool; -> list of dicts with the caught delivery inputs."""
    from PIL import Image

    import models.image.guided as guided_mod
    from models.image.image_io import png_params
    from tools import registry
    from tools.base import ToolContext, TurnSettings
    from tools.generate_image import start_picture
    from tools.host import make_host
    from tools.revise import ReviseConfig

    host = make_host(None)
    kit = host.get("image")
    if getattr(kit.exemplars, "hires", None) is None:
        raise SystemExit("no hi-res exemplars beside the model: python -m models.image.training.hires")
    real, caught = guided_mod.guided_enlarge, []

    def catch(redraw, start, start_big, size, upscaler, cfg=guided_mod.GuidedConfig()):
        out = real(redraw, start, start_big, size, upscaler, cfg)
        caught.append((redraw, start, start_big, size, out.pixels))
        return out

    guided_mod.guided_enlarge = catch
    out = []
    try:
        for group, p in prompts:
            for sd in seeds:
                caught.clear()
                settings = TurnSettings(threads=threads, **({} if revise else {"revise": ReviseConfig(max_rounds=0)}))
                ctx = ToolContext("guided", ROOT / "data" / "image-guided", len(out), emit=lambda e: None,
                                  should_stop=lambda: False, host=host, settings=settings)
                t = time.perf_counter()
                art = registry.invoke("generate_image", {"prompt": p, "seed": sd}, ctx)
                secs = time.perf_counter() - t
                png = ROOT / "data" / "image-guided" / art.files["image"]
                params = png_params(png)
                with Image.open(png) as im:
                    shown = np.asarray(im.convert("RGB"))
                # every candidate is enlarged once (the critic reads it back); the kept one is the PNG
                redraw, start, start_big, size, _ = next(c for c in caught if np.array_equal(c[4], shown))
                _, mask = start_picture(kit, params, with_mask=True)
                out.append({"group": group, "prompt": p, "seed": sd, "redraw": redraw, "start": start,
                            "start_big": start_big, "size": size, "mask": mask, "seconds": secs,
                            "lacking": tuple(art.scores.metrics.get("lacking") or ()), "upscale": params.get("upscale")})
                print(f"{p:34s} seed {sd} {secs:5.1f}s kept {params.get('guided_kept')}", flush=True)
    finally:
        guided_mod.guided_enlarge = real
    return kit, out


def score(kit, d: dict, cfg) -> dict:
    """The three pictures of one drawing, measured (see the module docstring)."""
    from PIL import Image

    from models.image.guided import guided_enlarge, read_back
    from models.image.metrics import degradation, features
    from models.image.upscaler import enlarge
    from tools.critics.image import adherence_report

    size = d["size"]
    if d["start_big"] is None:  # an exemplar the font draws differently: no guidance, the tool's upscaler alone
        d = {**d, "start_big": enlarge(d["start"], size, kit.upscaler)[0], "no_hires": True}
    t = time.perf_counter()
    up, _ = enlarge(d["redraw"], size, kit.upscaler)
    t_up = time.perf_counter() - t
    t = time.perf_counter()
    g = (guided_enlarge(d["redraw"], None, None, size, kit.upscaler, cfg) if d.get("no_hires") else
         guided_enlarge(d["redraw"], d["start"], d["start_big"], size, kit.upscaler, cfg))
    t_g = time.perf_counter() - t
    emoji = np.asarray(Image.fromarray(d["start_big"]).resize(size, Image.Resampling.LANCZOS))
    pics = {"emoji": emoji, "upscaler": up, "guided": g.pixels}
    region = subject_region(d["start_big"], d["mask"], size[0])
    native = d["redraw"].shape[1::-1]
    f_start, f_redraw = features(d["start"]), features(d["redraw"])
    row = {"kept": round(g.kept, 3), "hires": not d.get("no_hires"), "seconds_upscaler": t_up, "seconds_guided": t_g, "pics": pics,
           "novelty_redraw64": kit.index.nearest(f_redraw)[0],
           "dist_start_redraw64": float(np.linalg.norm(f_redraw - f_start))}
    e0, h0 = edge_sharpness(emoji, region), fine_detail(emoji, region)
    for m, pic in pics.items():
        back = read_back(pic, native)
        deg = degradation(back, d["start"])
        fb = features(back)
        spurious, in_place = detail_split(pic, emoji, region)
        row[m] = {"edge256": edge_sharpness(pic, region) / max(e0, 1e-6), "detail256": fine_detail(pic, region) / max(h0, 1e-6),
                  "spurious256": spurious, "detail_in_place": in_place,
                  "speckle64": deg.speckle_ratio, "edges64": deg.edge_ratio,
                  "dist_start64": float(np.linalg.norm(fb - f_start)), "novelty64": kit.index.nearest(fb)[0]}
        if kit.judge is not None and m != "emoji":
            rep = adherence_report(back, d["prompt"], kit.judge, d["mask"], kit.exemplars.vectors, d["lacking"])
            row[m]["subject_found"] = bool(rep.subject_found)
    return row


def summarise(rows: list[dict]) -> dict:
    def med(xs):
        xs = [float(x) for x in xs if x is not None]
        return round(statistics.median(xs), 3) if xs else None

    out = {}
    for group in sorted({r["group"] for r in rows}):
        rs = [r for r in rows if r["group"] == group]
        out[group] = {"n": len(rs), "kept": med(r["kept"] for r in rs),
                      "dist_start_redraw64": med(r["dist_start_redraw64"] for r in rs),
                      "novelty_redraw64": med(r["novelty_redraw64"] for r in rs),
                      "seconds_upscaler": med(r["seconds_upscaler"] for r in rs),
                      "seconds_guided": med(r["seconds_guided"] for r in rs),
                      "tool_seconds": med(r["seconds"] for r in rs)}
        for m in METHODS:
            keys = ("edge256", "detail256", "spurious256", "detail_in_place", "speckle64", "edges64", "dist_start64",
                    "novelty64")
            out[group][m] = {k: med(r[m][k] for r in rs) for k in keys}
            if m != "emoji":
                found = [r[m]["subject_found"] for r in rs if "subject_found" in r[m]]
                out[group][m]["subject_found"] = round(float(np.mean(found)), 3) if found else None
    return out


def sheets(rows: list[dict], stem: str, per_sheet: int = 6) -> list[str]:
    """emoji | upscaler | guided at 256 px, two drawings a row, ``per_sheet`` drawings a sheet."""
    from PIL import Image, ImageDraw

    cell, label = 256, 16
    files = []
    for s0 in range(0, len(rows), per_sheet):
        chunk = rows[s0:s0 + per_sheet]
        nrow = (len(chunk) + 1) // 2
        sheet = Image.new("RGB", (6 * cell + 8, nrow * (cell + label)), "white")
        d = ImageDraw.Draw(sheet)
        for k, r in enumerate(chunk):
            y, x = (k // 2) * (cell + label), (k % 2) * (3 * cell + 8)
            d.text((x + 2, y + 2), f"{r['prompt']} (seed {r['seed']}): emoji | upscaler | guided ({r['kept']:.0%} kept)",
                   fill="black")
            for j, m in enumerate(METHODS):
                sheet.paste(Image.fromarray(r["pics"][m]).resize((cell, cell)), (x + j * cell, y + label))
        name = f"{stem}-{s0 // per_sheet + 1}.png"
        sheet.save(ROOT / name, optimize=True)
        files.append(name)
    return files


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=("dev", "eval"), default="dev")
    ap.add_argument("--seeds", type=int, nargs="*", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--grid", action="store_true", help="also score a grid of configs (dev)")
    args = ap.parse_args()

    import torch

    from models.image.guided import GuidedConfig

    torch.set_num_threads(args.threads)
    if args.set == "dev":
        prompts = [("library", p) for p in DEV] + [("scene", p) for p in DEV_SCENES]
        seeds, revise = args.seeds if args.seeds is not None else [0, 1, 2, 3], False
    else:
        from bench.image_eval import PROMPTS as prompts

        seeds, revise = args.seeds if args.seeds is not None else [0], True
    kit, drawn = draw_all(prompts, seeds, revise, args.threads)
    rows = []
    for d in drawn:
        r = score(kit, d, GuidedConfig())
        r.update({k: d[k] for k in ("group", "prompt", "seed", "seconds")})
        rows.append(r)
    result = {"set": args.set, "seeds": seeds, "config": GuidedConfig().__dict__, "summary": summarise(rows)}
    if args.grid:
        grid = []
        for near, far in ((12, 32), (20, 48), (32, 72)):
            for feather, erode in ((0.75, 0), (1.5, 0), (0.75, 1), (1.5, 1)):
                cfg = GuidedConfig(near, far, feather, erode)
                sub = [dict(score(kit, d, cfg), group=d["group"], prompt=d["prompt"], seed=d["seed"], seconds=d["seconds"])
                       for d in drawn]
                s = summarise(sub)
                grid.append({"config": cfg.__dict__, **{g: {"kept": v["kept"], **v["guided"]} for g, v in s.items()}})
                print(json.dumps(grid[-1]), flush=True)
        result["grid"] = grid
    stem = f"bench/image-guided-{args.set}"
    result["sheets"] = sheets([r for r in rows if r["seed"] == seeds[0]], stem)
    result["rows"] = [{k: v for k, v in r.items() if k != "pics"} for r in rows]
    # not bench/image_guided_eval.json: that name is the tool-level run (bench/image_eval.py --out bench/image_guided_eval)
    name = "bench/image_guided_dev.json" if args.set == "dev" else "bench/image_guided_eval30.json"
    (ROOT / name).write_text(json.dumps(result, indent=1, default=float))
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
