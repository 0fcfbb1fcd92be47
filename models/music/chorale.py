"""Four-part chorales: a sampled soprano harmonised beat by beat and voiced SATB.

1. The soprano (voice 0) is read per beat (the note sounding at each quarter).
2. A chord per beat by Viterbi with the chord model's beat-to-beat transitions learned from
   the Bach chorales (``ChordModel.trans_beat``) and its melody-fit table; the phrase plan's
   cadence bars take their chord (V or I, the raised leading note in minor comes with the
   chorales' major V), the beat before a full cadence its dominant, the last beat the tonic.
3. Alto, tenor and bass by dynamic programming over every voicing of each chord: ranges
   (``analysis.VOICE_RANGES``), no crossing, upper voices within an octave, root or third in the
   bass, complete triads; the path minimising movement, with penalties for parallel fifths and
   octaves, doubled leading notes, inner-voice leaps and inversions.

Returns a Score with voices 0..3 (S, A, T, B), one note per voice per beat (the soprano keeps
its own rhythm; repeated lower notes are tied).
"""

from __future__ import annotations

from itertools import product

import numpy as np

from models.music.analysis import VOICE_RANGES
from models.music.chords import SHAPES, ChordModel
from models.music.tokens import Key, NoteEvent, Score

PARALLEL_COST, LEAP_COST, INVERSION_COST, DOUBLED_LT_COST, MISSING_THIRD_COST = 40.0, 1.5, 2.0, 12.0, 30.0


def soprano_beats(score: Score) -> list[int]:
    """The soprano pitch sounding at each beat (the last one held over a rest)."""
    sop = sorted((n for n in score.notes if n.voice == 0), key=lambda n: n.start)
    beats = score.bars * score.bar_length // 4
    out, last = [], sop[0].pitch if sop else 72
    for b in range(beats):
        t = b * 4
        cur = [n.pitch for n in sop if n.start <= t < n.start + n.duration]
        last = cur[-1] if cur else last
        out.append(last)
    return out


def choose_chords(model: ChordModel, sop: list[int], key: Key, beats_per_bar: int,
                  cadences: tuple[str | None, ...]) -> list[int]:
    units = []
    for b, p in enumerate(sop):
        h = np.zeros(12)
        h[p % 12] = 2.0 if b % beats_per_bar == 0 else 1.0
        units.append(h)
    one = model.find(key.mode, 0, 0 if key.mode == "major" else 1)
    five = model.find(key.mode, 7, 0) or model.find(key.mode, 7)
    fixed: list[int | None] = [None] * len(sop)
    for bar, c in enumerate(cadences):
        if c not in ("I", "V"):
            continue
        lo, hi = bar * beats_per_bar, min((bar + 1) * beats_per_bar, len(sop))
        for b in range(lo, hi):
            fixed[b] = one if c == "I" else five
        if c == "I" and lo > 0 and fixed[lo - 1] is None and five is not None:
            deg = [(key.tonic + 7 + i) % 12 for i in SHAPES[0]]
            if sop[lo - 1] % 12 in deg:  # an authentic cadence where the soprano allows it
                fixed[lo - 1] = five
    if one is not None and sop:
        fixed[-1] = one
    return model.harmonise(units, key, fixed, fit_weight=2.0, per_beat=True)


def _voicings(sop: int, pcs: list[int], root: int, leading: int, root_position: bool = False) -> np.ndarray:
    """(n, 4) candidate S, A, T, B pitches for one beat, plus a static cost column (n, 5)."""
    (a_lo, a_hi), (t_lo, t_hi), (b_lo, b_hi) = VOICE_RANGES[1], VOICE_RANGES[2], VOICE_RANGES[3]
    third = pcs[1]
    opts = []
    alto = [p for p in range(a_lo, min(a_hi, sop - 1) + 1) if p % 12 in pcs and sop - p <= 12]
    for a in alto:
        tenors = [p for p in range(t_lo, min(t_hi, a - 1) + 1) if p % 12 in pcs and a - p <= 12]
        for t in tenors:
            for b in range(b_lo, min(b_hi, t - 1) + 1):
                if b % 12 not in (root, third):
                    continue
                voiced = {sop % 12, a % 12, t % 12, b % 12}
                cost = 0.0
                if third not in voiced:
                    cost += MISSING_THIRD_COST
                if root not in voiced:
                    cost += MISSING_THIRD_COST
                if b % 12 != root:
                    cost += INVERSION_COST + (40.0 if root_position else 0.0)
                if [sop % 12, a % 12, t % 12, b % 12].count(leading) > 1:
                    cost += DOUBLED_LT_COST
                if t - b > 19:
                    cost += 2.0
                opts.append((sop, a, t, b, cost))
    if not opts:  # nothing fits under this soprano: a close root-position fallback
        b = b_lo + (root - b_lo) % 12
        t = max(t_lo, b + 7)
        return np.array([[sop, max(sop - 5, a_lo), t, b, 50.0]], np.float64)
    return np.array(opts, np.float64)


