"""style_transfer: repaint an image in the style of a painting (Gatys et al., on VGG19 features).

The pipeline, in order: 1. defaults and checks (every input image validated before any work;
'@last' is the session's newest image; a style may be a painting's name or a blend), 2. the
round-0 result (a preview first, then the full-size pyramid solve), 3. critique (style loss
reached, content still recognisable, sharpness, colour), 4. revise within bounds (one more
optimisation with the style pushed harder), 5. the PNG, 6. the summary.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from pydantic import Field, field_validator

from tools import slots
from tools.artifacts import Artifact
from tools.base import ToolContext, ToolSpec, call_tool, limits_of, novelty_trail, revision_record
from tools.events import Preview
from tools.revise import revise
from tools.schemas import SEED, Strict, no_nul

LAST_IMAGE = ("@last", "last", "the last image")


class StyleTransferArgs(Strict):
    content_image: str = Field(min_length=1, max_length=4096, description="image path, or @last")
    style_image: str = Field(min_length=1, max_length=4096, description="style image path or painting name")
    strength: float | None = Field(default=None, ge=0.0, le=1.0, description="0 = content, 1 = style")
    preserve_color: bool | None = Field(default=None, description="keep the content image's colours")
    size: int | None = Field(default=None, ge=64, le=1024, description="long side of the result in pixels")
    steps: int | None = Field(default=None, ge=1, le=2000, description="optimisation steps")
    seed: int | None = SEED

    _t = field_validator("content_image", "style_image")(no_nul)


@tool("style_transfer", args_schema=StyleTransferArgs, response_format="content_and_artifact")
def style_transfer(config: RunnableConfig, **kwargs):
    """Repaint an image in the style of another (neural style transfer).

    content_image and style_image are file paths; '@last' means the session's latest
    image; a style may also be a known painting's name. strength balances style (1)
    against content (0); preserve_color keeps the content's colours; size is the long
    side in pixels.
    """
    return call_tool("style_transfer", run, kwargs, config)


def run(args: dict, ctx: ToolContext) -> Artifact:
    from models.image.image_io import from_tensor, load_rgb, save_png, to_tensor
    from models.style.transfer import (StyleConfig, feature_distances, find_style, parse_style_blend,
                                       shipped_styles_dir, stylize)
    from tools.critics.style import style_scores

    # 1. defaults and checks: every input validated before any work
    content_path = _resolve_image(args["content_image"], ctx)
    blend = parse_style_blend(args["style_image"])  # "starry night" or "starry night:0.7 + udnie:0.3"
    style_paths = [find_style(name, ctx.host.resources.styles) for name, _ in blend]
    content_im = load_rgb(content_path)
    style_ims = [load_rgb(p) for p in style_paths]
    style_im, style_path = style_ims[0], style_paths[0]
    seed = ctx.seed(args)
    base = StyleConfig(size=int(args.get("size") or 256), steps=int(args.get("steps") or StyleConfig.steps),
                       strength=float(args["strength"]) if args.get("strength") is not None else 0.75,
                       preserve_color=bool(args.get("preserve_color")), seed=seed)
    c_t = to_tensor(content_im)
    styles = [(to_tensor(im), w) for im, (_, w) in zip(style_ims, blend)]
    s_t = styles[0][0]
    stem = ctx.stem("styled")
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    vgg = ctx.model("vgg", "VGG19")

    def preview(x):
        path = ctx.out_dir / f"{stem}-preview.png"
        save_png(from_tensor(x), path, {"preview": True})
        ctx.emit(Preview(ctx.call_id, "style_transfer", str(path)))

    def solve(cfg: StyleConfig, stage: str):
        r = stylize(vgg, c_t, styles, cfg, should_stop=ctx.should_stop, preview=preview,
                    progress=lambda d, t, sc: ctx.progress("iterations", f"{stage} · {sc}")(d, t))
        return r, cfg

    def critic(pair):
        r, _ = pair
        dists = feature_distances(vgg, to_tensor(r.image), c_t, s_t)
        return style_scores(r.image, content_im, style_im, (r.style_loss_start, r.style_loss_end, r.content_loss_end), dists)

    def propose(rnd: int, n: int):
        # one candidate per round (each is a full optimisation): push the style harder
        cfg = replace(base, strength=min(1.0, base.strength + 0.1 * rnd), seed=seed + rnd, noise=0.1)
        return [solve(cfg, f"round {rnd}")], {"strength": cfg.strength, "steps": cfg.steps, "seed": cfg.seed}

    # 2.-4. round 0, critique, and revise within bounds
    direction = ctx.direction()
    cfg = ctx.revise_config()
    cfg = replace(cfg, max_rounds=min(cfg.max_rounds, 1), candidates=1)
    params0 = {"strength": base.strength, "steps": base.steps, "seed": seed, "size": base.size}
    try:
        result = revise([solve(base, "round 0")], params0, propose, critic, cfg, on_round=ctx.report_round)
    finally:  # the preview was for watching; only finished results stay in the session
        (ctx.out_dir / f"{stem}-preview.png").unlink(missing_ok=True)
    best, used = result.best

    # 5. the PNG
    s = result.best_scores
    files = {"image": f"{stem}.png"}
    save_png(best.image, ctx.out_dir / files["image"], {
        "tool": "style_transfer", "content_image": _recorded(content_path, ctx.out_dir),
        "style_image": " + ".join(f"{_recorded(p, shipped_styles_dir())}:{w:g}" for p, (_, w) in zip(style_paths, blend)),
        "strength": used.strength, "size": used.size, "steps": used.steps, "seed": used.seed,
        "preserve_color": used.preserve_color, "model": vgg.name, "app": "arsnova"})

    # 6. summary
    summary = (f"Restyled {Path(content_path).name} after {Path(style_path).stem} at {best.image.size[0]}x"
               f"{best.image.size[1]} (strength {used.strength:.2f}); style loss {s.metrics['style_loss_ratio']:.1f}x "
               f"lower; quality {s.quality:.2f}, novelty {s.novelty:.2f}, adherence {s.adherence:.2f}; "
               f"novelty by round {novelty_trail(result)}; file {files['image']}")
    return Artifact(
        kind="styled_image", tool="style_transfer", args=dict(args), seed=used.seed, model=vgg.name,
        round=result.best_round, scores=s, files=files, summary=summary, trajectory=result.trajectory,
        limits_hit=limits_of(result), id=stem, turn=ctx.turn, revision=revision_record(direction, cfg, result),
    )


def _recorded(path: Path, home: Path) -> str:
    """A path as a PNG records it: a file of the session or a shipped painting by its name (the
    same picture made in another session, or another install, carries the same bytes); a
    person's own file by the path they gave."""
    p = Path(path)
    return p.name if p.resolve().parent == Path(home).resolve() else str(p)


