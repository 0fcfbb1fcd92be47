"""write_poem: a poem in a given form about a topic.

The pipeline, in order: 1. defaults and checks (English only, the form's plan, the topic's
vector), 2. the round-0 poem, 3. critique (form, sense, fluency, corpus copy rates, topic),
4. revise within bounds (the rewriting poet rewrites more of its corpus sentences each round; the
sampling poet blocks corpus n-grams and adds a little temperature; a revised poem is kept only if
its sense and form stay at or above round 0's), 5. the poem page,
6. the summary. "More like Dickinson" takes the poet's form, scheme and meter.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from pydantic import Field, field_validator

from models.poetry.forms import STYLE_PROFILES
from tools import slots
from tools.artifacts import Artifact
from tools.base import ToolContext, ToolSpec, call_tool, limits_of, novelty_trail, revision_record
from tools.revise import revise
from tools.schemas import SEED, Strict, no_nul

POEM_FORMS = ("free", "haiku", "sonnet", "limerick", "quatrain", "couplet", "tanka", "cinquain", "villanelle")


class WritePoemArgs(Strict):
    topic: str = Field(min_length=1, max_length=2000, description="what the poem is about")
    form: Literal[POEM_FORMS] = Field(default="free", description="poetic form")  # type: ignore[valid-type]
    lines: int | None = Field(default=None, ge=1, le=60, description="number of lines (free verse; stanzas of couplets/quatrains)")
    language: str | None = Field(default=None, max_length=40, description="language, default English")
    poet: str | None = Field(default=None, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
                             description="a poet learned from the person's poems (`arsnova learn poems`)")
    seed: int | None = SEED

    _t = field_validator("topic", "language")(no_nul)


@tool("write_poem", args_schema=WritePoemArgs, response_format="content_and_artifact")
def write_poem(config: RunnableConfig, **kwargs):
    """Write a poem about a topic in a given form.

    Use for poems, verses, haiku, sonnets, limericks, quatrains. form is one of free,
    haiku, sonnet, limerick, quatrain, couplet, tanka, cinquain, villanelle; lines sets
    the length of free verse; language defaults to English; poet names a poet learned
    from the person's poems ("a poem like NAME").
    """
    return call_tool("write_poem", run, kwargs, config)


def run(args: dict, ctx: ToolContext) -> Artifact:
    import numpy as np

    from models.common.errors import UserFixableError
    from models.poetry.poet import SampleSettings
    from models.poetry.rewrite import RewriteSettings, RewritingPoet
    from models.poetry.forms import plan_form
    from models.poetry.page import poem_markdown, read_poem_lines
    from models.common.files import write_atomic
    from tools.critics.poetry import PoemContext, poem_scores

    # 1. defaults and checks
    lang = (args.get("language") or "english").strip().lower()
    if lang not in ("english", "en", "en-us", "en-gb"):
        raise UserFixableError(f"language {args['language']!r}: the poets here write English only; omit language")
    seed = ctx.seed(args)
    topic = args["topic"]
    direction = ctx.direction()
    spec, style = _poet_and_style(args, ctx)
    form = style.form if style else (args.get("form") or "free")  # "more like X" takes X's form
    plan = plan_form(form, args.get("lines"), np.random.default_rng(seed), scheme=style.scheme if style else None,
                     meter=style.meter if style else None)
    kit = ctx.model("poet", f"the learned poet {spec}" if kit_is_learned(spec) else "the poet", spec)
    q = kit.embed([topic])[0]
    earlier = [kit.embed(["\n".join(read_poem_lines(p.read_text(encoding="utf-8")))])[0]
               for p in ctx.earlier_files("poem", "poem")]
    sense_floor = kit.sense_floor() if kit.sense is not None else 0.5
    pctx = PoemContext(plan, kit.indexes, kit.baseline_vecs @ q, tuple(earlier), kit.val_nll, sense_floor,
                       kit.sense_quartiles() if kit.sense is not None else None)
    total = len(plan.lines)

    rewriting = isinstance(kit.poet, RewritingPoet)  # the embedded poet rewriting corpus sentences

    def progress(stage: str):
        return lambda i, line: ctx.progress("lines", f"{stage}: {line[:60]}")(i + 1, total)

    def write(settings: SampleSettings, s: int, stage: str):
        # the sampler's keywords lean toward the author; the rewriter's required topic words must not
        # be the author's name ("more like X" changes its form and scheme)
        about = topic + (f", in the manner of {style.name}" if style and not rewriting else "")
        poem = kit.poet.write(about, plan, seed=s, settings=settings, on_line=progress(stage),
                              cancelled=ctx.should_stop)
        return poem, settings, s

    def critic(item):
        poem, _, _ = item
        vec = kit.embed([poem.text])[0]
        nll = kit.poet.lm.nll(kit.poet.lm.prompt(topic, poem.keywords, plan.form), poem.text)
        sense = kit.sense.poem(poem.lines) if kit.sense is not None else None
        scores = poem_scores(poem.lines, nll, float(vec @ q), vec, pctx, sense)
        if kit.user_indexes is None:
            return scores
        from models.poetry.corpus import word_ids

        ids = word_ids(poem.text)
        extra = {f"copy_rate_5_{kit.learned.name}": kit.user_indexes[5].copy_rate(ids)}
        if (near := kit.style_nearness(vec)) is not None:
            extra.update({f"style_{kit.learned.name}": near[0], "style_random_verse": near[1]})
        return replace(scores, metrics={**scores.metrics, **extra})

    # 2. the round-0 poem's settings
    base = RewriteSettings() if rewriting else SampleSettings(temperature=0.8, top_p=0.9, candidates=12)
    if style and not rewriting:
        base = replace(base, meter_weight=style.meter_weight)

    def propose(r: int, n: int):
        if rewriting:  # each round rewrites more of the corpus sentences (rewrite.RewriteSettings.round)
            sets = replace(base, round=r)
        else:  # corpus n-gram blocking does the pushing; a little more temperature widens the search
            sets = replace(base, temperature=base.temperature + 0.05 * r, top_p=0.95, block_n=5 if r == 1 else 4)
        seeds = [seed + 7919 * r + k for k in range(n)]
        return [write(sets, sd, f"round {r}") for sd in seeds], _params(sets, seeds[0])

    # 3.-4. critique, and revise within bounds
    cfg = ctx.revise_config()
    # the rewriting poet's later rounds rewrite round 0's own sources further: one candidate is the one
    cfg = replace(cfg, candidates=min(cfg.candidates, 1 if rewriting else 2))
    result = revise([write(base, seed, "round 0")], _params(base, seed), propose, critic, cfg,
                    on_round=ctx.report_round, keeps=never_worse)
    poem, used, used_seed = result.best
    s = result.best_scores

    # 5. the poem page
    stem = ctx.stem("poem")
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    files = {"poem": f"{stem}.md"}
    meta = {"title": poem.title, "form": plan.form, "scheme": plan.scheme, "topic": topic, "seed": used_seed,
            "model": kit.model_id, "keywords": poem.keywords, "round": result.best_round, "route": poem.route}
    write_atomic(ctx.out_dir / files["poem"], poem_markdown(poem, meta, s).encode("utf-8"))

    # 6. summary
    misses = [i + 1 for i, r in enumerate(poem.line_results) if not r.ok]
    limits = limits_of(result) + ((f"form missed on line(s) {', '.join(map(str, misses))}",) if misses else ())
    sense = (f"sense {s.metrics['sense']:.2f} (real verse from {s.metrics['sense_floor']:.2f}; by round "
             f"{' → '.join(format(r.scores.metrics['sense'], '.2f') for r in result.trajectory)}), "
             if "sense" in s.metrics else "")
    summary = (f"Wrote a {plan.form} \"{poem.title}\" ({len(poem.lines)} lines"
               f"{', ' + plan.scheme if any(c != '-' for c in plan.scheme) else ''}); form {_form(s):.2f}, "
               f"{sense}quality {s.quality:.2f}, "
               f"novelty {s.novelty:.2f}, adherence {s.adherence:.2f}; 5-gram copy rate "
               f"{s.metrics['copy_rate_5']:.1%}{_copies(kit, result)}; novelty by round {novelty_trail(result)}; "
               f"file {files['poem']}")
    return Artifact(
        kind="poem", tool="write_poem", args=dict(args), seed=used_seed, model=kit.model_id,
        round=result.best_round, scores=s, files=files, summary=summary, trajectory=result.trajectory,
        limits_hit=limits, id=stem, turn=ctx.turn,
        revision={**revision_record(direction, cfg, result), "novelty_against": kit.novelty_corpora},
    )


def kit_is_learned(spec: str | None) -> bool:
    from models.common.learned import is_learned_name

    from models.poetry.kit import REWRITE, SAMPLE

    return bool(spec) and ":" not in str(spec) and spec not in ("embedded", REWRITE, SAMPLE) and is_learned_name(spec)


def _poet_and_style(args: dict, ctx: ToolContext):
    """(the poet spec, the style profile). "More like NAME": a poet learned from NAME's poems —
    the person's own (`arsnova learn poems`) or one shipped (Shakespeare's sonnets) — writes, and
    NAME's style profile (form, scheme, meter), where there is one, shapes the poem; else the
    call's or the turn's poet with the profile."""
    from models.common.errors import UserFixableError
    from models.poetry.forms import style_profile

    spec = args.get("poet") or ctx.settings.poet
    like = (ctx.ask.like or "").strip()
    if not like:
        return spec, None
    word = like.split()[-1].lower().removesuffix("'s")
    profile = style_profile(like) if word in STYLE_PROFILES else None
    if kit_is_learned(word):
        from models.common.learned import find_learned
        from models.poetry.kit import AUTHORS_DIR

        authors = ctx.host.weights_dir / AUTHORS_DIR if getattr(ctx.host, "weights_dir", None) else None
        try:
            return find_learned(getattr(ctx.host, "data_dir", None), "poet", word, authors).name, profile
        except UserFixableError:
            pass  # no poet learned from NAME: the profile alone (or the list of known authors)
    return spec, profile or style_profile(like)


def _copies(kit, result) -> str:
    """For a learned poet: its poems' 5-grams copied, round by round."""
    if kit.learned is None:
        return ""
    key = f"copy_rate_5_{kit.learned.name}"
    trail = " → ".join(f"{r.scores.metrics.get(key, 0):.1%}" for r in result.trajectory)
    m = result.best_scores.metrics
    near = (f"; nearness to {kit.learned.name}'s poems {m[f'style_{kit.learned.name}']:.2f} (random verse "
            f"{m['style_random_verse']:.2f})") if f"style_{kit.learned.name}" in m else ""
    return f" (of {kit.learned.name}'s poems by round {trail}){near}"


