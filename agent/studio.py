"""The studio: runs one validated tool request through generate → critique → revise → files.

It owns the generators (loaded lazily, kept across turns) and the revision settings; tools call
it through a narrow ``run_tool(name, args, ctx)`` function so ``tools/`` never imports ``agent/``.
Progress and critique leave through ``ToolContext.emit``; cancellation comes in through
``ToolContext.should_stop``, checked between sampling steps.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent.artifacts import Artifact
from agent.critics import MusicRequest, melody_profile, music_scores
from agent.events import Critique, Preview, Progress, Revision
from agent.revise import ReviseConfig, revise


@dataclass
class ToolContext:
    call_id: str
    out_dir: Path  # the session's artifact directory
    turn: int
    emit: Callable[[object], None]
    should_stop: Callable[[], bool]
    revise_direction: str = ""  # "more_novel" | "less_novel" | "style:…" for revision requests
    earlier: list[Artifact] = field(default_factory=list)  # the session's earlier artifacts
    base_seed: int = 0

    @property
    def stem_id(self) -> str:
        """The call id as it may appear in a file name (letters, digits, _ and - only)."""
        import re

        return re.sub(r"[^A-Za-z0-9_-]", "_", self.call_id)[:48] or "call"

    def file_stem(self, kind: str) -> str:
        """The name (without suffix) of the file this call writes: ``001-call_0_compose_music-music``."""
        return f"{self.turn:03d}-{self.stem_id}-{kind}"

    def report_round(self, record) -> None:
        """Round 0 is the critique of the plain sample; later rounds are revisions."""
        self.emit((Revision if record.round else Critique)(self.call_id, record))


# mood word -> (density token, default tempo, default mode)
@dataclass(frozen=True)
class _Drawing:
    """One picture of a generate_image round and what it was drawn with."""

    pixels: object  # uint8 (H, W, 3)
    seed: int
    guidance: float
    negative: str | None
    batch: tuple[int, ...] | None  # the seeds drawn together with it (re-draws need the same batch)
    exemplar: int | None  # the exemplar it started from
    variation: float | None  # how much of the exemplar was redrawn


# generate_image with the embedded model's exemplars: the share of the schedule an exemplar is
# redrawn from in round 0, and how much more each revision round redraws (measured: IMAGE_CARD.md)
DEFAULT_VARIATION = 0.6
VARIATION_STEP = 0.1

MOODS = {
    "slow": ("slow", 66, None), "calm": ("slow", 72, "major"), "peaceful": ("slow", 70, "major"),
    "quiet": ("slow", 72, None), "gentle": ("slow", 76, "major"), "tender": ("slow", 74, "major"),
    "dreamy": ("slow", 70, "major"), "sad": ("slow", 66, "minor"), "melancholy": ("slow", 64, "minor"),
    "melancholic": ("slow", 64, "minor"), "mournful": ("slow", 58, "minor"), "solemn": ("slow", 60, "minor"),
    "wistful": ("moderate", 80, "minor"), "haunting": ("slow", 68, "minor"), "dark": ("moderate", 84, "minor"),
    "happy": ("lively", 120, "major"), "joyful": ("lively", 126, "major"), "cheerful": ("lively", 120, "major"),
    "bright": ("moderate", 112, "major"), "playful": ("lively", 124, "major"), "lively": ("lively", 132, "major"),
    "energetic": ("lively", 140, "major"), "upbeat": ("lively", 128, "major"), "triumphant": ("moderate", 108, "major"),
}


@dataclass
class Studio:
    """Generators + settings. Build with ``make_studio``; share one per app."""

    music_factory: Callable[[], object]
    vgg_factory: Callable[[], object] | None = None
    poet_factory: Callable[..., object] | None = None  # (spec=the configured one) -> PoetKit
    image_factory: Callable[..., object] | None = None  # (spec=the configured one) -> ImageKit
    revise_config: ReviseConfig = field(default_factory=ReviseConfig)
    encoder: Callable | None = None
    default_music_model: str | None = None  # None: the model with the lower validation NLL
    threads: int = 1
    boldness: str = "default"  # "bold": every request revised as if asked to be less conventional
    _music: object | None = None
    _vgg: object | None = None
    _poet: object | None = None
    _image: object | None = None

    @property
    def music(self):
        if self._music is None:
            self._music = self.music_factory()
        return self._music

    @property
    def vgg(self):
        if self._vgg is None:
            from models.vgg19 import default_vgg

            self._vgg = (self.vgg_factory or default_vgg)()
        return self._vgg

    @property
    def poet(self):
        if self._poet is None:
            if self.poet_factory is None:
                from models.errors import ModelFileError

                raise ModelFileError("no poet configured")
            self._poet = self.poet_factory()
        return self._poet

    @property
    def image(self):
        if self._image is None:
            if self.image_factory is None:
                from models.errors import ModelFileError

                raise ModelFileError("no image model configured")
            self._image = self.image_factory()
        return self._image

    def _model(self, kind: str, ctx: "ToolContext", tool: str, label: str):
        """The ``kind`` model ("poet", "music", "image", "vgg"), saying so on the tool's card while it
        loads on first use (tens of seconds on a new data directory)."""
        if getattr(self, f"_{kind}") is None:
            ctx.emit(Progress(ctx.call_id, tool, 0, 0, "", f"loading {label} (first use)"))
        return getattr(self, kind)

    def switch_model(self, kind: str, spec: str | None):
        """Load the ``kind`` ("poet" | "image") model for ``spec`` (None: the embedded one) now and
        use it from here on; a load that fails raises and leaves the current one in place."""
        from models.errors import ModelFileError

        factory = {"poet": self.poet_factory, "image": self.image_factory}[kind]
        if factory is None:
            raise ModelFileError(f"no {kind} model configured")
        kit = factory(spec)
        setattr(self, f"_{kind}", kit)
        return kit

    def loaded_models(self) -> list[str]:
        """What has been loaded so far (models load on first use), for the status bar."""
        names = []
        if self._poet is not None:
            names.append(f"poet {self._poet.model_id}")
        if self._music is not None:
            names.append("music " + ",".join(sorted(getattr(self._music, "_meta", {})) or ["ready"]))
        if self._image is not None:
            names.append(f"image {self._image.model_id}")
        if self._vgg is not None:
            names.append("vgg19")
        return names

    def direction_for(self, ctx: ToolContext) -> str:
        """The revision direction: asked for in words, else the app-wide novelty setting."""
        return ctx.revise_direction or ("more_novel" if self.boldness == "bold" else "default")

    def revise_config_for(self, direction: str) -> ReviseConfig:
        cfg = self.revise_config
        if direction == "more_novel":  # "make it less conventional": more rounds, higher target
            return replace(cfg, max_rounds=cfg.max_rounds + 1, target=min(0.99, cfg.target + 0.05))
        if direction == "less_novel":
            return replace(cfg, max_rounds=0)
        return cfg

    # ---- music ---------------------------------------------------------------------------
    def compose_music(self, args: dict, ctx: ToolContext) -> Artifact:
        from models.midi_io import INSTRUMENTS, midi_bytes, piano_roll_png, read_midi, render_wav, write_atomic
        from models.music_sample import SampleSpec
        from models.music_tokens import Key, parse_key

        gen = self._model("music", ctx, "compose_music", "the music models")
        kind = args.get("model") or self.default_music_model or gen.default_kind()
        density, mood_tempo, mood_mode = MOODS.get((args.get("mood") or "").lower(), ("moderate", 100, None))
        # a primer, read before any sampling, lends its key and meter unless they were asked for
        primer = read_midi(Path(args["primer_midi"])) if args.get("primer_midi") else None
        if args.get("key"):
            key = parse_key(args["key"])
        elif primer is not None:
            key = primer.key
        else:
            key = Key(2, "minor") if mood_mode == "minor" else Key(7, "major")
        tempo = float(args.get("tempo") or mood_tempo)
        meter = args.get("meter") or (primer.meter if primer is not None else "4/4")
        if primer is not None and (primer.meter != meter or primer.key != key):
            primer = read_midi(Path(args["primer_midi"]), key=key, meter=meter)
        bars = int(args.get("bars") or 16)
        style = args.get("style") or ("chorale" if args.get("instrument") in ("organ", "choir") else "folk")
        instrument = (args.get("instrument") or "piano").lower()
        program = INSTRUMENTS.get(instrument, 0)
        seed = int(args["seed"]) if args.get("seed") is not None else ctx.base_seed
        total_bars = bars + (primer.bars if primer else 0)
        req = MusicRequest(key, total_bars, meter, tempo)
        earlier = [melody_profile(read_midi(ctx.out_dir / a.files["midi"])) for a in ctx.earlier
                   if a.kind == "music" and (ctx.out_dir / a.files["midi"]).exists()]
        base = SampleSpec(key=key, meter=meter, bars=bars, style=style, density=density, seed=seed)

        def progress(stage: str):
            return lambda done, total: ctx.emit(Progress(ctx.call_id, "compose_music", done, total, "bars", stage))

        def critic(piece):
            return music_scores(piece.score, piece.nll, req, gen.index, earlier)

        def propose(r: int, n: int):
            spec = replace(base, temperature=1.0 + 0.08 * r, top_p=0.97, block_strength=2.5 * r,
                           candidates=n, seed=seed + 7919 * r)
            cands = gen.compose(kind, spec, primer, block=True, progress=progress(f"round {r} ({n} candidates)"),
                                should_stop=ctx.should_stop)
            return cands, _spec_params(spec)

        first = gen.compose(kind, base, primer, progress=progress("round 0"), should_stop=ctx.should_stop)
        direction = self.direction_for(ctx)
        cfg = self.revise_config_for(direction)
        result = revise(first, _spec_params(base), propose, critic, cfg,
                        on_round=ctx.report_round)
        piece = result.best
        stem = ctx.file_stem("music")
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        files = {"midi": f"{stem}.mid", "piano_roll": f"{stem}.png"}
        write_atomic(ctx.out_dir / files["midi"], midi_bytes(piece.score, tempo, program, f"Ars Nova {instrument}"))
        piano_roll_png(piece.score, ctx.out_dir / files["piano_roll"],
                       f"{key.name}  {meter}  {piece.score.bars} bars  {tempo:g} bpm  {instrument}")
        if render_wav(piece.score, tempo, program, ctx.out_dir / f"{stem}.wav"):
            files["wav"] = f"{stem}.wav"
        s = result.best_scores
        limits = _limits(result) + (("token budget",) if piece.hit_limit else ())
        summary = (f"Composed {piece.score.bars} bars in {key.name}, {meter}, {tempo:g} bpm for {instrument} "
                   f"({kind}); quality {s.quality:.2f}, novelty {s.novelty:.2f}, adherence {s.adherence:.2f}; "
                   f"novelty by round {_novelty_trail(result)}, kept round {result.best_round}; file {files['midi']}")
        return Artifact(
            kind="music", tool="compose_music", args=dict(args), seed=seed, model=gen.model_id(kind),
            round=result.best_round, scores=s, files=files, summary=summary, trajectory=result.trajectory,
            limits_hit=limits, id=stem, turn=ctx.turn, revision=_revision_record(direction, cfg, result),
        )


    # ---- poems ------------------------------------------------------------------------------
    def write_poem(self, args: dict, ctx: ToolContext) -> Artifact:
        import numpy as np
        import torch

        from agent.critics import PoemContext, poem_scores
        from models.errors import UserFixableError
        from models.poet import SampleSettings
        from models.poetry_forms import plan_form, style_profile
        from models.poetry_page import poem_markdown

        lang = (args.get("language") or "english").strip().lower()
        if lang not in ("english", "en", "en-us", "en-gb"):
            raise UserFixableError(f"language {args['language']!r}: the poets here write English only; omit language")
        seed = int(args["seed"]) if args.get("seed") is not None else ctx.base_seed
        topic = args["topic"]
        direction = self.direction_for(ctx)
        style = style_profile(direction[6:]) if direction.startswith("style:") else None
        form = style.form if style else (args.get("form") or "free")  # "more like X" takes X's form
        plan = plan_form(form, args.get("lines"), np.random.default_rng(seed), scheme=style.scheme if style else None,
                         meter=style.meter if style else None)
        kit = self._model("poet", ctx, "write_poem", "the poet")
        torch.set_num_threads(self.threads)
        q = kit.embed([topic])[0]
        earlier = []
        for a in ctx.earlier:
            if a.kind == "poem" and (ctx.out_dir / a.files["poem"]).exists():
                earlier.append(kit.embed([_poem_body(ctx.out_dir / a.files["poem"])])[0])
        pctx = PoemContext(plan, kit.indexes, kit.baseline_vecs @ q, tuple(earlier), kit.val_nll)
        total = len(plan.lines)

        def progress(stage: str):
            return lambda i, line: ctx.emit(Progress(ctx.call_id, "write_poem", i + 1, total, "lines", f"{stage}: {line[:60]}"))

        def write(settings: SampleSettings, s: int, stage: str):
            poem = kit.poet.write(topic + (f", in the manner of {style.name}" if style else ""), plan, seed=s,
                                  settings=settings, on_line=progress(stage), cancelled=ctx.should_stop)
            return poem, settings, s

        def critic(item):
            poem, _, _ = item
            vec = kit.embed([poem.text])[0]
            nll = kit.poet.lm.nll(kit.poet.lm.prompt(topic, poem.keywords, plan.form), poem.text)
            return poem_scores(poem.lines, nll, float(vec @ q), vec, pctx)

        base = SampleSettings(temperature=0.8, top_p=0.9, candidates=12)
        if style:
            base = replace(base, meter_weight=style.meter_weight)

        def propose(r: int, n: int):
            # corpus n-gram blocking does the pushing; a little more temperature widens the search
            sets = replace(base, temperature=base.temperature + 0.05 * r, top_p=0.95, block_n=5 if r == 1 else 4)
            seeds = [seed + 7919 * r + k for k in range(n)]
            return [write(sets, sd, f"round {r}") for sd in seeds], _poem_params(sets, seeds[0])

        cfg = self.revise_config_for(direction)
        cfg = replace(cfg, candidates=min(cfg.candidates, 2))
        result = revise([write(base, seed, "round 0")], _poem_params(base, seed), propose, critic, cfg,
                        on_round=ctx.report_round)
        poem, used, used_seed = result.best
        s = result.best_scores
        stem = ctx.file_stem("poem")
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        files = {"poem": f"{stem}.md"}
        meta = {"title": poem.title, "form": plan.form, "scheme": plan.scheme, "topic": topic, "seed": used_seed,
                "model": kit.model_id, "keywords": poem.keywords, "round": result.best_round}
        write_atomic_text(ctx.out_dir / files["poem"], poem_markdown(poem, meta, s))
        misses = [i + 1 for i, r in enumerate(poem.line_results) if not r.ok]
        limits = _limits(result) + ((f"form missed on line(s) {', '.join(map(str, misses))}",) if misses else ())
        summary = (f"Wrote a {plan.form} \"{poem.title}\" ({len(poem.lines)} lines"
                   f"{', ' + plan.scheme if any(c != '-' for c in plan.scheme) else ''}); quality {s.quality:.2f}, "
                   f"novelty {s.novelty:.2f}, adherence {s.adherence:.2f}; 5-gram copy rate "
                   f"{s.metrics['copy_rate_5']:.1%}; novelty by round {_novelty_trail(result)}; file {files['poem']}")
        return Artifact(
            kind="poem", tool="write_poem", args=dict(args), seed=used_seed, model=kit.model_id,
            round=result.best_round, scores=s, files=files, summary=summary, trajectory=result.trajectory,
            limits_hit=limits, id=stem, turn=ctx.turn, revision=_revision_record(direction, cfg, result),
        )

    # ---- images -----------------------------------------------------------------------------
    def generate_image(self, args: dict, ctx: ToolContext) -> Artifact:
        import numpy as np
        import torch
        from PIL import Image

        from agent.critics import ImageContext, image_scores, stray_colours
        from agent.export import app_version
        from models.errors import UserFixableError
        from models.image_io import save_png
        from models.image_metrics import features

        kit = self._model("image", ctx, "generate_image", "the image model")
        torch.set_num_threads(self.threads)
        default = 256 if kit.kind == "embedded" else 512
        w, h = int(args.get("width") or default), int(args.get("height") or default)
        if kit.kind == "sd" and (w % 8 or h % 8 or max(w, h) > 1024):
            raise UserFixableError(f"width and height must be multiples of 8 up to 1024 for this model (got {w}x{h})")
        if kit.kind == "embedded" and max(w, h) > 1024:
            raise UserFixableError(f"width and height go up to 1024 (got {w}x{h}); the model draws "
                                   f"{kit.native}x{kit.native} and the result is upscaled")
        steps = int(args.get("steps") or 25)
        guidance = float(args["guidance"]) if args.get("guidance") is not None else (3.0 if kit.kind == "embedded" else 7.0)
        seed = int(args["seed"]) if args.get("seed") is not None else ctx.base_seed
        prompt, negative = args["prompt"], args.get("negative_prompt")
        # start from the closest exemplar (embedded model with a library), redrawn this much
        use_exemplar = kit.exemplars is not None and args.get("exemplar", True) is not False
        variation = float(args["variation"]) if args.get("variation") is not None else DEFAULT_VARIATION
        earlier = []
        for a in ctx.earlier:
            if a.kind == "image" and (ctx.out_dir / a.files["image"]).exists():
                with Image.open(ctx.out_dir / a.files["image"]) as im:
                    earlier.append(features(np.asarray(im.convert("RGB"))))
        ictx = ImageContext(kit.index, tuple(earlier))

        def run(seeds: list[int], g: float, stage: str, negative: str | None, v: float):
            starts = kit.pick_exemplars(prompt, seeds) if use_exemplar and v < 1.0 else None
            arrs = kit.generate(prompt, negative, (w, h), steps, g, seeds, should_stop=ctx.should_stop,
                                progress=lambda d, t: ctx.emit(Progress(ctx.call_id, "generate_image", d, t, "steps", stage)),
                                exemplars=starts, strength=v)
            batch = tuple(seeds) if kit.batch_size > 1 and len(seeds) > 1 else None  # drawn together
            return [_Drawing(a, sd, g, negative, batch, starts[k] if starts else None, v if starts else None)
                    for k, (a, sd) in enumerate(zip(arrs, seeds))]

        def critic(item):
            return image_scores(item.pixels, prompt, ictx)

        kept: list = []  # the best scores so far, for the next round's negative prompt

        def on_round(rec) -> None:
            if rec.chosen:
                kept.append(rec.scores)
            ctx.report_round(rec)

        steer = negative  # the negative prompt of the rounds to come: the user's, or the last stray colours

        def propose(r: int, n: int):
            nonlocal steer
            g = guidance + 1.0 * r  # follow the prompt harder as the seeds move away from round 0
            seeds = [seed + 7919 * r + k for k in range(n)]
            # redraw more of the exemplar each round: away from the training picture, toward novelty
            v = min(1.0, variation + VARIATION_STEP * r)
            params = {"seeds": seeds, "guidance": g, "steps": steps, **({"variation": v} if use_exemplar else {})}
            stray = stray_colours(kept[-1]) if kept and not negative else []
            if stray:  # steer away from the colours that came out instead of the ones asked for
                steer = params["negative_prompt"] = " ".join(stray)
            return run(seeds, g, f"round {r} ({n} candidates)", steer, v), params

        direction = self.direction_for(ctx)
        cfg = self.revise_config_for(direction)
        first_seeds = [seed + k for k in range(int(args.get("candidates") or 1))]
        redraw = [int(x) for x in args.get("batch_seeds") or ()]  # `arsnova image --from-png`: that batch
        if redraw and seed in redraw:
            first = [it for it in run(redraw, guidance, "redraw", negative, variation) if it.seed == seed]
        else:
            first = run(first_seeds, guidance, "round 0" + (f" ({len(first_seeds)} candidates)" if len(first_seeds) > 1 else ""),
                        negative, variation)
        result = revise(first, {"seeds": first_seeds, "guidance": guidance, "steps": steps,
                                **({"variation": variation} if use_exemplar else {})},
                        propose, critic, cfg, on_round=on_round)
        best = result.best
        arr, used_seed, used_g, used_negative, batch = best.pixels, best.seed, best.guidance, best.negative, best.batch
        exemplar, used_v = best.exemplar, best.variation
        im = Image.fromarray(arr)
        upscale = None
        if im.size != (w, h):
            upscale = f"lanczos {im.size[0]}x{im.size[1]} -> {w}x{h}"
            im = im.resize((w, h), Image.Resampling.LANCZOS)
        stem = ctx.file_stem("image")
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        files = {"image": f"{stem}.png"}
        save_png(im, ctx.out_dir / files["image"], {
            "tool": "generate_image", "prompt": prompt, "negative_prompt": used_negative, "seed": used_seed,
            "batch_seeds": list(batch) if batch else None, "steps": steps, "guidance": used_g, "scheduler": kit.scheduler, "model": kit.model_id,
            "exemplar": exemplar, "exemplar_caption": kit.exemplar_caption(exemplar) if exemplar is not None else None,
            "exemplar_recoloured": kit.exemplar_recolour(exemplar, prompt) if exemplar is not None else None,
            "variation": used_v,
            "model_hash": kit.model_hash, "upscale": upscale, "app": "arsnova", "app_version": app_version()})
        s = result.best_scores
        started = (f" from the exemplar \"{kit.exemplar_caption(exemplar)}\" redrawn {used_v:.0%}"
                   if exemplar is not None else "")
        summary = (f"Drew \"{prompt[:60]}\"{started} at {w}x{h}{' (upscaled from ' + str(kit.native) + ' px)' if upscale else ''}; "
                   f"quality {s.quality:.2f}, novelty {s.novelty:.2f}, adherence {s.adherence:.2f}; palette "
                   f"{', '.join(s.metrics['palette']) or '-'}; novelty by round {_novelty_trail(result)}; file {files['image']}")
        return Artifact(
            kind="image", tool="generate_image", args=dict(args), seed=used_seed, model=kit.model_id,
            round=result.best_round, scores=s, files=files, summary=summary, trajectory=result.trajectory,
            limits_hit=_limits(result), id=stem, turn=ctx.turn, revision=_revision_record(direction, cfg, result),
        )

    # ---- style transfer --------------------------------------------------------------------
    def style_transfer(self, args: dict, ctx: ToolContext) -> Artifact:
        import torch

        from agent.critics import style_scores
        from models.image_io import load_rgb, save_png, to_tensor
        from models.style_transfer import (StyleConfig, feature_distances, find_style, parse_style_blend,
                                           shipped_styles_dir, stylize)

        content_path = self._resolve_image(args["content_image"], ctx)
        blend = parse_style_blend(args["style_image"])  # "starry night" or "starry night:0.7 + udnie:0.3"
        style_paths = [find_style(name) for name, _ in blend]
        content_im = load_rgb(content_path)  # every input validated before any work
        style_ims = [load_rgb(p) for p in style_paths]
        style_im, style_path = style_ims[0], style_paths[0]
        seed = int(args["seed"]) if args.get("seed") is not None else ctx.base_seed
        base = StyleConfig(size=int(args.get("size") or 256), steps=int(args.get("steps") or StyleConfig.steps),
                           strength=float(args["strength"]) if args.get("strength") is not None else 0.75,
                           preserve_color=bool(args.get("preserve_color")), seed=seed)
        c_t = to_tensor(content_im)
        styles = [(to_tensor(im), w) for im, (_, w) in zip(style_ims, blend)]
        s_t = styles[0][0]
        stem = ctx.file_stem("styled")
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        vgg = self._model("vgg", ctx, "style_transfer", "VGG19")
        torch.set_num_threads(self.threads)

        def preview(x):
            from models.image_io import from_tensor

            path = ctx.out_dir / f"{stem}-preview.png"
            save_png(from_tensor(x), path, {"preview": True})
            ctx.emit(Preview(ctx.call_id, "style_transfer", str(path)))

        def run(cfg: StyleConfig, stage: str):
            r = stylize(vgg, c_t, styles, cfg, should_stop=ctx.should_stop, preview=preview,
                        progress=lambda d, t, sc: ctx.emit(Progress(ctx.call_id, "style_transfer", d, t, "iterations",
                                                                    f"{stage} · {sc}")))
            return r, cfg

        def critic(pair):
            r, _ = pair
            dists = feature_distances(vgg, to_tensor(r.image), c_t, s_t)
            return style_scores(r.image, content_im, style_im, (r.style_loss_start, r.style_loss_end, r.content_loss_end), dists)

        def propose(rnd: int, n: int):
            # one candidate per round (each is a full optimisation): push the style harder
            cfg = replace(base, strength=min(1.0, base.strength + 0.1 * rnd), seed=seed + rnd, noise=0.1)
            return [run(cfg, f"round {rnd}")], {"strength": cfg.strength, "steps": cfg.steps, "seed": cfg.seed}

        direction = self.direction_for(ctx)
        cfg = self.revise_config_for(direction)
        cfg = replace(cfg, max_rounds=min(cfg.max_rounds, 1), candidates=1)
        params0 = {"strength": base.strength, "steps": base.steps, "seed": seed, "size": base.size}
        try:
            result = revise([run(base, "round 0")], params0, propose, critic, cfg,
                            on_round=ctx.report_round)
        finally:  # the preview was for watching; only finished results stay in the session
            (ctx.out_dir / f"{stem}-preview.png").unlink(missing_ok=True)
        best, used = result.best
        s = result.best_scores
        files = {"image": f"{stem}.png"}
        save_png(best.image, ctx.out_dir / files["image"], {
            "tool": "style_transfer", "content_image": _recorded(content_path, ctx.out_dir),
            "style_image": " + ".join(f"{_recorded(p, shipped_styles_dir())}:{w:g}" for p, (_, w) in zip(style_paths, blend)),
            "strength": used.strength, "size": used.size, "steps": used.steps, "seed": used.seed,
            "preserve_color": used.preserve_color, "model": vgg.name, "app": "arsnova"})
        summary = (f"Restyled {Path(content_path).name} after {Path(style_path).stem} at {best.image.size[0]}x"
                   f"{best.image.size[1]} (strength {used.strength:.2f}); style loss {s.metrics['style_loss_ratio']:.1f}x "
                   f"lower; quality {s.quality:.2f}, novelty {s.novelty:.2f}, adherence {s.adherence:.2f}; "
                   f"novelty by round {_novelty_trail(result)}; file {files['image']}")
        return Artifact(
            kind="styled_image", tool="style_transfer", args=dict(args), seed=used.seed, model=vgg.name,
            round=result.best_round, scores=s, files=files, summary=summary, trajectory=result.trajectory,
            limits_hit=_limits(result), id=stem, turn=ctx.turn, revision=_revision_record(direction, cfg, result),
        )

    def _resolve_image(self, ref: str, ctx: ToolContext) -> Path:
        """A path, or '@last' for the newest image of the session."""
        from models.errors import InputFileError

        if ref.strip().lower() in ("@last", "last", "the last image"):
            for a in reversed(ctx.earlier):
                if a.kind in ("image", "styled_image"):
                    return ctx.out_dir / a.files["image"]
            raise InputFileError("there is no image in this session yet; give content_image as a file path")
        return Path(ref).expanduser()


def _recorded(path: Path, home: Path) -> str:
    """A path as a PNG records it: a file of the session or a shipped painting by its name (the
    same picture made in another session, or another install, carries the same bytes); a
    person's own file by the path they gave."""
    p = Path(path)
    return p.name if p.resolve().parent == Path(home).resolve() else str(p)


