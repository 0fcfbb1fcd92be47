"""compose_music: a piece for a mood, key, tempo, length, meter and instrument, or a primer continued.

The pipeline, in order: 1. defaults and checks (a primer, read first, lends its key and meter
unless they were asked for; a mood gives density, tempo and mode), 2. the round-0 piece,
3. critique (scale, entropy, groove, range, fluency; melody copy rate; key, bars, meter,
tempo), 4. revise within bounds (hotter sampling and corpus n-gram blocking each round),
5. MIDI, piano roll and WAV when a synthesiser is installed, 6. the summary.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from pydantic import Field, field_validator

from tools import slots
from tools.artifacts import Artifact
from tools.base import ToolContext, ToolSpec, call_tool, limits_of, novelty_trail, revision_record
from tools.revise import revise
from models.music.tokens import METERS, STYLES, parse_key
from tools.schemas import SEED, Strict, no_nul

# mood word -> (density token, default tempo, default mode)
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
_MOOD_RE = re.compile(rf"\b({'|'.join(MOODS)})\b", re.IGNORECASE)


class ComposeMusicArgs(Strict):
    mood: str | None = Field(default=None, max_length=60, description="e.g. calm, sad, lively, solemn")
    key: str | None = Field(default=None, max_length=20, description="e.g. 'D minor', 'F# major'")
    tempo: int | None = Field(default=None, ge=20, le=300, description="beats per minute")
    bars: int | None = Field(default=None, ge=1, le=128, description="number of bars to compose")
    meter: Literal[METERS] | None = Field(default=None, description="time signature")  # type: ignore[valid-type]
    instrument: str | None = Field(default=None, max_length=40, description="e.g. piano, violin, flute, organ")
    style: Literal[STYLES] | None = Field(default=None, description="corpus style")  # type: ignore[valid-type]
    primer_midi: str | None = Field(default=None, max_length=4096, description="a MIDI file to continue")
    model: Literal["transformer", "rnn"] | None = Field(default=None, description="which music model")
    seed: int | None = SEED

    _t = field_validator("mood", "primer_midi", "instrument")(no_nul)

    @field_validator("key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is None:
            return v
        return parse_key(v).name  # ValueError names the accepted forms

    @field_validator("instrument")
    @classmethod
    def _instrument(cls, v: str | None) -> str | None:
        from models.music.midi_io import INSTRUMENTS

        if v is None:
            return v
        low = v.lower().strip()
        if low.endswith("s") and low[:-1] in INSTRUMENTS:
            low = low[:-1]
        if low not in INSTRUMENTS:
            raise ValueError(f"unknown instrument {v!r}; known: {', '.join(sorted(INSTRUMENTS))}")
        return low


@tool("compose_music", args_schema=ComposeMusicArgs, response_format="content_and_artifact")
def compose_music(config: RunnableConfig, **kwargs):
    """Compose a piece of music as MIDI (with a piano-roll picture).

    Use for any request for music, a tune, melody, song, chorale, jig, reel or waltz.
    mood sets the feel (calm, sad, lively...), key like 'D minor', tempo in bpm, bars
    to compose, meter like '3/4', instrument like piano or violin, style one of the
    corpus styles (chorale, folk, irish, scottish, english), primer_midi a MIDI file
    to continue, model 'transformer' (default) or 'rnn'.
    """
    return call_tool("compose_music", run, kwargs, config)


def run(args: dict, ctx: ToolContext) -> Artifact:
    from models.common.files import write_atomic
    from models.music.midi_io import INSTRUMENTS, midi_bytes, piano_roll_png, read_midi, render_wav
    from models.music.sample import SampleSpec
    from models.music.tokens import Key
    from tools.critics.music import MusicRequest, melody_profile, music_scores

    # 1. defaults and checks
    gen = ctx.model("music", "the music models")
    kind = args.get("model") or gen.default_kind()
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
    seed = ctx.seed(args)
    total_bars = bars + (primer.bars if primer else 0)
    req = MusicRequest(key, total_bars, meter, tempo)
    earlier = [melody_profile(read_midi(p)) for p in ctx.earlier_files("music", "midi")]
    base = SampleSpec(key=key, meter=meter, bars=bars, style=style, density=density, seed=seed)

    def critic(piece):
        return music_scores(piece.score, piece.nll, req, gen.index, earlier)

    def propose(r: int, n: int):
        spec = replace(base, temperature=1.0 + 0.08 * r, top_p=0.97, block_strength=2.5 * r,
                       candidates=n, seed=seed + 7919 * r)
        cands = gen.compose(kind, spec, primer, block=True, progress=ctx.progress("bars", f"round {r} ({n} candidates)"),
                            should_stop=ctx.should_stop)
        return cands, _params(spec)

    # 2. the round-0 piece; 3.-4. critique, and revise within bounds
    first = gen.compose(kind, base, primer, progress=ctx.progress("bars", "round 0"), should_stop=ctx.should_stop)
    direction = ctx.direction()
    cfg = ctx.revise_config()
    result = revise(first, _params(base), propose, critic, cfg, on_round=ctx.report_round)
    piece = result.best

    # 5. MIDI, piano roll, WAV
    stem = ctx.stem("music")
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    files = {"midi": f"{stem}.mid", "piano_roll": f"{stem}.png"}
    write_atomic(ctx.out_dir / files["midi"], midi_bytes(piece.score, tempo, program, f"Ars Nova {instrument}"))
    piano_roll_png(piece.score, ctx.out_dir / files["piano_roll"],
                   f"{key.name}  {meter}  {piece.score.bars} bars  {tempo:g} bpm  {instrument}")
    if render_wav(piece.score, tempo, program, ctx.out_dir / f"{stem}.wav", ctx.host.resources.soundfont):
        files["wav"] = f"{stem}.wav"

    # 6. summary
    s = result.best_scores
    limits = limits_of(result) + (("token budget",) if piece.hit_limit else ())
    summary = (f"Composed {piece.score.bars} bars in {key.name}, {meter}, {tempo:g} bpm for {instrument} "
               f"({kind}); quality {s.quality:.2f}, novelty {s.novelty:.2f}, adherence {s.adherence:.2f}; "
               f"novelty by round {novelty_trail(result)}, kept round {result.best_round}; file {files['midi']}")
    return Artifact(
        kind="music", tool="compose_music", args=dict(args), seed=seed, model=gen.model_id(kind),
        round=result.best_round, scores=s, files=files, summary=summary, trajectory=result.trajectory,
        limits_hit=limits, id=stem, turn=ctx.turn, revision=revision_record(direction, cfg, result),
    )


def _params(spec) -> dict:
    return {"temperature": round(spec.temperature, 3), "top_p": spec.top_p, "block_strength": spec.block_strength,
            "seed": spec.seed, "key": spec.key.name, "meter": spec.meter, "bars": spec.bars, "style": spec.style,
            "density": spec.density}


# ---- how the router knows it --------------------------------------------------------------
def fill_args(seg: str, text: str, history: dict) -> dict:
    """The arguments a request segment states: mood, key, tempo, bars, meter, instrument, style,
    a primer MIDI path, the model, the seed. A follow-up ("again but slower") starts from the
    call it revises (``history["revising"]``): "slower"/"faster" scale the tempo it was played at."""
    from models.music.midi_io import INSTRUMENTS

    base = history.get("revising")
    args: dict[str, Any] = dict(base or {})
    if mood := _MOOD_RE.search(seg):
        args["mood"] = mood.group(1).lower()
    if k := slots.music_key(seg):
        args["key"] = k
    if t := slots.tempo(seg):
        args["tempo"] = t
    if b := slots.bars(seg):
        args["bars"] = b
    if m := slots.meter(seg):
        args["meter"] = m
    if i := slots.instrument(seg, list(INSTRUMENTS)):
        args["instrument"] = i
    if s := slots.music_style(seg):
        args["style"] = s
    mids = [p for p in slots.paths(seg) if p.lower().endswith((".mid", ".midi"))]
    if mids:
        args["primer_midi"] = mids[0]
    if re.search(r"\b(rnn|lstm|recurrent)\b", seg, re.IGNORECASE):
        args["model"] = "rnn"
    elif re.search(r"\btransformer\b", seg, re.IGNORECASE):
        args["model"] = "transformer"
    change = re.search(r"\b(?:(a (?:bit|little|touch)|slightly)\s+)?(slower|faster|quicker)\b", seg, re.IGNORECASE)
    if base is not None and change:
        # the tempo the piece was played at: asked for, else its mood's, else the default 100
        was = base.get("tempo") or MOODS.get(str(base.get("mood") or "").lower(), (None, 100))[1]
        slower = change.group(2).lower() == "slower"
        factor = (0.9 if slower else 1.1) if change.group(1) else (0.8 if slower else 1.25)
        args["tempo"] = max(20, min(300, round(was * factor)))
    return args


SPEC = ToolSpec(
    name="compose_music", tool=compose_music, schema=ComposeMusicArgs, kind="music", bundle_dir="music",
    main_file="midi",
    router_examples=(
        "compose a slow piano piece in D minor", "write a folk tune", "16 bars of music in G major",
        "a lively irish jig", "make some music for the poem", "a Bach-style chorale", "play me a waltz",
        "a melancholy melody on the violin", "give me a tune to go with it", "create a song in 3/4",
        "a happy reel at 120 bpm", "compose something for flute", "continue primer.mid for eight bars",
        "a short soundtrack for the picture", "some background music, calm and quiet",
    ),
    # "again but slower": only music has a tempo, so tempo words name it too
    revise_words=("music", "tune", "melody", "piece", "song", "chorale", "jig", "reel", "waltz", "slower", "faster",
                  "quicker", "tempo"),
    fill_args=fill_args,
)