def _form(s) -> float:
    m = s.metrics
    return (m["syllables_ok"] + m["rhymes_ok"] + m["line_count_ok"]) / 3


def never_worse(cand, first) -> bool:
    """A revised poem is kept only if its sense and its form are at or above round 0's."""
    sense_ok = cand.metrics.get("sense", 1.0) >= first.metrics.get("sense", 1.0) - 1e-9
    return sense_ok and _form(cand) >= _form(first) - 1e-9


def _params(s, seed: int) -> dict:
    if not hasattr(s, "temperature"):  # the rewriting poet: how much of its sources it rewrites
        return {"rewrite_round": s.round, "seed": seed}
    return {"temperature": round(s.temperature, 3), "top_p": s.top_p, "block_n": s.block_n,
            "candidates_per_line": s.candidates, "seed": seed}


# ---- how the router knows it --------------------------------------------------------------
def fill_args(seg: str, text: str, history: dict) -> dict:
    """The arguments a request segment states: form (named, described, or the closest the poet
    writes), lines, language; the topic. A follow-up ("the first one again, but as a sonnet")
    starts from the call it revises (``history["revising"]``) and changes what it states."""
    form, lines = slots.poem_form(seg)
    base = history.get("revising")
    if base is not None:
        args: dict[str, Any] = dict(base)
        if said := slots.subject(seg):
            args["topic"] = said
        if form:
            args["form"] = form
            args.pop("lines", None)
    else:
        args = {"topic": slots.topic(seg)}
        if form:
            args["form"] = form
    if lines:
        args["lines"] = lines
    if lang := slots.language(seg):
        args["language"] = lang
    return args


SPEC = ToolSpec(
    name="write_poem", tool=write_poem, schema=WritePoemArgs, kind="poem", bundle_dir="poems", main_file="poem",
    router_examples=(
        "write a poem about the sea", "a haiku about first snow", "compose a sonnet on lost love",
        "give me a limerick about a cat", "verses about autumn rain", "a short poem for my mother",
        "rhyme something about the moon", "pen a few lines of verse about city nights",
        "a quatrain on the passing of time", "write me some poetry about hope", "an ode to coffee",
        "twelve lines of free verse about the river", "a poem in Chinese about mountains",
        "I'd like some lyrical lines about winter", "could you versify the feeling of leaving home",
    ),
    # "more like Dickinson" revises the poem, whatever was made last: the poets are poem words
    revise_words=("poem", "verse", "haiku", "sonnet", "limerick", "lines", "words", "quatrain", "lyrics",
                  *STYLE_PROFILES),
    fill_args=fill_args,
)