def _limits(result) -> tuple[str, ...]:
    return ("revision round limit",) if result.stopped == "round limit" else ()


def _novelty_trail(result) -> str:
    """'0.83 → 1.00': the kept candidate's novelty, round by round."""
    return " → ".join(f"{r.scores.novelty:.2f}" for r in result.trajectory)


def _revision_record(direction: str, cfg: ReviseConfig, result) -> dict:
    """What the manifest says about revision: the settings used and why it stopped."""
    return {"direction": direction, "max_rounds": cfg.max_rounds, "candidates": cfg.candidates, "target": cfg.target,
            "quality_floor": cfg.quality_floor, "stopped": result.stopped}


def _poem_params(s, seed: int) -> dict:
    return {"temperature": round(s.temperature, 3), "top_p": s.top_p, "block_n": s.block_n,
            "candidates_per_line": s.candidates, "seed": seed}


def _poem_body(path: Path) -> str:
    """The poem text of a poem page (between the front matter and the scansion section)."""
    from models.poetry_page import read_poem_lines

    return "\n".join(read_poem_lines(path.read_text(encoding="utf-8")))


def write_atomic_text(path: Path, text: str) -> None:
    from models.files import write_atomic

    write_atomic(path, text.encode("utf-8"))


def _spec_params(spec) -> dict:
    return {"temperature": round(spec.temperature, 3), "top_p": spec.top_p, "block_strength": spec.block_strength,
            "seed": spec.seed, "key": spec.key.name, "meter": spec.meter, "bars": spec.bars, "style": spec.style,
            "density": spec.density}


def make_studio(weights_dir: Path | None = None, threads: int | None = None,
                revise_config: ReviseConfig | None = None, encoder: Callable | None = None,
                vgg_factory: Callable | None = None, poet: str | None = None,
                cache_dir: Path | None = None, image_model: str | None = None) -> Studio:
    from models.music_generator import MusicGenerator, default_weights_dir

    n = threads or max(1, (os.cpu_count() or 2) - 1)  # leave a core for the UI and the planner

    def poet_factory(spec: str | None = poet):
        from models.encoder import load_encoder
        from models.poet import load_poet_kit

        return load_poet_kit(weights_dir or default_weights_dir(), spec, (encoder or load_encoder)(), cache_dir)

    def image_factory(spec: str | None = image_model):
        from models.encoder import load_encoder
        from models.image_generator import load_image_kit

        return load_image_kit(spec, weights_dir or default_weights_dir(), encoder or load_encoder)

    return Studio(music_factory=lambda: MusicGenerator.from_dir(weights_dir, n),
                  revise_config=revise_config or ReviseConfig(), encoder=encoder, threads=n, vgg_factory=vgg_factory,
                  poet_factory=poet_factory, image_factory=image_factory)
