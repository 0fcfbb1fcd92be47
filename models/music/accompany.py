"""Accompaniment under a melody: chords from the chord model, a bass line, a style pattern.

``accompany(melody, key, model, cadences, pattern)`` harmonises the melody (voice 0) one chord
per harmonic unit (half a bar in 4/4, a bar otherwise; a cadence bar takes the plan's I or V, and
the unit before a full close's tonic takes V or V7, an authentic cadence with the bass 5 -> 1,
whenever the melody there fits the dominant: ``fits_dominant``),
then voices each chord close under the melody (three notes between C3 and the melody, each chord
the inversion nearest the last: smooth voice leading), the root in the bass between E1 and E3
(the octave nearest the previous bass note), and lays them out in a pattern:

- ``waltz``: bass on beat 1, chord on beats 2 and 3;
- ``alberti``: bass held, the chord broken low-high-middle-high in eighths;
- ``broken``: bass held, the chord arpeggiated upward in eighths (compound meters: per dotted beat);
- ``block``: the chord with its bass on every beat (a hymn's texture).

Returns a new Score: the melody as voice 0, chords as voice 1, bass as voice 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.music.chords import SHAPES, ChordModel
from models.music.tokens import Key, NoteEvent, Score

PATTERNS = ("waltz", "alberti", "broken", "block")
CHORD_FLOOR, BASS_LOW, BASS_HIGH = 48, 28, 52


@dataclass(frozen=True)
class Accompaniment:
    score: Score
    chords: tuple[str, ...]  # Roman numerals, one per unit
    unit: int  # sixteenths per harmonic unit


def unit_length(meter: str, bar_len: int) -> int:
    return bar_len // 2 if meter in ("4/4", "2/2", "4/2", "12/8") else bar_len


def default_pattern(meter: str, density: str) -> str:
    if meter == "3/4":
        return "waltz"
    if meter in ("6/8", "9/8", "12/8", "3/8"):
        return "broken"
    return "alberti" if density == "slow" else "broken"


def accompany(melody: Score, key: Key, model: ChordModel, cadences: tuple[str | None, ...] = (),
              pattern: str = "alberti") -> Accompaniment:
    if pattern not in PATTERNS:
        raise ValueError(f"unknown accompaniment pattern {pattern!r}; choose one of {', '.join(PATTERNS)}")
    bar = melody.bar_length
    unit = unit_length(melody.meter, bar)
    total = melody.bars * bar
    n_units = max(1, total // unit)
    mel = sorted((n for n in melody.notes if n.voice == 0), key=lambda n: n.start)
    units = []
    for u in range(n_units):
        h = np.zeros(12)
        lo, hi = u * unit, (u + 1) * unit
        for n in mel:
            ov = min(n.start + n.duration, hi) - max(n.start, lo)
            if ov > 0:
                h[n.pitch % 12] += ov * (2.0 if n.start == lo or (n.start < lo) else 1.0)
        units.append(h)
    fixed: list[int | tuple[int, ...] | None] = [None] * n_units
    one = model.find(key.mode, 0, 0 if key.mode == "major" else 1)
    five = model.find(key.mode, 7, 0)
    five = model.find(key.mode, 7) if five is None else five
    five7 = model.find(key.mode, 7, 3)
    closes = []  # first unit of each full close (a planned I, and the last unit)
    for b, c in enumerate(cadences):  # a cadence bar carries its chord throughout
        if c in ("I", "V"):
            us = range(b * bar // unit, min(((b + 1) * bar - 1) // unit + 1, n_units))
            for u in us:
                fixed[u] = one if c == "I" else five
            if c == "I" and len(us):
                closes.append(us[0])
    if one is not None:
        fixed[-1] = one
        closes.append(n_units - 1)
    # an authentic close: the unit before a full close's tonic takes V or V7 (the model picks which)
    # when the melody there fits the dominant; else the model's own choice stands
    dom = tuple(k for k in (five, five7) if k is not None and model.labels[k, 1] == 7)
    for c in closes:
        while c > 0 and fixed[c - 1] == one and one is not None:  # the start of the tonic run
            c -= 1
        u = c - 1
        if dom and u >= 0 and fixed[u] is None and fits_dominant(mel, key, u * unit, (u + 1) * unit):
            fixed[u] = dom
    path = model.harmonise(units, key, fixed)
    notes = list(mel)
    prev_voicing: list[int] | None = None
    prev_bass: int | None = None
    for u, k in enumerate(path):
        _, deg, q = (int(x) for x in model.labels[k])
        root = (key.tonic + deg) % 12
        pcs = [(root + i) % 12 for i in SHAPES[q]]
        lo, hi = u * unit, min((u + 1) * unit, total)
        near = [n.pitch for n in mel if n.start < hi and n.start + n.duration > lo]
        if not near and mel:  # a rest in the tune: the nearest note decides the register
            near = [min(mel, key=lambda n: abs(n.start - lo)).pitch]
        mel_low = min(near, default=72)
        voicing = _voice(pcs, prev_voicing, ceiling=max(CHORD_FLOOR + 7, mel_low - 3))
        bass = _bass(root, prev_bass, ceiling=min(BASS_HIGH, voicing[0] - 3))
        notes += _pattern(pattern, voicing, bass, lo, hi, melody.meter)
        prev_voicing, prev_bass = voicing, bass
    notes.sort(key=lambda n: (n.start, n.voice, -n.pitch))
    score = Score(tuple(notes), melody.meter, key, melody.style, melody.density, melody.bars)
    return Accompaniment(score, tuple(model.name(k) for k in path), unit)


def fits_dominant(mel: list[NoteEvent], key: Key, lo: int, hi: int) -> bool:
    """Whether the melody sounding in [lo, hi) can stand over V or V7: every note a chord tone
    (5, 7 (raised in minor), 2, 4) or, off the unit's first beat, a passing or neighbour note
    (a step from the note before and to the note after). In minor the natural seventh is never
    allowed (it would clash with the raised leading note in the chord)."""
    t = key.tonic
    tones = {(t + 7) % 12, (t + 11) % 12, (t + 2) % 12, (t + 5) % 12}
    for i, n in enumerate(mel):
        if not (n.start < hi and n.start + n.duration > lo):
            continue
        pc = n.pitch % 12
        if pc in tones:
            continue
        if key.mode == "minor" and pc == (t + 10) % 12:
            return False
        before = mel[i - 1].pitch if i > 0 else None
        after = mel[i + 1].pitch if i + 1 < len(mel) else None
        if n.start <= lo or before is None or after is None or abs(n.pitch - before) > 2 or abs(after - n.pitch) > 2:
            return False
    return True


def _voice(pcs: list[int], prev: list[int] | None, ceiling: int) -> list[int]:
    """Three chord tones (root, third, fifth or seventh) in [CHORD_FLOOR, ceiling], nearest ``prev``."""
    tones = pcs[:3] if len(pcs) == 3 else [pcs[0], pcs[1], pcs[3]]  # a seventh drops its fifth
    cands = []
    for base in range(CHORD_FLOOR, ceiling + 1):
        if base % 12 not in tones:
            continue
        v = [base]
        for _ in range(2):
            nxt = v[-1] + 1
            while nxt % 12 not in tones or nxt % 12 in {p % 12 for p in v}:
                nxt += 1
            v.append(nxt)
        if v[-1] <= ceiling:
            cands.append(v)
    if not cands:  # no room under the melody: the lowest voicing
        base = CHORD_FLOOR + (tones[0] - CHORD_FLOOR) % 12
        return sorted([base, base + (tones[1] - tones[0]) % 12, base + (tones[2] - tones[0]) % 12])
    if prev is None:
        return max(cands, key=lambda v: v[0])  # close under the melody
    return min(cands, key=lambda v: sum(abs(a - b) for a, b in zip(sorted(v), sorted(prev))))


def _bass(root: int, prev: int | None, ceiling: int) -> int:
    cands = [p for p in range(BASS_LOW, BASS_HIGH + 1) if p % 12 == root and p <= max(ceiling, BASS_LOW + 11)]
    if not cands:
        cands = [BASS_LOW + (root - BASS_LOW) % 12]
    target = prev if prev is not None else 40
    return min(cands, key=lambda p: (abs(p - target), p))


def _pattern(pattern: str, v: list[int], bass: int, lo: int, hi: int, meter: str) -> list[NoteEvent]:
    out: list[NoteEvent] = []
    dur = hi - lo
    if dur <= 0:
        return out
    beat = 6 if meter in ("6/8", "9/8", "12/8", "3/8") else 4
    if pattern == "waltz":  # the bass on beat 1 rings through the bar (as pedalled), the chord on 2 and 3
        out.append(NoteEvent(lo, dur, bass, 2))
        for t in range(lo + beat, hi, beat):
            out += [NoteEvent(t, min(beat, hi - t), p, 1) for p in v]
        if dur <= beat:
            out += [NoteEvent(lo, dur, p, 1) for p in v]
        return out
    if pattern == "block":
        for t in range(lo, hi, beat):
            d = min(beat, hi - t)
            out.append(NoteEvent(t, d, bass, 2))
            out += [NoteEvent(t, d, p, 1) for p in v]
        return out
    out.append(NoteEvent(lo, dur, bass, 2))
    seq = [v[0], v[2], v[1], v[2]] if pattern == "alberti" else [v[0], v[1], v[2], v[1]]
    step = 2
    for i, t in enumerate(range(lo, hi, step)):
        out.append(NoteEvent(t, min(step, hi - t), seq[i % len(seq)], 1))
    return out
