"""compose_music: a piece for a mood, key, tempo, length, meter and instrument, or a primer continued.

The pipeline, in order: 1. defaults and checks (a primer, read first, lends its key and meter
unless they were asked for; a mood gives density, tempo and mode; the form — AABB for dances,
AABA for songs, AAB for chorales, or as asked — and the accompaniment give a phrase plan),
2. the round-0 piece, sampled to the plan (cadences, tonic start and end, sections written
out), with its parts written under the melody (an accompaniment from the chord model, or a
chorale's alto, tenor and bass from the chorale network), 3. critique (scale, entropy, groove,
range, fluency; tonal centre, cadences, form, texture, voice leading; melody copy rate; key, bars,
meter, tempo), 4. revise within bounds (hotter sampling and corpus n-gram blocking each round; a candidate
under any critic's floor is never kept for its novelty), 5. MIDI (a named track per part),
piano roll and WAV when a synthesiser is installed, 6. the summary.
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
from models.music.plan import FORMS, form_letters
from models.music.sample import STYLE_SHAPES
from models.music.tokens import METERS, STYLES, church_mode, parse_key
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
ACCOMPANIMENTS = ("none", "auto", "waltz", "alberti", "broken", "block")
# dance tunes come in two repeated 8-bar strains; songs, waltzes, lullabies and slow pieces restate
_DANCE_RE = re.compile(r"\b(jigs?|reels?|hornpipes?|polkas?|strathspeys?|marches|march)\b", re.IGNORECASE)
_SONG_RE = re.compile(r"\b(songs?|waltz(?:es)?|lullab(?:y|ies)|nocturnes?|air|ballad|slow)\b", re.IGNORECASE)
_FORM_RE = re.compile(r"\b(aabb|aaba|abab|aab|aba|rondo|through[- ]composed)\b", re.IGNORECASE)
# words asking for a melody with harmony underneath (a piano piece is accompanied; a folk tune is one line)
_ACCOMP_RE = re.compile(r"\b(with (?:an? )?(?:piano )?accompaniment|accompanied|piano|waltz(?:es)?|songs?|lullab(?:y|ies)|"
                        r"nocturnes?|with chords|harmoni[sz]ed)\b", re.IGNORECASE)
_HYMN_RE = re.compile(r"\bhymn", re.IGNORECASE)


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
    composer: str | None = Field(default=None, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
                                 description="a composer learned from the person's pieces (`arsnova learn music`)")
    form: Literal[FORMS] | None = Field(default=None, description="section form: AABB, AABA, ABA, rondo...")  # type: ignore[valid-type]
    accompaniment: Literal[ACCOMPANIMENTS] | None = Field(  # type: ignore[valid-type]
        default=None, description="harmony under the melody: auto, waltz, alberti, broken, block or none")
    seed: int | None = SEED

    _t = field_validator("mood", "primer_midi", "instrument")(no_nul)

    @field_validator("key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is None:
            return v
        key = parse_key(v)  # ValueError names the accepted forms
        mode = church_mode(v)  # kept as asked, so the summary can say how it was written
        return f"{key.name.split()[0]} {mode}" if mode else key.name

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
    to continue, model 'transformer' (default) or 'rnn', composer the name of a composer
    learned from the person's pieces ("in the style of NAME"), form a section form (AABB,
    AABA, ABA, rondo; dances default to AABB, songs to AABA), accompaniment chords
    under the melody (auto, waltz, alberti, broken, block, none).
    """
    return call_tool("compose_music", run, kwargs, config)


