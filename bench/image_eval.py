"""The embedded image model on ten prompts of its training domain: a labelled contact sheet, the
palette check, novelty against the training images, and seconds per picture.

For each prompt: the exemplar seed 0 starts from (when the model has exemplars), four seeds drawn
raw (25 DDIM steps, guidance 3, no revision), then the picture the tool keeps after
critique-and-revise, then the training image nearest to it (from the cached dataset, when
``data/clipart-emoji-64.npz`` exists). Writes bench/image-contact-sheet.png and
bench/image_eval.json.

    .venv/bin/python bench/image_eval.py [--threads 2] [--variation 0.7 | --no-exemplar]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPTS = ["a red apple", "a yellow star", "a blue car", "a green tree", "a red heart", "a yellow moon",
           "a pink flower", "an orange ball", "a purple balloon", "a brown dog"]
SEEDS = [0, 1, 2, 3]
ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--dataset", default=str(ROOT / "data" / "clipart-emoji-64.npz"))
    ap.add_argument("--weights", help="weights directory (default: the shipped one)")
    ap.add_argument("--prompts", type=int, default=len(PROMPTS), help="only the first N prompts")
    ap.add_argument("--variation", type=float, help="how much of the exemplar is redrawn (default: the tool's)")
    ap.add_argument("--no-exemplar", action="store_true", help="draw from pure noise")
    ap.add_argument("--out", default=str(ROOT / "bench"), help="where the sheet and the JSON go")
    args = ap.parse_args()

    import numpy as np
    import torch
    from PIL import Image, ImageDraw

    from tools.critics.image import ImageContext, image_scores
    from tools import registry
    from tools.base import ToolContext, TurnSettings
    from tools.generate_image import DEFAULT_VARIATION
    from tools.host import make_host
    from models.image.training.data import load_dataset
    from models.image.metrics import features

    torch.set_num_threads(args.threads)
    host = make_host(Path(args.weights) if args.weights else None)
    prompts, out = PROMPTS[: args.prompts], Path(args.out)
    kit = host.get("image")
    train = load_dataset(Path(args.dataset)) if Path(args.dataset).exists() else None
    use_ex = kit.exemplars is not None and not args.no_exemplar
    variation = args.variation if args.variation is not None else DEFAULT_VARIATION
    cell, label, cols = 128, 30, len(SEEDS) + 2 + use_ex
    sheet = Image.new("RGB", (cols * cell, len(prompts) * (cell + label) + 24), "white")
    d = ImageDraw.Draw(sheet)
    d.text((4, 4), f"{kit.model_id}: {f'exemplar of seed 0 | redrawn {variation:.0%}, ' if use_ex else ''}seeds {SEEDS} "
                   f"raw ({args.steps} steps, guidance 3) | kept after revision | nearest training image", fill="black")
    rows, raw_seconds = [], []
    for r, prompt in enumerate(prompts):
        y = 24 + r * (cell + label)
        raw, starts = [], kit.pick_exemplars(prompt, SEEDS) if use_ex else None
        for k, s in enumerate(SEEDS):
            t = time.perf_counter()
            arr = kit.generate(prompt, None, (64, 64), args.steps, 3.0, [s], exemplars=[starts[k]] if use_ex else None,
                               strength=variation)[0]
            raw_seconds.append(time.perf_counter() - t)
            raw.append(arr)
        raw_scores = [image_scores(a, prompt, ImageContext(kit.index, ())) for a in raw]
        t = time.perf_counter()
        art = registry.invoke("generate_image", {"prompt": prompt, "seed": 0, "steps": args.steps, "width": 64,
                                                 "height": 64, "exemplar": use_ex, "variation": variation},
                              ToolContext("eval", ROOT / "data" / "image-eval", r, emit=lambda e: None,
                                          should_stop=lambda: False, host=host,
                                          settings=TurnSettings(threads=args.threads)))
        tool_seconds = time.perf_counter() - t
        with Image.open(ROOT / "data" / "image-eval" / art.files["image"]) as im:
            kept = np.asarray(im.convert("RGB"))
        tiles = [(kit.exemplars.images[starts[0]], f"ex: {kit.exemplar_caption(starts[0])}")] if use_ex else []
        tiles += [(a, f"seed {s}: {','.join(sc.metrics['palette'])}") for a, s, sc in zip(raw, SEEDS, raw_scores)]
        tiles.append((kept, f"kept r{art.round}: {','.join(art.scores.metrics['palette'])}"))
        nearest = None
        if train is not None and kit.index is not None:
            _, i = kit.index.nearest(features(kept))
            nearest = train.captions[i]
            tiles.append((train.images[i], nearest.split(";")[0][:22]))
        for c, (a, text) in enumerate(tiles):
            sheet.paste(Image.fromarray(a).resize((cell, cell), Image.Resampling.LANCZOS), (c * cell, y + label))
            d.text((c * cell + 2, y + 16), text[:21], fill="black")
        d.text((2, y + 2), prompt, fill="black")
        rows.append({
            "prompt": prompt, "requested_colours": art.scores.metrics["requested_colours"],
            "exemplars": [kit.exemplar_caption(i) for i in starts] if use_ex else None,
            "raw_palettes": [sc.metrics["palette"] for sc in raw_scores],
            "raw_colour_match": statistics.mean(sc.metrics["colour_match"] for sc in raw_scores),
            "kept_palette": art.scores.metrics["palette"], "kept_colour_match": art.scores.metrics["colour_match"],
            "kept_round": art.round, "quality": art.scores.quality, "novelty": art.scores.novelty,
            "near_copy": art.scores.metrics["near_copy"],
            "nearest_training_distance": art.scores.metrics["nearest_training_distance"],
            "nearest_training_caption": nearest, "tool_seconds": tool_seconds,
            "trajectory": [t.to_dict() for t in art.trajectory]})
        print(f"{prompt:18s} raw colour match {rows[-1]['raw_colour_match']:.2f} kept {art.scores.metrics['palette']} "
              f"match {art.scores.metrics['colour_match']:.0f} novelty {art.scores.novelty:.2f} "
              f"near copy {art.scores.metrics['near_copy']} ({tool_seconds:.1f}s with revision)", flush=True)
    sheet.save(out / "image-contact-sheet.png", optimize=True)
    summary = {
        "model": kit.model_id, "threads": args.threads, "steps": args.steps,
        "variation": variation if use_ex else None,
        "seconds_per_picture_median": statistics.median(raw_seconds),
        "raw_colour_match_rate": statistics.mean(r["raw_colour_match"] for r in rows),
        "kept_colour_match_rate": statistics.mean(r["kept_colour_match"] for r in rows),
        "near_copies": sum(r["near_copy"] for r in rows),
        "tool_seconds_median": statistics.median(r["tool_seconds"] for r in rows), "prompts": rows}
    (out / "image_eval.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"seconds per picture (median, {args.steps} steps, {args.threads} threads): "
          f"{summary['seconds_per_picture_median']:.2f}; colour match raw {summary['raw_colour_match_rate']:.0%}, "
          f"kept {summary['kept_colour_match_rate']:.0%}; near copies {summary['near_copies']}")


if __name__ == "__main__":
    main()
