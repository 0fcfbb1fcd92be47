"""The picture tool on 30 prompts it was not tuned on (issue #21): does the picture show what was
asked?

Three groups of ten: single subjects the exemplar library has, scenes (a setting, or two
subjects), and subjects the library lacks. Each prompt is drawn once by the tool as a person
would call it (seed 0, default size, critique and revision on): nothing is selected by hand. For
each picture: subject-critic agreement with the prompt, the scene elements present, the asked
colour present, whether a miss was reported (third group: every miss reported, no wrong subject
claimed), noise and crispness against the picture the drawing started from, the native size,
seconds. Then speed: one picture at the delivered size and one round of four candidates (tool
calls without revision, medians).

Writes ``bench/image_eval.json`` (or ``--save-baseline``: ``bench/image_eval_baseline.json``),
the contact sheet of all 30 (``bench/image-contact-sheet.png``) and the native pictures as one
lossless grid (``bench/image-eval-pictures.png``), from which ``--rescore`` re-measures a saved run
with today's critics (how the baseline got its subject and scene columns: those critics did not
exist when it was drawn).

    .venv/bin/python bench/image_eval.py [--threads 2] [--save-baseline] [--rescore bench/image_eval_baseline.json]

``--steps N`` draws every picture with N steps instead of the tool's default (how a step-count
change is checked: the old default against the new one), and ``--out PATH`` writes the JSON,
pictures and sheet as ``PATH.json``, ``PATH-pictures.png``… instead of the committed files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
GROUPS = {
    "library": ["a penguin", "a guitar", "a blue butterfly", "a green frog", "a purple elephant", "an umbrella",
                "a snowman", "a slice of pizza", "a kite", "a black cat"],
    "scene": ["a castle on a hill at sunset", "a boat on the sea at dawn", "a house in the snow at night",
              "a tree on a hill in a storm", "two dogs on a beach", "a red car in the city at night",
              "a deer in the forest", "a rabbit and a fox in the snow", "a palm tree on a beach at sunset",
              "an owl in the forest at night"],
    "missing": ["a submarine", "a lighthouse", "a windmill", "a walrus", "a typewriter", "a wheelbarrow",
                "a scarecrow", "an armadillo", "a pelican", "a vacuum cleaner"],
}
PROMPTS = [(g, p) for g, ps in GROUPS.items() for p in ps]
SPEED_PROMPTS = ["a penguin", "a castle on a hill at sunset", "a kite"]


def _ctx(host, threads: int, r: int, revise=None):
    from tools.base import ToolContext, TurnSettings

    settings = TurnSettings(threads=threads, **({"revise": revise} if revise else {}))
    return ToolContext("eval", ROOT / "data" / "image-eval", r, emit=lambda e: None, should_stop=lambda: False,
                       host=host, settings=settings)


def measure(prompt: str, native, start, reported_miss: bool, judge=None, subject_mask=None, library=None,
            lacking: tuple[str, ...] = ()) -> dict:
    """Everything measured on one picture (native size, uint8) with today's critics; ``start`` is the
    picture its drawing started from (None: from noise); ``subject_mask``: where a composed scene's
    subjects stand (its asked colours are looked for there, not on the sky); ``library`` and
    ``lacking``: the exemplar library's subject vectors and the asked subjects it lacks, which the
    critic must find above every library subject (``adherence_report``), as the tool asks it."""
    from models.image.colours import colour_words, colours_in
    from models.image.metrics import degradation

    row: dict = {"reported_miss": reported_miss}
    wanted = colours_in(prompt)
    palette = colour_words(native, min_share=0.1, max_words=3, where=subject_mask)
    row["colours_asked"], row["palette"] = wanted, palette
    row["colour_present"] = all(c in palette for c in wanted) if wanted else None
    if start is not None:
        d = degradation(native, start)
        row["speckle_ratio"], row["edge_ratio"], row["degraded"] = d.speckle_ratio, d.edge_ratio, d.degraded
    try:
        from tools.critics.image import adherence_report
    except ImportError:  # the baseline's critics: colour only
        return row
    if judge is None:
        return row
    rep = adherence_report(native, prompt, judge, subject_mask, library, tuple(lacking))
    row["subject_agreement"] = rep.subject_score
    row["subject_found"] = rep.subject_found
    row["scene_asked"], row["scene_present"] = list(rep.scene_asked), list(rep.scene_present)
    row["missing"] = list(rep.missing)
    return row


def summarise(rows: list[dict]) -> dict:
    def mean(xs):
        xs = [float(x) for x in xs if x is not None]
        return round(statistics.mean(xs), 3) if xs else None

    by = {g: [r for r in rows if r["group"] == g] for g in GROUPS}
    out = {}
    for g, rs in by.items():
        out[g] = {
            "subject_found": mean(r.get("subject_found") for r in rs),
            "subject_agreement": mean(r.get("subject_agreement") for r in rs),
            "colour_present": mean(r.get("colour_present") for r in rs),
            "miss_reported": mean(r["reported_miss"] for r in rs),
            "speckle_ratio": mean(r.get("speckle_ratio") for r in rs),
            "edge_ratio": mean(r.get("edge_ratio") for r in rs),
            "degraded": mean(r.get("degraded") for r in rs),
            "seconds": mean(r["seconds"] for r in rs),
        }
    scenes = [(len(r.get("scene_present", [])), len(r.get("scene_asked", []))) for r in by["scene"] if "scene_asked" in r]
    out["scene"]["scene_elements_present"] = (round(sum(a for a, _ in scenes) / max(1, sum(b for _, b in scenes)), 3)
                                              if scenes else None)
    # third group: honest when the miss is reported, or the subject critic finds the subject drawn
    miss = by["missing"]
    out["missing"]["honest"] = mean((r["reported_miss"] or bool(r.get("subject_found"))) if "subject_found" in r
                                    else r["reported_miss"] for r in miss)
    out["missing"]["wrong_subject_claimed"] = sum(1 for r in miss if not r["reported_miss"] and not r.get("subject_found"))
    return out


def grid(pictures, cols: int = 6):
    """The native pictures as one lossless grid (row-major, ``cols`` wide)."""
    import numpy as np

    n, s = len(pictures), pictures[0].shape[0]
    g = np.full(((n + cols - 1) // cols * s, cols * s, 3), 255, np.uint8)
    for i, p in enumerate(pictures):
        r, c = divmod(i, cols)
        g[r * s:(r + 1) * s, c * s:(c + 1) * s] = p
    return g


def ungrid(path: Path, size: int, n: int, cols: int = 6):
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        g = np.asarray(im.convert("RGB"))
    return [g[(i // cols) * size:(i // cols + 1) * size, (i % cols) * size:(i % cols + 1) * size] for i in range(n)]


def contact_sheet(rows: list[dict], pictures, path: Path, title: str, cols: int = 6) -> None:
    from PIL import Image, ImageDraw

    cell, label = 160, 34
    sheet = Image.new("RGB", (cols * cell, (len(rows) + cols - 1) // cols * (cell + label) + 20), "white")
    d = ImageDraw.Draw(sheet)
    d.text((4, 4), title, fill="black")
    for i, (r, p) in enumerate(zip(rows, pictures)):
        y, x = 20 + (i // cols) * (cell + label), (i % cols) * cell
        sheet.paste(Image.fromarray(p).resize((cell - 8, cell - 8), Image.Resampling.LANCZOS), (x + 4, y + label))
        d.text((x + 4, y + 2), r["prompt"][:26], fill="black")
        flag = "MISS reported" if r["reported_miss"] else (
            ("subject found" if r.get("subject_found") else "subject NOT found") if "subject_found" in r else "")
        d.text((x + 4, y + 16), flag, fill=(160, 0, 0) if "NOT" in flag else (0, 90, 0))
    sheet.save(path, optimize=True)


def speed(host, threads: int, extra: dict | None = None) -> dict:
    """Medians over SPEED_PROMPTS: one picture at the delivered size, and one round of 4 candidates
    (tool calls with no revision rounds, so the figure is one drawing or one round)."""
    from tools import registry
    from tools.revise import ReviseConfig

    one, four = [], []
    no_rev = ReviseConfig(max_rounds=0)
    for k, p in enumerate(SPEED_PROMPTS):
        for n, acc in ((1, one), (4, four)):
            t = time.perf_counter()
            registry.invoke("generate_image", {"prompt": p, "seed": 100 + k, "candidates": n, **(extra or {})},
                            _ctx(host, threads, 900 + k, no_rev))
            acc.append(time.perf_counter() - t)
    return {"one_picture_s": round(statistics.median(one), 2), "round_of_4_s": round(statistics.median(four), 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", help="weights directory (default: the shipped one)")
    ap.add_argument("--save-baseline", action="store_true", help="write the baseline files instead")
    ap.add_argument("--rescore", help="re-measure a saved run (its JSON) with today's critics, in place")
    ap.add_argument("--baseline", default=str(ROOT / "bench" / "image_eval_baseline.json"))
    ap.add_argument("--steps", type=int, help="draw with this many steps (default: the tool's own)")
    ap.add_argument("--out", help="write PATH.json, PATH-pictures.png, PATH-starts.png, PATH-sheet.png instead")
    args = ap.parse_args()

    import numpy as np
    import torch
    from PIL import Image

    torch.set_num_threads(args.threads)
    if args.rescore:
        from models.common.encoder import load_encoder
        from models.image.critic import load_judge

        judge = load_judge(Path(args.weights or ROOT / "models" / "weights") / "image" / "subject-critic.safetensors",
                           load_encoder())
        saved = json.loads(Path(args.rescore).read_text())
        pics = ungrid(ROOT / saved["pictures"], saved["native"], len(saved["prompts"]))
        starts = ungrid(ROOT / saved["starts"], saved["native"], len(saved["prompts"])) if saved.get("starts") else None
        for i, r in enumerate(saved["prompts"]):
            st = starts[i] if starts is not None and r.get("speckle_ratio") is not None else None
            r.update(measure(r["prompt"], pics[i], st, r["reported_miss"], judge))
        saved["summary"] = summarise(saved["prompts"])
        Path(args.rescore).write_text(json.dumps(saved, indent=1, default=str))
        print(json.dumps(saved["summary"], indent=1))
        return

    from models.image.image_io import png_params
    from tools import registry
    from tools.generate_image import start_picture
    from tools.host import make_host

    host = make_host(Path(args.weights) if args.weights else None)
    kit = host.get("image")
    rows, pictures, starts, shown = [], [], [], []
    extra = {"steps": args.steps} if args.steps else {}
    for i, (group, prompt) in enumerate(PROMPTS):
        t = time.perf_counter()
        art = registry.invoke("generate_image", {"prompt": prompt, "seed": 0, **extra}, _ctx(host, args.threads, i))
        seconds = time.perf_counter() - t
        png = ROOT / "data" / "image-eval" / art.files["image"]
        params = png_params(png)
        native_size = int(params.get("native") or kit.native)
        with Image.open(png) as im:
            delivered = im.size
            big = np.asarray(im.convert("RGB"))
            native = np.asarray(im.convert("RGB").resize((native_size, native_size), Image.Resampling.BOX))
        start, mask = start_picture(kit, params, with_mask=True)
        reported = bool(art.scores.metrics.get("miss"))
        lacking = tuple(art.scores.metrics.get("lacking") or ())
        library = kit.exemplars.vectors if kit.exemplars is not None else None
        row = {"group": group, "prompt": prompt, "seconds": round(seconds, 2), "delivered": list(delivered),
               "native": native_size, "upscale": params.get("upscale"), "kept_round": art.round, "summary": art.summary,
               "lacking": list(lacking), **measure(prompt, native, start, reported, getattr(kit, "judge", None), mask,
                                                   library, lacking)}
        rows.append(row)
        pictures.append(native)
        shown.append(big)
        starts.append(start if start is not None else np.full_like(native, 255))
        print(f"{group:8s} {prompt:34s} {seconds:5.1f}s miss={reported!s:5s} "
              f"subject={row.get('subject_found', '-')!s:5s} colour={row['colour_present']!s:5s} "
              f"edge={row.get('edge_ratio', float('nan')):.2f} speckle={row.get('speckle_ratio', float('nan')):.2f}",
              flush=True)
    stem = "image_eval_baseline" if args.save_baseline else "image_eval"
    pic_file, start_file = f"bench/{stem}-pictures.png", f"bench/{stem}-starts.png"
    if args.out:
        pic_file, start_file = f"{args.out}-pictures.png", f"{args.out}-starts.png"
    Image.fromarray(grid(pictures)).save(ROOT / pic_file, optimize=True)
    Image.fromarray(grid(starts)).save(ROOT / start_file, optimize=True)
    result = {"model": kit.model_id, "threads": args.threads, "native": kit.native if not pictures else int(pictures[0].shape[0]),
              "pictures": pic_file, "starts": start_file, "steps": args.steps or "default",
              "speed": speed(host, args.threads, extra),
              "summary": summarise(rows), "prompts": rows}
    sheet = ROOT / "bench" / ("image-eval-baseline-sheet.png" if args.save_baseline else "image-contact-sheet.png")
    if args.out:
        sheet = Path(f"{args.out}-sheet.png")
    ups = sorted({str(r["upscale"]) for r in rows})
    result["upscale"] = ups[0] if len(ups) == 1 else ups
    # the delivered PNGs (not the native read-back), so the sheet shows the enlargement a person sees
    contact_sheet(rows, shown, sheet, f"{kit.model_id}: 30 eval prompts, seed 0, as the tool delivers them "
                                      f"(unselected); native {result['native']} px, {result['upscale']}")
    if not args.save_baseline:
        if Path(args.baseline).exists():
            result["baseline"] = json.loads(Path(args.baseline).read_text())["summary"]
            result["baseline_speed"] = json.loads(Path(args.baseline).read_text())["speed"]
    (Path(f"{args.out}.json") if args.out else ROOT / "bench" / f"{stem}.json").write_text(
        json.dumps(result, indent=1, default=str))
    print(json.dumps({"speed": result["speed"], "summary": result["summary"]}, indent=1))


if __name__ == "__main__":
    main()
