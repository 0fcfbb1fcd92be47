"""Four-part chorales: a sampled soprano with alto, tenor and bass written under it, two ways.

``harmonise_chorale(..., net=None)``: the chord-model path (below). ``net=`` a Coconet-style
model (``models/music/coconet.py``, ``load_coconet``): the network infills alto, tenor and bass by
blocked Gibbs sampling on an eighth-note grid (``harmonise_with_net``), with hard constraints as
masks: each voice's range, no crossing, upper voices within an octave, the plan's cadence bars on
their chord (I or V7 with the raised leading note, root in the bass, its third present), no
natural seventh in a minor key's cadence dominants (V bars and the beat before a full cadence) and
no raised one against a soprano that sings the natural seventh there, and anywhere in a minor
key no voice drawn onto the natural seventh against the raised one sounding (or the reverse,
where the masks leave another pitch; ``coconet.infill``'s ``apart``); a few chains are sampled,
beats with parallel fifths or octaves resampled, and the chain with the fewest (by
``analysis.voice_leading``) kept. Seeded from the soprano, so the same tune always gets the same parts.

Chord-model path:

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

import zlib

import numpy as np

from models.music.analysis import VOICE_RANGES, dominant_chord, parallel_motion, tonic_triad, voice_leading
from models.music.chords import SHAPES, ChordModel, chord_name, label_beats
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
            par = parallel_motion(prev[:, None, i], cur[None, :, i], prev[:, None, j], cur[None, :, j])
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
                      cadences: tuple[str | None, ...] = (), net=None, seed: int | None = None) -> tuple[Score, list[str]]:
    """The soprano with alto, tenor and bass under it (voices 1..3) and the chords' names: by the
    chorale network when ``net`` is given, else by the chord model and voicing DP."""
    if net is not None:
        return harmonise_with_net(soprano, key, net, cadences, seed)
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


# ---- the network path ------------------------------------------------------------------------------
def soprano_steps(soprano: Score, step: int) -> np.ndarray:
    """(T,) the soprano pitch sounding at each grid step; a rest holds the note before it (the first
    note when the tune opens with one)."""
    T = soprano.bars * soprano.bar_length // step
    g = -np.ones(T, np.int64)
    for n in sorted((n for n in soprano.notes if n.voice == 0), key=lambda n: n.start):
        a, b = -(-n.start // step), -(-(n.start + n.duration) // step)
        g[a : min(b, T)] = n.pitch
    known = np.flatnonzero(g >= 0)
    if len(known):
        g[: known[0]] = g[known[0]]
        for t in range(1, T):
            if g[t] < 0:
                g[t] = g[t - 1]
    return g


def constraints(sop: np.ndarray, key: Key, cadences: tuple[str | None, ...], steps_per_bar: int, per_beat: int,
                n_pitch: int, lo: int) -> tuple[np.ndarray, np.ndarray]:
    """(allowed (4, T, n_pitch) bool, need (T,) pitch class or -1) for the sampler."""
    T = len(sop)
    pcs = (np.arange(n_pitch) + lo) % 12
    midi = np.arange(n_pitch) + lo
    allowed = np.zeros((4, T, n_pitch), bool)
    allowed[0, np.arange(T), np.clip(sop - lo, 0, n_pitch - 1)] = True
    for v in (1, 2, 3):
        allowed[v] = ((midi >= VOICE_RANGES[v][0]) & (midi <= VOICE_RANGES[v][1]))[None]
    need = -np.ones(T, np.int64)
    third = (key.tonic + (4 if key.mode == "major" else 3)) % 12
    five = (key.tonic + 7) % 12
    dominant = np.zeros(T, bool)  # steps of a cadence's dominant: V bars and the beat before a full cadence
    for bar, c in enumerate(cadences):
        a, b = bar * steps_per_bar, min((bar + 1) * steps_per_bar, T)
        if c not in ("I", "V") or a >= T:
            continue
        chord, root, t3 = (tonic_triad(key), key.tonic, third) if c == "I" else (dominant_chord(key), five, (five + 4) % 12)
        inside = np.isin(pcs, sorted(chord))
        allowed[1:, a:b] &= inside[None, None]
        allowed[3, a:b] &= (pcs == root)[None]
        need[a:b] = t3
        dominant[a:b] |= c == "V"
        dominant[max(0, a - per_beat) : a] |= c == "I" and a > 0
    if key.mode == "minor":  # the raised leading note at minor cadences, never against the natural seventh
        nat, lead = (key.tonic + 10) % 12, (key.tonic + 11) % 12
        allowed[1:, dominant] &= (pcs != nat)[None, None]
        # a soprano that sings the natural seventh there (a tune given from outside the phrase plan):
        # no voice under it takes the raised one in the same beat, a cross-relation inside one chord
        beats = np.arange(T) // per_beat
        sung = np.isin(beats, beats[dominant & (sop >= 0) & (sop % 12 == nat)])
        allowed[1:, sung] &= (pcs != lead)[None, None]
    return allowed, need


def grid_score(soprano: Score, grid: np.ndarray, step: int, key: Key) -> Score:
    """The given soprano's notes plus voices 1..3 of ``grid`` (4, T), repeated pitches tied within a bar."""
    notes = [NoteEvent(n.start, n.duration, n.pitch, 0) for n in soprano.notes if n.voice == 0]
    per_bar = max(1, soprano.bar_length // step)
    T = grid.shape[1]
    for v in (1, 2, 3):
        t = 0
        while t < T:
            e = t + 1
            while e < T and grid[v, e] == grid[v, t] and e % per_bar:
                e += 1
            if grid[v, t] >= 0:
                notes.append(NoteEvent(t * step, (e - t) * step, int(grid[v, t]), v))
            t = e
    notes.sort(key=lambda n: (n.start, n.voice))
    return Score(tuple(notes), soprano.meter, key, "chorale", soprano.density, soprano.bars)


def _badness(score: Score, key: Key) -> tuple[float, float]:
    """Parallels, crossings and notes out of range per 100 beats, then a final chord that is not the tonic triad."""
    vl = voice_leading(score, key)
    return (vl.parallels_per_100 + vl.crossings_per_100 + vl.range_per_100, -float(vl.final_tonic_triad))


def _parallel_beats(grid: np.ndarray, per_beat: int) -> list[int]:
    """Grid steps moving into parallel fifths or octaves: from the step before (two voices moving
    together in eighths, which ``analysis.voice_leading`` counts between successive onsets) or from
    the beat before (across a passing note); a beat's first step stands for a beat-to-beat one."""
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    bad = set()
    a, b = grid[:, :-1], grid[:, 1:]
    step = np.zeros(grid.shape[1], bool)
    for i, j in pairs:
        step[1:] |= parallel_motion(a[i], b[i], a[j], b[j]) & (a >= 0).all(0) & (b >= 0).all(0)
    bad.update(int(t) for t in np.flatnonzero(step))
    g = grid[:, ::per_beat]
    bad.update(b * per_beat for b in range(1, g.shape[1])
               if any(parallel_motion(g[i, b - 1], g[i, b], g[j, b - 1], g[j, b]) for i, j in pairs))
    return sorted(bad)


def harmonise_with_net(soprano: Score, key: Key, net, cadences: tuple[str | None, ...] = (),
                       seed: int | None = None, schedule=None, repair_rounds: int = 8) -> tuple[Score, list[str]]:
    """Alto, tenor and bass infilled by the chorale network under ``soprano`` (see the module
    docstring); -> (Score with voices 0..3, chord names per beat)."""
    from models.music.coconet import MAX_POS, PITCH_LO, STEP, GibbsSchedule, infill

    schedule = schedule or GibbsSchedule()
    # 1. the soprano on the grid, the constraints, a seed from the tune when none is given
    sop = soprano_steps(soprano, STEP)
    if not len(sop) or (sop < 0).all():
        return soprano, []
    T, per_bar, per_beat = len(sop), max(1, soprano.bar_length // STEP), 4 // STEP
    if seed is None:
        seed = zlib.crc32(sop.astype(np.int16).tobytes() + bytes(f"{key.name}{cadences}", "utf8"))
    n_pitch = net.config.n_pitch
    allowed, need = constraints(sop, key, tuple(cadences), per_bar, per_beat, n_pitch, PITCH_LO)
    pitches = np.zeros((4, T), np.int64)
    pitches[0] = sop
    free = np.zeros((4, T), bool)
    free[1:] = True
    pos = np.minimum(np.arange(T) % per_bar, MAX_POS - 1)
    key_id = key.tonic + 12 * (key.mode == "minor")
    # 2. a few Gibbs chains; keep the one the voice-leading analysis likes best (earliest on a tie)
    # in minor the natural seventh never sounds against the raised leading note, cadence or not
    apart = ((key.tonic + 10) % 12, (key.tonic + 11) % 12) if key.mode == "minor" else None
    chains = infill(net, pitches, free, allowed, pos, key_id, schedule, seed, need, apart)
    scored = [(_badness(grid_score(soprano, g, STEP, key), key), i) for i, g in enumerate(chains)]
    best_bad, best_i = min(scored)
    best = chains[best_i]
    # 3. resample the beats that move in parallel fifths or octaves (and the beat before each), found
    # between eighths as well as beats (``_parallel_beats``). Dev seeds (12 keys, sopranos sampled with
    # the chorale melody shape, seeds 2000+): 3 rounds on beats only about 3.4 parallels per 100 beats (the
    # critic counting eighths); on eighths too, 3 rounds 0.65, 8 rounds 0.26 (Bach 0.91), 1.52 -> 1.78 s
    from dataclasses import replace

    for r in range(repair_rounds):
        bad = _parallel_beats(best, per_beat)
        if not bad:
            break
        region = np.zeros((4, T), bool)
        for t in bad:
            region[1:, max(0, t - per_beat) : t + per_beat] = True
        cands = infill(net, best, region, allowed, pos, key_id,
                       replace(schedule, steps=max(4, schedule.steps // 6), p_min=0.3), seed + 1 + r, need, apart)
        for g in cands:
            b = _badness(grid_score(soprano, g, STEP, key), key)
            if b < best_bad:
                best_bad, best = b, g
    score = grid_score(soprano, best, STEP, key)
    labs = label_beats(best[:, ::per_beat].T, key)
    names = ["?" if lab is None else chord_name(*lab) for lab in labs]
    return score, names
