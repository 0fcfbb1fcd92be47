"""generate_image: a picture from a text prompt, with the embedded model or a Stable Diffusion one.

The pipeline, in order: 1. defaults and checks (size, steps, guidance; the embedded model
starts from the training picture closest to the prompt, redrawn ``variation`` of the way),
2. round 0 (``candidates`` pictures drawn as one batch), 3. critique (quality floors of the
training pictures, distance to the nearest one, the asked colours, noise and crispness against
the start), 4. revise within bounds (new seeds, more guidance, more of the exemplar redrawn, or
less while every picture so far is degraded against its start, stray colours as the negative
prompt), 5. the PNG with every parameter needed to draw it again, 6. the summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from pydantic import Field, field_validator

from tools import slots
from tools.artifacts import Artifact
from tools.base import ToolContext, ToolSpec, call_tool, limits_of, novelty_trail, revision_record
from tools.revise import revise
from tools.schemas import SEED, Strict, no_nul

# with the embedded model's exemplars: the share of the schedule an exemplar is redrawn from
# in round 0, and how much more each revision round redraws (measured: IMAGE_CARD.md)
DEFAULT_VARIATION = 0.6
VARIATION_STEP = 0.1
# the least a revision round redraws when it steps down to find a picture that is not degraded
MIN_VARIATION = 0.2
# a composed scene (setting + placed subjects) is redrawn less: the setting is drawn by us and the
# model's part is to make it one picture without losing the subjects (IMAGE_CARD.md)
SCENE_VARIATION = 0.3
# the embedded model's default DDIM schedule: an exemplar redrawn 60% runs 7 of these steps, a
# scene redrawn 30% runs 4. It was 25 (15 and 8 run): on the 30 eval prompts 12 steps finds the same
# subjects, scene elements and colours, reports the same misses and degrades no more pictures, with
# less speckle (10 steps lost crispness on two scenes); ~2x faster a picture (IMAGE_CARD.md;
# bench/image_eval.py --steps 25 against the default, bench/image_speed.py). Stable Diffusion
# models keep 25 (DPM++).
EMBEDDED_STEPS = 12
SD_STEPS = 25
SD_HINT = ("for subjects outside its library use a Stable Diffusion model: `arsnova --image-model sd:/path/to/model` "
           "(or the picture model in the chat palette)")


class GenerateImageArgs(Strict):
    prompt: str = Field(min_length=1, max_length=2000, description="what to draw")
    negative_prompt: str | None = Field(default=None, max_length=2000, description="what to avoid")
    width: int | None = Field(default=None, ge=16, le=2048, description="pixels")
    height: int | None = Field(default=None, ge=16, le=2048, description="pixels")
    steps: int | None = Field(default=None, ge=1, le=200, description="denoising steps")
    guidance: float | None = Field(default=None, ge=0.0, le=30.0, allow_inf_nan=False,
                                   description="classifier-free guidance scale")
    candidates: int | None = Field(default=None, ge=1, le=8, description="pictures drawn in the first round (one batch)")
    exemplar: bool | None = Field(default=None, description="embedded model: start from the training picture closest "
                                                           "to the prompt (default) or, false, from pure noise")
    variation: float | None = Field(default=None, ge=0.1, le=1.0, allow_inf_nan=False,
                                    description="embedded model: how much of the exemplar is redrawn (1 = all of it)")
    batch_seeds: list[int] | None = Field(default=None, min_length=1, max_length=8,
                                          description="re-drawing a picture: the seeds it was drawn together with")
    seed: int | None = SEED

    _t = field_validator("prompt", "negative_prompt")(no_nul)

    @field_validator("batch_seeds")
    @classmethod
    def _seeds(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and any(not 0 <= s < 2**31 + 8 for s in v):  # a batch is seed, seed+1, … seed+7
            raise ValueError(f"seeds must be whole numbers from 0 to {2**31 + 7}")
        return v


@tool("generate_image", args_schema=GenerateImageArgs, response_format="content_and_artifact")
def generate_image(config: RunnableConfig, **kwargs):
    """Generate a picture from a text description.

    Use for pictures, drawings, paintings, illustrations. prompt says what to draw,
    negative_prompt what to avoid; width/height in pixels, steps and guidance tune the
    diffusion, seed makes it repeatable.
    """
    return call_tool("generate_image", run, kwargs, config)


@dataclass(frozen=True)
class _Drawing:
    """One picture of a round and what it was drawn with."""

    pixels: object  # uint8 (H, W, 3)
    seed: int
    guidance: float
    negative: str | None
    batch: tuple[int, ...] | None  # the seeds drawn together with it (re-draws need the same batch)
    exemplar: int | None  # the exemplar it started from
    variation: float | None  # how much of the exemplar was redrawn
    exemplars: tuple[int, ...] | None = None  # a composed scene: one exemplar per subject
    start: object = None  # uint8 (H, W, 3): the picture the redraw started from
    subject_mask: object = None  # a composed scene: bool (H, W), where its subjects were placed
    start_big: object = None  # uint8: the start at a higher resolution (guided enlargement), when there is one


def run(args: dict, ctx: ToolContext) -> Artifact:
    import hashlib

    import numpy as np
    from PIL import Image

    from models.common.errors import UserFixableError
    from models.image.image_io import save_png
    from models.image.metrics import features
    from models.image.cleanup import clean_redraw
    from models.image.colours import colours_in
    from models.image.guided import guide_at, guided_enlarge, read_back
    from models.image.scene import parse_scene
    from models.common.runtime import app_version
    from tools.critics.image import ImageContext, image_scores, stray_colours

    # 1. defaults and checks
    kit = ctx.model("image", "the image model", ctx.settings.image_model)
    default = 256 if kit.kind == "embedded" else 512
    w, h = int(args.get("width") or default), int(args.get("height") or default)
    if kit.kind == "sd" and (w % 8 or h % 8 or max(w, h) > 1024):
        raise UserFixableError(f"width and height must be multiples of 8 up to 1024 for this model (got {w}x{h})")
    if kit.kind == "embedded" and max(w, h) > 1024:
        raise UserFixableError(f"width and height go up to 1024 (got {w}x{h}); the model draws "
                               f"{kit.native}x{kit.native} and the result is upscaled")
    steps = int(args.get("steps") or (EMBEDDED_STEPS if kit.kind == "embedded" else SD_STEPS))
    guidance = float(args["guidance"]) if args.get("guidance") is not None else (3.0 if kit.kind == "embedded" else 7.0)
    seed = ctx.seed(args)
    prompt, negative = args["prompt"], args.get("negative_prompt")
    # start from the closest exemplar (embedded model with a library), redrawn this much
    use_exemplar = kit.exemplars is not None and args.get("exemplar", True) is not False
    # the prompt as subjects and a setting; the library's closest exemplars for each subject
    scene = parse_scene(prompt)
    lacking = [sa.text for sa in scene.subjects if not kit.covers(sa.text)] if use_exemplar else []
    composed = use_exemplar and scene.is_scene
    default_v = SCENE_VARIATION if composed else DEFAULT_VARIATION
    variation = float(args["variation"]) if args.get("variation") is not None else default_v
    earlier = []
    for p in ctx.earlier_files("image", "image"):
        with Image.open(p) as im:
            earlier.append(features(np.asarray(im.convert("RGB"))))
    ictx = ImageContext(kit.index, tuple(earlier), kit.judge, kit.exemplars.vectors if use_exemplar else None,
                        tuple(lacking))

    # guided enlargement (models/image/guided.py): the start at the delivered size where the redraw
    # kept it; needs the hi-res exemplars shipped beside the library and a picture larger than native
    guided = use_exemplar and getattr(kit.exemplars, "hires", None) is not None and max(w, h) > kit.native
    asked = colours_in(prompt)

    def scene_start(sd: int):
        """The composed canvas for seed ``sd``: its exemplars (one of each subject's close matches)
        and its layout follow the seed, so a revision round tries other pictures and places."""
        return compose_start(kit, scene, sd, hires=guided)

    def draw(seeds: list[int], g: float, stage: str, negative: str | None, v: float):
        picks = starts = scenes = None
        bigs = [None] * len(seeds)
        if composed and v < 1.0:
            scenes = [scene_start(sd) for sd in seeds]
            starts = [c[0] for c in scenes]
            if guided:
                bigs = [c[3] for c in scenes]
        elif use_exemplar and v < 1.0:
            picks = kit.pick_exemplars(prompt, seeds)
            starts = [kit.exemplar_start(i, prompt) for i in picks]
            if guided:
                bigs = [kit.exemplars.start_big(i, asked) for i in picks]
        arrs = kit.generate(prompt, negative, (w, h), steps, g, seeds, should_stop=ctx.should_stop,
                            progress=ctx.progress("steps", stage), strength=v,
                            **({"starts": starts} if starts is not None else {}))
        if starts is not None and v < 1.0:  # the model's speckle off, the start's flat fills back
            arrs = [clean_redraw(a, st) for a, st in zip(arrs, starts)]
        batch = tuple(seeds) if kit.batch_size > 1 and len(seeds) > 1 else None  # drawn together
        return [_Drawing(a, sd, g, negative, batch, picks[k] if picks else None, v if starts else None,
                         scenes[k][1] if scenes else None, starts[k] if starts else None,
                         scenes[k][2] if scenes else None, bigs[k] if starts else None)
                for k, (a, sd) in enumerate(zip(arrs, seeds))]

    upscaler = getattr(kit, "upscaler", None)

    guides: dict = {}  # a hi-res start's bytes -> it at the delivered size: one enlargement per start
    delivered: dict = {}  # id(drawing) -> (it, its Enlarged): the critic's and the PNG's are one call

    def deliver(item):
        """The picture at the delivered size: the learned upscaler (or Lanczos), guided by the hi-res
        start where the redraw kept it."""
        if id(item) not in delivered:
            big = item.start_big
            if big is not None:
                key = hashlib.blake2b(np.ascontiguousarray(big).tobytes(), digest_size=16).digest()
                if key not in guides:
                    guides[key] = guide_at(big, (w, h), upscaler)
                big = guides[key]
            delivered[id(item)] = (item, guided_enlarge(item.pixels, item.start, big, (w, h), upscaler))
        return delivered[id(item)][1]

    def critic(item):
        # the degradation floor judges the picture as delivered, read back at the native size
        seen = None if item.start is None else read_back(deliver(item).pixels, item.pixels.shape[1::-1])
        return image_scores(item.pixels, prompt, ictx, start=item.start, subject_mask=item.subject_mask, delivered=seen)

    kept: list = []  # the best scores so far, for the next round's negative prompt
    clean = []  # whether each round's best candidate passed the degradation critic

    def on_round(rec) -> None:
        if rec.chosen:
            kept.append(rec.scores)
        clean.append(not rec.scores.metrics.get("degraded", False))
        ctx.report_round(rec)

    steer = negative  # the negative prompt of the rounds to come: the user's, or the last stray colours

    def propose(r: int, n: int):
        nonlocal steer
        g = guidance + 1.0 * r  # follow the prompt harder as the seeds move away from round 0
        seeds = [seed + 7919 * r + k for k in range(n)]
        # redraw more of the exemplar each round: away from the training picture, toward novelty;
        # while no round has drawn a picture as clean as its start, redraw less instead (the
        # degradation critic is a floor: novelty is sought above it, not instead of it)
        if any(clean) or not use_exemplar:
            v = round(min(1.0, variation + VARIATION_STEP * r), 2)
        else:
            v = round(max(MIN_VARIATION, variation - VARIATION_STEP * r), 2)
        params = {"seeds": seeds, "guidance": g, "steps": steps, **({"variation": v} if use_exemplar else {})}
        stray = stray_colours(kept[-1]) if kept and not negative else []
        if stray:  # steer away from the colours that came out instead of the ones asked for
            steer = params["negative_prompt"] = " ".join(stray)
        return draw(seeds, g, f"round {r} ({n} candidates)", steer, v), params

    # 2. round 0 (or, re-drawing a PNG, the batch it was drawn in); 3.-4. critique and revise
    direction = ctx.direction()
    cfg = ctx.revise_config()
    first_seeds = [seed + k for k in range(int(args.get("candidates") or 1))]
    redraw = [int(x) for x in args.get("batch_seeds") or ()]  # `arsnova image --from-png`: that batch
    if redraw and seed in redraw:
        first = [it for it in draw(redraw, guidance, "redraw", negative, variation) if it.seed == seed]
    else:
        first = draw(first_seeds, guidance, "round 0" + (f" ({len(first_seeds)} candidates)" if len(first_seeds) > 1 else ""),
                     negative, variation)
    result = revise(first, {"seeds": first_seeds, "guidance": guidance, "steps": steps,
                            **({"variation": variation} if use_exemplar else {})},
                    propose, critic, cfg, on_round=on_round)
    best = result.best

    # an honest miss: the library has no such subject and the subject critic found it in no
    # candidate; or an asked colour is still not there after the last round
    s = result.best_scores
    m = s.metrics
    tried = sum(r.candidates for r in result.trajectory)
    if kit.kind == "embedded" and lacking and (kit.judge is None or not m.get("subject_found")):
        miss = "subject"
    elif m.get("colour_match", 1.0) < 1.0:
        miss = "colour"
    else:
        miss = None
    s = type(s)(s.quality, s.novelty, s.adherence, {**m, "miss": miss, "lacking": lacking,
                                                    "composed": bool(best.exemplars)})

    # 5. the PNG, carrying what it takes to draw it again
    # enlarged by the learned ×4 upscaler when it is shipped beside the embedded model, else Lanczos;
    # guided by the hi-res start where the redraw kept it (models/image/guided.py)
    enlarged = deliver(best)
    pixels, how = enlarged.pixels, enlarged.how
    upscale = None if how == "none" else how
    im = Image.fromarray(pixels)
    stem = ctx.stem("image")
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    files = {"image": f"{stem}.png"}
    exemplar = best.exemplar
    save_png(im, ctx.out_dir / files["image"], {
        "tool": "generate_image", "prompt": prompt, "negative_prompt": best.negative, "seed": best.seed,
        "batch_seeds": list(best.batch) if best.batch else None, "steps": steps, "guidance": best.guidance,
        "scheduler": kit.scheduler, "model": kit.model_id,
        "exemplar": exemplar, "exemplar_caption": kit.exemplar_caption(exemplar) if exemplar is not None else None,
        "exemplar_recoloured": kit.exemplar_recolour(exemplar, prompt) if exemplar is not None else None,
        "variation": best.variation, "native": kit.native,
        "scene": {"sky": scene.sky, "ground": scene.ground, "subjects": [sa.text for sa in scene.subjects]}
        if best.exemplars else None,
        "exemplars": list(best.exemplars) if best.exemplars else None,
        "exemplar_captions": [kit.exemplar_caption(i) for i in best.exemplars] if best.exemplars else None,
        "miss": miss, "missing": s.metrics.get("missing"),
        "model_hash": kit.model_hash, "upscale": upscale, **({"guided_kept": round(enlarged.kept, 3)} if enlarged.kept else {}),
        **({"upscaler_hash": upscaler.digest} if upscale and upscale.startswith("learned") else {}),
        "app": "arsnova", "app_version": app_version()})

    # 6. summary: what was drawn, what the critics did not find, and a miss said as one
    if best.exemplars:
        names = ", ".join(f'"{kit.exemplar_caption(i)}"' for i in best.exemplars)
        setting = " in a setting of " + " and ".join(scene.elements) if scene.elements else ""
        started = f" as a scene composed from {names}{setting}, redrawn {best.variation:.0%}"
    elif exemplar is not None:
        started = f" from the exemplar \"{kit.exemplar_caption(exemplar)}\" redrawn {best.variation:.0%}"
    else:
        started = ""
    learned = bool(upscale and upscale.startswith("learned"))
    guide = f", guided by its start where the redraw kept it: {enlarged.kept:.0%} of the picture" if enlarged.kept else ""
    size_note = (f" (native {kit.native} px, {upscaler.name if learned else 'Lanczos'}{guide})" if upscale else "")
    missing = s.metrics.get("missing") or []
    closest = (kit.exemplar_caption(best.exemplars[0]) if best.exemplars else
               kit.exemplar_caption(exemplar) if exemplar is not None else None)
    if miss == "subject":
        head = (f"I can't draw {_a(' and '.join(lacking))} with the embedded model: its library has none"
                f"{' and the subject critic found none in ' + str(tried) + ' candidates' if kit.judge is not None else ''}. "
                + (f"The closest I have is \"{closest}\" (drawn anyway, at {w}x{h}{size_note}); " if closest else "")
                + SD_HINT + ".")
    elif miss == "colour":
        head = (f"A miss: \"{prompt[:60]}\" came out {', '.join(s.metrics['palette']) or 'white'}, not "
                f"{' and '.join(c for c in s.metrics['requested_colours'] if c not in s.metrics['palette'])}, after "
                f"{len(result.trajectory)} round(s); drawn{started} at {w}x{h}{size_note}.")
    else:
        head = f"Drew \"{prompt[:60]}\"{started} at {w}x{h}{size_note}."
    # no candidate of any round was as clean as its start: say so rather than pass it off
    worse = (f"; softer or noisier than the picture it started from (edges {m['edge_ratio']:.2f}x, speckle "
             f"{m['speckle_ratio']:.2f}x)" if m.get("degraded") else "")
    summary = (f"{head} Quality {s.quality:.2f}, novelty {s.novelty:.2f}, adherence {s.adherence:.2f}{worse}"
               f"{'; missing: ' + ', '.join(missing) if missing else ''}; palette "
               f"{', '.join(s.metrics['palette']) or '-'}; novelty by round {novelty_trail(result)}; file {files['image']}")
    return Artifact(
        kind="image", tool="generate_image", args=dict(args), seed=best.seed, model=kit.model_id,
        round=result.best_round, scores=s, files=files, summary=summary, trajectory=result.trajectory,
        limits_hit=limits_of(result), id=stem, turn=ctx.turn, revision=revision_record(direction, cfg, result),
    )


# ---- drawing a picture again from its PNG (`arsnova image --from-png`) ---------------------
REDRAW_NEEDED = ("tool", "prompt", "seed", "steps", "guidance")


def redraw_args(png: Path) -> tuple[dict, str | None]:
    """The call that drew ``png`` (its arguments, not yet validated) and the model it names."""
    from models.common.errors import UserFixableError
    from models.image.image_io import load_rgb, png_params

    im = load_rgb(png)
    p = png_params(png)
    if p.get("tool") != "generate_image" or any(p.get(k) is None for k in REDRAW_NEEDED):
        raise UserFixableError(f"{png} has no generate_image parameters; only pictures drawn by Ars Nova can be re-run")
    args = {"prompt": p["prompt"], "negative_prompt": p.get("negative_prompt"), "seed": p["seed"],
            "steps": p["steps"], "guidance": p["guidance"], "width": im.size[0], "height": im.size[1],
            "batch_seeds": p.get("batch_seeds"), "exemplar": p.get("exemplar") is not None or bool(p.get("exemplars")),
            "variation": p.get("variation")}
    return {k: v for k, v in args.items() if v is not None}, p.get("model")


# ---- how the router knows it --------------------------------------------------------------
def fill_args(seg: str, text: str, history: dict) -> dict:
    """What to draw (the request minus its verbs, sizes, steps and seed), a negative prompt from
    "without …", the size, steps and seed; "a matching picture" takes the last poem's topic. A
    follow-up starts from the call it revises (``history["revising"]``) and changes what it states."""
    if (base := history.get("revising")) is not None:
        args: dict[str, Any] = dict(base)
        if wh := slots.size(seg):
            args["width"], args["height"] = wh
        if st := slots.steps(seg):
            args["steps"] = st
        return args
    # "could I get …", "is it possible to get …": the asking is not what to draw
    prompt = re.sub(r"^(?:(?:can|could|would|will|may)\s+(?:you|i|we)\s+|(?:is|would)\s+it\s+(?:be\s+)?possible\s+to\s+)"
                    r"(?:please\s+)?(?:(?:get|have)\s+)?", "", seg.strip(), flags=re.IGNORECASE)
    prompt = re.sub(r"^(?:please\s+)?(?:(?:now|then|also|and)\s+)?(?:paint|draw|sketch|make|create|generate|render|illustrate|show me|give me)\s+(?:me\s+)?",
                    "", prompt, flags=re.IGNORECASE)
    prompt = re.sub(r"^(?:(?:now|then|also|and)\s+)?", "", prompt, flags=re.IGNORECASE)
    prompt = re.sub(r",?\s*\b(?:both|all|each)\s+(?=about\b|on the)", " ", prompt, flags=re.IGNORECASE)
    prompt = re.sub(r"^(?:a\s+|an\s+)?(?:picture|image|drawing|painting|illustration)\s*(?:(?:of|about|on the (?:theme|subject|topic) of)\s+|:\s*)?",
                    "", prompt, flags=re.IGNORECASE)
    # "a watercolour about a koi pond": the medium stays, of what it is
    prompt = re.sub(r"^((?:a\s+|an\s+)?[\w-]+)\s+(?:about|on the (?:theme|subject|topic) of)\s+", r"\1 of ", prompt,
                    flags=re.IGNORECASE)
    ref = re.match(r"^(?:(it|this|that|the poem|the music)\b\s*(?:as\s+)?|(?:a\s+|an\s+)?matching\s+(?:picture|image|illustration)?|"
                   r"(?:a\s+|an\s+)?(?:picture|image|illustration)?\s*(?:to go with|for)\s+(?:it|the poem|this)\b)",
                   prompt, re.IGNORECASE)
    if ref:
        rest = prompt[ref.end():].strip(" ,.")
        poem = slots.last_args(history, "write_poem")
        prompt = f"{poem['topic']}, {rest}".strip(", ") if poem and poem.get("topic") else rest
    # the numbers are arguments, not part of what to draw
    prompt = re.sub(r"[,;]?\s*\b\d{2,6}\s*[x\u00d7]\s*\d{2,6}\b(?:\s*(?:px|pixels))?", "", prompt)
    prompt = re.sub(r"[,;]?\s*\b\d+\s*(?:steps?|denoising steps)\b", "", prompt, flags=re.IGNORECASE)
    prompt = re.sub(r"[,;]?\s*\b(?:with\s+)?seed\s*(?:=|:|of)?\s*\d+", "", prompt, flags=re.IGNORECASE)
    prompt = re.sub(r"[,\s]*\bplease\b[,\s]*", " ", prompt, flags=re.IGNORECASE).strip()
    args = {"prompt": prompt.strip(" .,?!") or seg}
    neg = re.search(r"\b(?:without|no)\s+([\w ,]+)$", seg, re.IGNORECASE)
    if neg:
        args["negative_prompt"] = neg.group(1).strip()
    if wh := slots.size(seg):
        args["width"], args["height"] = wh
    if st := slots.steps(seg):
        args["steps"] = st
    return args


SPEC = ToolSpec(
    name="generate_image", tool=generate_image, schema=GenerateImageArgs, kind="image", bundle_dir="images",
    main_file="image",
    router_examples=(
        "paint a picture of a red apple", "draw a yellow star", "an image of a blue car",
        "make a picture of a green tree", "illustrate a lighthouse at dusk", "a watercolour of a harbour",
        "show me what a dragon looks like", "generate an image of mountains at sunrise",
        "sketch a cat sleeping on a chair", "create artwork of a forest in the fog",
        "a drawing of a bicycle", "render a clip-art icon of a house", "picture a bowl of fruit",
        "visualise a stormy sky", "an illustration to go with the poem", "a matching picture",
        "paint it as a watercolour", "a picture to go with it", "an image for the poem",
    ),
    revise_words=("picture", "image", "painting", "drawing", "illustration", "watercolour", "photo"),
    fill_args=fill_args,
)


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def compose_start(kit, scene, seed: int, hires: bool = False):
    """(canvas, exemplars, subject mask): the scene composed for ``seed`` at the model's native
    size; each subject's exemplar is one of its close matches, chosen by the seed, recoloured to
    its colour; the mask says where the subjects stand. ``hires``: a fourth, the same canvas at 4x
    (the setting drawn there, the subjects from the hi-res exemplars) for guided enlargement."""
    import numpy as np

    from models.image.scene import compose

    rng = np.random.default_rng(seed)
    picks = []
    for sa in scene.subjects:
        ranked, _ = kit.subject_match(sa.text, sa.colours)
        picks.append(ranked[int(rng.integers(len(ranked)))])
    pictures = [kit.exemplars.start(i, list(sa.colours)) for i, sa in zip(picks, scene.subjects)]
    if hires:
        big = [kit.exemplars.start_big(i, list(sa.colours)) for i, sa in zip(picks, scene.subjects)]
        canvas, mask, canvas_big = compose(scene, pictures, kit.native, seed, hires=big)
        return canvas, tuple(picks), mask, canvas_big
    canvas, mask = compose(scene, pictures, kit.native, seed, with_mask=True)
    return canvas, tuple(picks), mask


def start_picture(kit, params: dict, with_mask: bool = False):
    """The picture a drawing recorded in ``params`` (a PNG's) started from, at the model's native
    size (uint8), or None when it was drawn from noise (or by a Stable Diffusion model).
    ``with_mask``: -> (start, subject mask or None)."""
    if kit.kind != "embedded" or kit.exemplars is None:
        return (None, None) if with_mask else None
    if params.get("exemplars"):
        from models.image.scene import parse_scene

        canvas, _, mask = compose_start(kit, parse_scene(params["prompt"]), int(params["seed"]))
        return (canvas, mask) if with_mask else canvas
    if with_mask:
        return start_picture(kit, params), None
    if params.get("exemplar") is None:
        return None
    return kit.exemplar_start(int(params["exemplar"]), params["prompt"])