def run(args: dict, ctx: ToolContext) -> Artifact:
    from models.common.files import write_atomic
    from models.music.midi_io import INSTRUMENTS, midi_bytes, piano_roll_png, read_midi, render_wav
    from models.music.plan import make_plan
    from models.music.sample import SampleSpec
    from models.music.tokens import Key
    from tools.critics.music import MusicRequest, default_phrase_bars, melody_profile, music_scores

    # 1. defaults and checks
    gen, kind = _generator(args.get("composer") or ctx.settings.composer, args.get("model"), ctx)
    learned = gen.defaults  # tempo, meter, key and style read from a learned composer's pieces
    density, mood_tempo, mood_mode = MOODS.get((args.get("mood") or "").lower(),
                                               (learned.get("density", "moderate"), learned.get("tempo", 100), None))
    # a primer, read before any sampling, lends its key and meter unless they were asked for
    primer = read_midi(Path(args["primer_midi"])) if args.get("primer_midi") else None
    if args.get("key"):
        key = parse_key(args["key"])
    elif primer is not None:
        key = primer.key
    elif learned.get("key") and (mood_mode is None or learned["key"].endswith(mood_mode)):
        key = parse_key(learned["key"])
    else:
        key = Key(2, "minor") if mood_mode == "minor" else Key(7, "major")
    tempo = float(args.get("tempo") or mood_tempo)
    meter = args.get("meter") or (primer.meter if primer is not None else learned.get("meter", "4/4"))
    if primer is not None and (primer.meter != meter or primer.key != key):
        primer = read_midi(Path(args["primer_midi"]), key=key, meter=meter)
    style = args.get("style") or ("chorale" if args.get("instrument") in ("organ", "choir") else learned.get("style", "folk"))
    form = args.get("form") or default_form(style, density, meter, None if primer is not None else args.get("bars"))
    bars = int(args.get("bars") or (32 if form == "AABB" and primer is None else 16))
    # a dance tune (a jig, reel, hornpipe, polka...): its own tempo where none was given (a planner's
    # call with style and meter only), lifted when lively; its rhythm kept to the dance (``_dance_shape``)
    dance = slots.dance_of_meter(meter, args.get("tempo")) if is_dance(style, density, meter, form) else None
    if dance is not None and not args.get("tempo"):
        tempo = float(slots.dance_tempo(dance, str(args.get("mood") or "")))
    if dance is not None and not args.get("mood"):
        density = "lively"  # running eighths: about two onsets a crotchet, the corpus's lively bin
    instrument = (args.get("instrument") or "piano").lower()
    program = INSTRUMENTS.get(instrument, 0)
    accompaniment = _accompaniment(args, style, form, meter, density)
    seed = ctx.seed(args)
    total_bars = bars + (primer.bars if primer else 0)
    phrase_bars = default_phrase_bars(style, bars)
    plan = make_plan(key, bars, form, phrase_bars)
    # the plan's sections cover the new bars only: after a primer, any restatement counts; a form
    # with no section restated (a dance's two strains written once each, AB) asks nothing to recur
    heard_form = plan.form if len(set(form_letters(plan.form))) < len(form_letters(plan.form)) else "through"
    req = MusicRequest(key, total_bars, meter, tempo, form=None if primer else heard_form, phrase_bars=phrase_bars,
                       style=style, form_asked=bool(args.get("form")) and primer is None)
    earlier = [melody_profile(read_midi(p)) for p in ctx.earlier_files("music", "midi")]
    chorale = style == "chorale"
    # under a chorale's soprano or an accompanied melody the parts are written, so the model samples one line
    parts = chorale or accompaniment != "none"
    base = SampleSpec(key=key, meter=meter, bars=bars, style=style, density=density, seed=seed, plan=plan.guides,
                      max_chord=1 if parts else 4,
                      pitch_range=(60, 79) if chorale else (62, 88) if parts else None,
                      onset_grid=4 if chorale else 2 if dance in RUNNING_DANCES else 1,
                      # the melody kept from reciting (repeats, range) and a dance to its rhythm; a
                      # learned composer's own style is left as it is
                      shape=None if gen.learned is not None else _dance_shape(dance) if dance else
                      STYLE_SHAPES["chorale" if chorale else "song"])
    chords = gen.chords if parts else None
    prefix = primer.bars if primer else 0
    cadences = (None,) * prefix + plan.cadences

    def finish(pieces):
        """The parts under each sampled melody: a chorale's alto, tenor and bass, or an
        accompaniment (the plan's cadences fixed in their harmony)."""
        if chords is None:
            return pieces
        from models.music.accompany import accompany
        from models.music.analysis import melody_part
        from models.music.chorale import harmonise_chorale

        out = []
        for p in pieces:
            melody = melody_part(p.score, legato=chorale)
            if chorale:
                score = harmonise_chorale(melody, key, chords, cadences, net=gen.chorale_net)[0]
            else:
                score = accompany(melody, key, chords, cadences, accompaniment).score
            out.append(replace(p, score=score))
        return out

    user = gen.user_index  # a learned composer's own pieces: novelty is measured against them too

    def critic(piece):
        scores = music_scores(piece.score, piece.nll, req, gen.novelty_index, earlier)
        if user is None:
            return scores
        from models.music.sample import score_melody

        melody = score_melody(piece.score)
        return replace(scores, metrics={**scores.metrics, "copy_rate_builtin": gen.index.copy_rate(melody),
                                        f"copy_rate_{gen.name}": user.copy_rate(melody)})

    def propose(r: int, n: int):
        spec = replace(base, temperature=1.0 + 0.08 * r, top_p=0.97, block_strength=2.5 * r,
                       candidates=n, seed=seed + 7919 * r)
        cands = gen.compose(kind, spec, primer, block=True, progress=ctx.progress("bars", f"round {r} ({n} candidates)"),
                            should_stop=ctx.should_stop)
        return finish(cands), _params(spec)

    # 2. the round-0 piece; 3.-4. critique, and revise within bounds (every critic's floor kept)
    first = finish(gen.compose(kind, base, primer, progress=ctx.progress("bars", "round 0"), should_stop=ctx.should_stop))
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
    texture = ", four parts (SATB)" if chorale else "" if accompaniment == "none" else f", {accompaniment} accompaniment"
    copies = ""
    if user is not None:
        trail = " → ".join(f"{r.scores.metrics.get(f'copy_rate_{gen.name}', 0):.0%}" for r in result.trajectory)
        copies = f"; copies of {gen.name}'s melody 6-grams by round {trail}"
    shape = form_claim(plan, s.metrics, dance is not None)
    asked = church_mode(args.get("key"))
    mode_note = f" ({args['key']} asked: the models write major and minor keys, not modes)" if asked else ""
    beat = slots.beat_words(meter, tempo, dance)
    pace = f"{beat} ({tempo:g} bpm in crotchets)" if beat else f"{tempo:g} bpm"
    summary = (f"Composed {piece.score.bars} bars in {key.name}{mode_note}, {meter}, {pace} for {instrument} "
               f"({kind}{shape}{texture}); quality {s.quality:.2f}, novelty {s.novelty:.2f}, adherence {s.adherence:.2f}; "
               f"novelty by round {novelty_trail(result)}, kept round {result.best_round}{copies}; file {files['midi']}")
    return Artifact(
        kind="music", tool="compose_music", args=dict(args), seed=seed, model=gen.model_id(kind),
        round=result.best_round, scores=s, files=files, summary=summary, trajectory=result.trajectory,
        limits_hit=limits, id=stem, turn=ctx.turn,
        revision={**revision_record(direction, cfg, result), "novelty_against": gen.novelty_corpora()},
    )