def voice_satb(sop: list[int], chords: list[int], model: ChordModel, key: Key,
               cadence_beats: set[int] | None = None) -> np.ndarray:
    """(beats, 4) S, A, T, B pitches: the cheapest voice-led path through the chords' voicings
    (root position on ``cadence_beats``)."""
    leading = (key.tonic + 11) % 12
    cands = []
    for b, (p, k) in enumerate(zip(sop, chords)):
        _, deg, q = (int(x) for x in model.labels[k])
        root = (key.tonic + deg) % 12
        pcs = [(root + i) % 12 for i in SHAPES[q]]
        cands.append(_voicings(p, pcs, root, leading, root_position=b in (cadence_beats or ())))
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    cost = cands[0][:, 4].copy()
    backs = []
    for b in range(1, len(cands)):
        prev, cur = cands[b - 1][:, :4], cands[b][:, :4]
        move = np.abs(prev[:, None, 1:] - cur[None, :, 1:])  # (P, C, 3) alto, tenor, bass motion
        c = move.sum(-1) + LEAP_COST * (np.maximum(move[..., :2] - 4, 0)).sum(-1) + 0.3 * np.maximum(move[..., 2] - 7, 0)
        for i, j in pairs:
            iv0 = (prev[:, None, i] - prev[:, None, j]) % 12
            iv1 = (cur[None, :, i] - cur[None, :, j]) % 12
            mi = cur[None, :, i] - prev[:, None, i]
            mj = cur[None, :, j] - prev[:, None, j]
            par = (iv0 == iv1) & ((iv0 == 0) | (iv0 == 7)) & (mi * mj > 0)
            c = c + PARALLEL_COST * par
        total = cost[:, None] + c + cands[b][None, :, 4]
        backs.append(total.argmin(0))
        cost = total.min(0)
    path = [int(cost.argmin())]
    for bk in reversed(backs):
        path.append(int(bk[path[-1]]))
    path.reverse()
    return np.array([cands[b][k, :4] for b, k in enumerate(path)], np.int64)


def harmonise_chorale(soprano: Score, key: Key, model: ChordModel,
                      cadences: tuple[str | None, ...] = ()) -> tuple[Score, list[str]]:
    """The soprano with alto, tenor and bass under it (voices 1..3) and the chords' names."""
    beats_per_bar = max(1, soprano.bar_length // 4)
    sop = soprano_beats(soprano)
    if not sop:
        return soprano, []
    chords = choose_chords(model, sop, key, beats_per_bar, cadences)
    cad_beats = {b for bar, c in enumerate(cadences) if c in ("I", "V")
                 for b in range(bar * beats_per_bar, (bar + 1) * beats_per_bar)}
    grid = voice_satb(sop, chords, model, key, cad_beats | {len(sop) - 1})
    notes = [NoteEvent(n.start, n.duration, n.pitch, 0) for n in soprano.notes if n.voice == 0]
    end = soprano.bars * soprano.bar_length
    for v in (1, 2, 3):
        b = 0
        while b < len(grid):
            e = b + 1
            while e < len(grid) and grid[e, v] == grid[b, v] and e % beats_per_bar:  # tie within a bar
                e += 1
            notes.append(NoteEvent(b * 4, min(e * 4, end) - b * 4, int(grid[b, v]), v))
            b = e
    notes.sort(key=lambda n: (n.start, n.voice))
    score = Score(tuple(notes), soprano.meter, key, "chorale", soprano.density, soprano.bars)
    return score, [model.name(k) for k in chords]