def _resolve_image(ref: str, ctx: ToolContext) -> Path:
    """A path, or '@last' for the newest image of the session."""
    from models.common.errors import InputFileError

    if ref.strip().lower() in LAST_IMAGE:
        images = ctx.earlier_files(("image", "styled_image"), "image")
        if images:
            return images[-1]
        raise InputFileError("there is no image in this session yet; give content_image as a file path")
    return Path(ref).expanduser()


# ---- how the router knows it --------------------------------------------------------------
def fill_args(seg: str, text: str, history: dict) -> dict:
    """Content and style images (paths, '@last', a painting's name), keep-the-colours,
    strength words, size, steps and seed. A follow-up starts from the call it revises
    (``history["revising"]``) and changes what it states."""
    found = [p for p in slots.paths(seg) if not p.lower().endswith((".mid", ".midi"))]
    base = history.get("revising")  # a follow-up keeps the call it revises and changes what it states
    args: dict[str, Any] = dict(base or {})
    style_name = re.search(r"(?:style of|look of|like|after|manner of)\s+(?:the\s+|a\s+)?([\w' .-]+?)(?:\s+painting)?(?:$|[,.]|\s+to\b|\s+onto\b)", seg, re.IGNORECASE)
    if len(found) >= 2:
        first_is_style = re.search(re.escape(found[0]) + r"\s+(?:as|for)\s+(?:the\s+)?style", seg, re.IGNORECASE)
        args["content_image"], args["style_image"] = (found[1], found[0]) if first_is_style else (found[0], found[1])
    elif len(found) == 1:
        if re.search(r"style\s+(?:of|from)\s+" + re.escape(found[0]), seg) or re.search(r"(?:like|after|manner of)\s+" + re.escape(found[0]), seg):
            args["content_image"], args["style_image"] = "@last", found[0]
        else:
            args["content_image"] = found[0]
    elif base is None:
        args["content_image"] = "@last"
    painting = re.search(r"painting by ([\w' -]+?)(?:$|[,.])|into (?:a |an )?([\w' -]+?) painting", seg, re.IGNORECASE)
    if ("style_image" not in args or base) and painting:
        args["style_image"] = (painting.group(1) or painting.group(2)).strip()
    elif ("style_image" not in args or base) and style_name:
        args["style_image"] = style_name.group(1).strip()
    if re.search(r"\b(keep|preserve|retain)\w*\s+(?:the\s+)?(?:original\s+)?colou?rs?\b", seg, re.IGNORECASE):
        args["preserve_color"] = True
    if re.search(r"\b(subtle|light|gentle|slight)", seg, re.IGNORECASE):
        args["strength"] = 0.4
    elif re.search(r"\b(strong|heavy|bold|intense)", seg, re.IGNORECASE):
        args["strength"] = 0.9
    if px := re.search(r"\b(\d{2,4})\s*(?:px|pixels)\b", seg, re.IGNORECASE):
        args["size"] = int(px.group(1))
    if st := slots.steps(seg):
        args["steps"] = st
    return args


SPEC = ToolSpec(
    name="style_transfer", tool=style_transfer, schema=StyleTransferArgs, kind="styled_image", bundle_dir="images",
    main_file="image",
    router_examples=(
        "restyle my photo like starry night", "make photo.jpg look like a Van Gogh painting",
        "apply the style of the scream to the last image", "turn the last picture into a Munch painting",
        "transfer the style of udnie onto cat.png", "repaint it in the style of the great wave",
        "give this image the look of an impressionist painting", "style transfer from style.jpg to content.png",
        "make the picture look like an oil painting by Turner", "render my image in the manner of shipwreck.jpg",
    ),
    revise_words=("style", "restyled", "transfer"),
    fill_args=fill_args,
)