def _generator(composer: str | None, model: str | None, ctx: ToolContext):
    """(the generator, the model kind): the shipped models, or a composer learned from the
    person's pieces, which samples with the model it was fine-tuned from."""
    if composer is None:
        gen = ctx.model("music", "the music models")
        return gen, model or gen.default_kind()
    gen = ctx.model("music", f"the learned composer {composer}", composer)
    if model is not None and model not in gen.available():
        from models.common.errors import UserFixableError

        raise UserFixableError(f"{composer} was learned from the {gen.default_kind()} model; leave out model "
                               f"or learn again with --base {model}")
    return gen, gen.default_kind()


def _params(spec) -> dict:
    return {"temperature": round(spec.temperature, 3), "top_p": spec.top_p, "block_strength": spec.block_strength,
            "seed": spec.seed, "key": spec.key.name, "meter": spec.meter, "bars": spec.bars, "style": spec.style,
            "density": spec.density}


def default_form(style: str, density: str, meter: str, bars: int | None = None) -> str:
    """Dance tunes (lively Irish/Scottish, 6/8 jigs) in 8-bar strains (``dance_form``); chorales
    AAB (bar form); else AABA."""
    if style == "chorale":
        return "AAB"  # the chorales' bar form: the first phrases sung twice
    if style in ("irish", "scottish") and (density == "lively" or meter in ("6/8", "9/8", "2/4")):
        return dance_form(bars)
    return "AABA"


STRAIN_BARS = 8  # a dance tune's strain: two 4-bar phrases (folk-rnn's tunes, O'Neill's and Ryan's collections)
DANCE_FORMS = ("AABB", "AAB", "AB")
# dances in running eighths: onsets on the eighth-note grid (no dotted-eighth/sixteenth figure, a
# hornpipe's or strathspey's) and no melody note longer than the beat outside a cadence bar
RUNNING_DANCES = ("reel", "jig", "slip jig", "slide")


def dance_form(bars: int | None) -> str:
    """A dance tune's form in 8-bar strains: AABB (32 bars, the default), or for fewer bars asked
    the strains that fit, each once where the repeats do not: 24 bars AAB, 16 bars AB (a reel as
    written with repeat signs: played AABB it lasts 32), under 16 one strain."""
    if bars is None or bars >= 4 * STRAIN_BARS:
        return "AABB"
    if bars >= 3 * STRAIN_BARS:
        return "AAB"
    if bars >= 2 * STRAIN_BARS:
        return "AB"
    return "through"


