"""Lanczos against the learned ×4 upscaler on the eval pictures, side by side (issue #21).

The held-out PSNR/SSIM live in ``bench/image_upscaler.json`` (written by
``python -m models.image.training.upscaler --json``). This takes the 30 pictures of a
``bench/image_eval.py`` run delivered with Lanczos (its lossless 64 px grid; with the network on,
the 30 prompts keep the same drawings: the image card) and

- re-measures them with image_eval's own critics as the tool would deliver them, enlarged to
  256 px by Lanczos (before) and by the learned network (after), each read back at 64 px as
  image_eval reads a delivered PNG (box filter): ``bench/image_upscaler_eval.json``;
- measures the delivered 256 px pictures themselves: edge steepness (``acutance``) of learned
  against Lanczos, picture by picture, and the enlargement's time;
- draws what a person sees: picture by picture, Lanczos | learned | both cropped at 2x:
  ``bench/image-upscaler-sheet.png``.

    .venv/bin/python bench/image_upscaler.py --run bench/image_eval_lanczos.json [--n 6]

(``bench/image_eval_lanczos.*``: ``bench/image_eval.py --out`` run before the network was shipped.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent


def acutance(pixels) -> float:
    """Mean gradient magnitude (luma, 0..255 per pixel) over the steepest 2% of pixels: higher is a
    crisper edge; a blurred enlargement spreads the same step over more pixels."""
    import numpy as np

    y = np.asarray(pixels, dtype=np.float64) @ np.array([0.299, 0.587, 0.114])
    g = np.hypot(np.diff(y, axis=0)[:, :-1], np.diff(y, axis=1)[:-1, :])
    return float(np.mean(np.sort(g.ravel())[-max(1, g.size // 50):]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=str(ROOT / "bench" / "image_eval_lanczos.json"))
    ap.add_argument("--weights", default=str(ROOT / "models" / "weights" / "image" / "upscaler.safetensors"))
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--out", default=str(ROOT / "bench" / "image-upscaler-sheet.png"))
    args = ap.parse_args()

    import numpy as np
    import torch
    from PIL import Image, ImageDraw

    import json

    from bench.image_eval import PROMPTS, measure, summarise, ungrid
    from models.common.encoder import load_encoder
    from models.image.critic import load_judge
    from models.image.upscaler import enlarge, load_upscaler, read_back

    torch.set_num_threads(1)
    up = load_upscaler(Path(args.weights))
    if up is None:
        sys.exit(f"no upscaler at {args.weights}: python -m models.image.training.upscaler")
    saved = json.loads(Path(args.run).read_text())
    n, size = len(saved["prompts"]), saved["native"]
    pics = ungrid(ROOT / saved["pictures"], size, n)
    starts = ungrid(ROOT / saved["starts"], size, n) if saved.get("starts") else None
    judge = load_judge(ROOT / "models" / "weights" / "image" / "subject-critic.safetensors", load_encoder())

    def delivered_and_read_back(p, upscaler):
        return read_back(p, (4 * size, 4 * size), upscaler)

    report = {"run": Path(args.run).name, "upscaler": Path(args.weights).name}
    for name, u in (("lanczos", None), ("learned", up)):
        rows = []
        for i, r in enumerate(saved["prompts"]):
            st = starts[i] if starts is not None and r.get("speckle_ratio") is not None else None
            rows.append({"group": r["group"], "prompt": r["prompt"], "seconds": r["seconds"],
                         **measure(r["prompt"], delivered_and_read_back(pics[i], u), st, r["reported_miss"], judge)})
        report[name] = summarise(rows)
        print(name, json.dumps(report[name]))
    # at the delivered size itself: how steep the edges are (mean gradient over the steepest 2% of
    # pixels, luma) and what the enlargement costs, learned against Lanczos picture by picture
    import time

    ratios, ms = [], []
    for p in pics:
        lan, _ = enlarge(p, (4 * size, 4 * size), None)
        t = time.perf_counter()
        net, _ = enlarge(p, (4 * size, 4 * size), up)
        ms.append(1000 * (time.perf_counter() - t))
        ratios.append(acutance(net) / acutance(lan))
    report["delivered"] = {"size": 4 * size, "acutance_ratio_median": round(float(np.median(ratios)), 3),
                           "sharper_share": round(float(np.mean([r > 1 for r in ratios])), 3),
                           "learned_ms_median": round(float(np.median(ms)), 1)}
    print("delivered", json.dumps(report["delivered"]))
    (ROOT / "bench" / "image_upscaler_eval.json").write_text(json.dumps(report, indent=1) + "\n")
    picks = np.linspace(0, len(pics) - 1, args.n).round().astype(int)
    cell, label = 256, 16
    sheet = Image.new("RGB", (4 * cell + 24, len(picks) * (cell + label) + 8), "white")
    d = ImageDraw.Draw(sheet)
    for row, i in enumerate(picks):
        lan, _ = enlarge(pics[i], (256, 256), None)
        net, _ = enlarge(pics[i], (256, 256), up)
        y = 4 + row * (cell + label)
        d.text((4, y), f"{PROMPTS[i][1]}: Lanczos | learned | Lanczos crop x2 | learned crop x2", fill="black")
        crop = (64, 64, 192, 192)
        for col, im in enumerate((lan, net, Image.fromarray(lan).crop(crop).resize((cell, cell), Image.Resampling.NEAREST),
                                  Image.fromarray(net).crop(crop).resize((cell, cell), Image.Resampling.NEAREST))):
            sheet.paste(im if isinstance(im, Image.Image) else Image.fromarray(im), (4 + col * (cell + 4), y + label))
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
