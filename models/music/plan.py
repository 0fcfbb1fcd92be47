"""Phrase plans: the form and cadences a piece is sampled to, bar by bar.

A plan splits the requested bars into sections by form letters (AABB for dance tunes, AABA /
ABA for songs, waltzes and slow pieces, ABACA for a rondo, "through" for none) and each section
into phrases (4 bars; 2 for chorales). It becomes one ``BarGuide`` per bar for the sampler:

- the first bar leans to the tonic triad (a bonus in nats), so the piece opens in its key;
- each phrase's last bar keeps its melody (and any notes under it) to one chord: the dominant
  at a half cadence (a first phrase, a first ending), the tonic at a full one; the bar before a
  full cadence leans to the dominant (in minor, its melody keeps the raised leading note);
- a section that restates an earlier one (the second A) is written out by forcing the earlier
  bars' tokens through the model, all but its last bar, whose varied ending is sampled anew;
- the melody of the last harmonic unit before a full close's tonic (the half bar in 4/4, the bar
  in 3/4: the unit ``accompany`` sets to V or V7) keeps to the dominant seventh's tones (5, 7 (raised
  in minor), 2, 4) on its beats, with stepwise passing notes between them off the beat
  (``BarGuide.tail``), so the close is authentic; before the fix only 29% of slow piano pieces
  closed V -> I, the melody there usually holding a note foreign to V;
- before the final tonic that unit's seventh (4) is never the melody's last note: it passes or turns by
  step inside the bar (``BarGuide.seventh``), so it is not left by a leap to the tonic (a blind composer
  heard the leap in 5 of 12 pieces; bench/music_close_seventh.py: 23 of 72 slow piano, waltz and
  lullaby closes before, 0 after);
- the last bar holds one tonic sonority, the melody on the tonic;
- every phrase-final bar (and the last) is marked ``cadence``: a version-2 model gets the ``CAD``
  token after its ``BAR`` (and never elsewhere), as in its training data, so the model itself
  knows a cadence is due; a version-1 model samples without it.

``cadence_chords`` gives the chord each bar must carry (for the accompaniment's harmony).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from models.music.analysis import dominant_chord, tonic_triad
from models.music.sample import BarGuide
from models.music.tokens import Key

FORMS = ("AABB", "AABA", "ABA", "ABAB", "AAB", "AB", "rondo", "through")  # AAB: a chorale's bar form
DANCE_FORM = "AABB"
SONG_FORM = "AABA"


def form_letters(form: str) -> str:
    f = form.strip()
    if f.lower() == "rondo":
        return "ABACA"
    if f.lower() == "through":
        return "A"
    return f.upper()


def parse_form(text: str) -> str:
    """'aabb' -> 'AABB', 'Rondo' -> 'rondo'; ValueError naming the forms for anything else."""
    t = (text or "").strip()
    for f in FORMS:
        if t.lower() == f.lower():
            return f
    raise ValueError(f"unknown form {text!r}; choose one of {', '.join(FORMS)}")


@dataclass(frozen=True)
class Section:
    letter: str
    start: int  # first bar (among the sampled bars)
    bars: int
    source: int | None  # first bar of the section it restates


@dataclass(frozen=True)
class PhrasePlan:
    form: str
    sections: tuple[Section, ...]
    phrase_bars: int
    cadences: tuple[str | None, ...]  # per bar: "I", "V" or None
    guides: tuple[BarGuide, ...]


def make_plan(key: Key, bars: int, form: str = "through", phrase_bars: int = 4, *,
              first_bar_bonus: float = 2.0, approach_bonus: float = 1.0, cadence_rest: float = 1.0) -> PhrasePlan:
    letters = form_letters(form)
    if bars < 2 * len(letters) or len(letters) == 1:
        letters = "A"
    L = bars // len(letters)
    if L >= phrase_bars:  # sections of whole phrases; the last takes the remainder (a chorale's longer Abgesang)
        L = L // phrase_bars * phrase_bars
    sections: list[Section] = []
    first_of: dict[str, int] = {}
    for i, ch in enumerate(letters):
        start = i * L
        length = L if i < len(letters) - 1 else bars - start
        src = first_of.get(ch)
        sections.append(Section(ch, start, length, src))
        first_of.setdefault(ch, start)
    pb = max(1, min(phrase_bars, L))
    tonic, dom = tonic_triad(key), dominant_chord(key)
    dom_triad = frozenset({(key.tonic + 7) % 12, (key.tonic + 11) % 12, (key.tonic + 2) % 12})
    # in minor the melody approaching a full cadence keeps the raised leading note (harmonic minor), so
    # the dominant under it never meets a natural seventh above (a cross-relation inside the chord)
    approach_top = key.scale() - {(key.tonic + 10) % 12} if key.mode == "minor" else None
    cad: list[str | None] = [None] * bars
    guides: list[BarGuide] = [BarGuide() for _ in range(bars)]
    for si, sec in enumerate(sections):
        nxt = sections[si + 1] if si + 1 < len(sections) else None
        ends = list(range(sec.start + pb - 1, sec.start + sec.bars - 1, pb)) + [sec.start + sec.bars - 1]
        # A1 before A2 ends open (a half cadence) when it is one phrase; longer sections close on I
        first_ending = nxt is not None and nxt.letter == sec.letter and len(ends) == 1
        for j, e in enumerate(ends):
            last = j == len(ends) - 1
            if last:
                cad[e] = "V" if first_ending else "I"
            else:
                cad[e] = "V" if j % 2 == 0 else "I"
        for b in range(sec.start, sec.start + sec.bars):
            rel = b - sec.start
            copy = None
            if sec.source is not None and rel < sec.bars - 1:
                src_sec = next(s for s in sections if s.start == sec.source)
                if rel < src_sec.bars - 1:
                    copy = sec.source + rel
            if copy is not None:
                guides[b] = BarGuide(copy_of=copy)
                cad[b] = cad[copy]
                continue
            if cad[b] == "I":
                guides[b] = BarGuide(top=tonic, chord=tonic, long_bonus=cadence_rest)
            elif cad[b] == "V":
                guides[b] = BarGuide(top=dom_triad, chord=dom, long_bonus=cadence_rest)
            elif b + 1 < bars and cad[b + 1] == "I" and approach_bonus:
                guides[b] = BarGuide(top=approach_top, bonus=dom, bonus_nats=approach_bonus)
    # a version-2 model reads the cadence bars from the CAD token the sampler writes after their BAR
    guides = [dataclasses.replace(gd, cadence=cad[b] is not None) for b, gd in enumerate(guides)]
    # the opening leans to the tonic; the end holds it
    if bars >= 2 and guides[0].copy_of is None and cad[0] is None:
        guides[0] = BarGuide(bonus=tonic, bonus_nats=first_bar_bonus, downbeat=True)
    # an authentic close: the melody of the harmonic unit before each full close's tonic (the one the
    # accompaniment sets to V or V7) draws on V7's tones, stepwise passing notes off the beat; a
    # restated bar takes it from the bar it restates (AABA's last A ends on a copy of A1's third bar)
    tail = frozenset((key.tonic + d) % 12 for d in (7, 11, 2, 5))
    passing = key.scale() - tail - ({(key.tonic + 10) % 12} if key.mode == "minor" else set())
    for b in range(bars - 1):
        src = guides[b].copy_of if guides[b].copy_of is not None else b
        if (cad[b + 1] == "I" or b == bars - 2) and cad[b] is None and cad[src] is None:  # not a cadence bar's own chord
            # before the final tonic the seventh (4) does not end the bar: it passes or turns by step
            seventh = (key.tonic + 5) % 12 if b == bars - 2 else guides[src].seventh
            guides[src] = dataclasses.replace(guides[src], tail=tail, tail_passing=passing, seventh=seventh)
    guides[-1] = BarGuide(top=frozenset({key.tonic}), chord=tonic, hold=True, cadence=True)
    cad[-1] = "I"
    return PhrasePlan(letters if letters != "A" else "through", tuple(sections), pb, tuple(cad), tuple(guides))