def is_dance(style: str, density: str, meter: str, form: str) -> bool:
    """An Irish or Scottish dance tune: in strains (AABB, AAB, AB), or lively or in a dance meter
    without a song's form (AABA, ABA, ABAB, rondo)."""
    if style not in ("irish", "scottish"):
        return False
    return form in DANCE_FORMS or (form == "through" and (density == "lively" or meter in ("6/8", "9/8", "12/8", "2/4")))


def _dance_shape(dance: str):
    """The melody shape of a dance tune: the dance row of ``STYLE_SHAPES``, and for the dances in
    running eighths (``RUNNING_DANCES``) no note longer than the beat outside cadence bars (a
    crotchet in a reel, a dotted crotchet in a jig) and eighths favoured."""
    base = STYLE_SHAPES["dance"]
    if dance not in RUNNING_DANCES:
        return base
    beat = 4 if dance == "reel" else 6
    return replace(base, max_note=beat, running=2, running_nats=DANCE_RUNNING_NATS)


DANCE_RUNNING_NATS = 1.0


def form_claim(plan, metrics: dict, dance: bool) -> str:
    """What the summary says of the form: the planned form only where the form critic heard it (AABB:
    ``aabb`` true; another form with restated sections: ``form_match`` at least 0.7; either way the
    form critic not under its floor), else the plan and that it was not clearly heard. A dance's
    strains written once each (AB) are said as such."""
    form = plan.form
    if form == "through":
        return ""
    letters = form_letters(form)
    strain = plan.sections[0].bars if plan.sections else 0
    failing = set(str(metrics.get("critics_failing") or "").split(","))
    if len(set(letters)) == len(letters):  # nothing restated: nothing to hear
        what = f"strains {', '.join(letters)} of {strain} bars, each once" if dance else f"form {form}"
        return f", {what}"
    if form == "AABB":
        heard = bool(metrics.get("aabb"))
    else:
        match = metrics.get("form_match")
        heard = match is not None and float(match) >= 0.7
    heard = heard and "form" not in failing
    strains = f" ({strain}-bar strains)" if dance and strain else ""
    return f", form {form}{strains}" if heard else f", planned as {form}{strains} but not clearly heard as it"


def _accompaniment(args: dict, style: str, form: str, meter: str, density: str) -> str:
    """The pattern under the melody: as asked; none for chorales (their own parts) and for dance
    tunes unless asked; for a piano, harp or guitar piece, the meter's pattern."""
    from models.music.accompany import default_pattern

    asked = args.get("accompaniment")
    if style == "chorale":
        return "none"
    if asked is None:
        plucked = args.get("instrument") in ("piano", "harp", "guitar", "harpsichord", "electric piano", "nylon guitar")
        asked = "auto" if plucked and form not in DANCE_FORMS else "none"
    return default_pattern(meter, density) if asked == "auto" else asked


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
    # the dance's own tempo, lifted when lively; a revision that names the dance without a speed
    # word ("make the jig less conventional") keeps the tempo it was played at
    speed_word = any(slots.speed_words(seg))
    if (dance := slots.dance(seg)) and not slots.tempo_number(seg) and (speed_word or not base or "tempo" not in base):
        args["tempo"] = slots.dance_tempo(dance, seg)
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
    if f := _FORM_RE.search(seg):
        word = f.group(1).lower()
        args["form"] = "through" if word.startswith("through") else "rondo" if word == "rondo" else word.upper()
    elif _DANCE_RE.search(seg):
        args["form"] = dance_form(args.get("bars"))  # 8-bar strains: AABB in 32 bars, AB in 16
    elif _SONG_RE.search(seg) and not _HYMN_RE.search(seg) and args.get("style") != "chorale":
        args["form"] = args.get("form") or "AABA"
    if re.search(r"\b(unaccompanied|solo|without accompaniment|no accompaniment)\b", seg, re.IGNORECASE):
        args["accompaniment"] = "none"
    elif _HYMN_RE.search(seg) and re.search(r"\bpiano\b", seg, re.IGNORECASE):
        args["accompaniment"] = "block"
    elif _ACCOMP_RE.search(seg) and args.get("style") != "chorale":
        args["accompaniment"] = args.get("accompaniment") or "auto"
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
