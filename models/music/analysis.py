"""Music analysis a musician would do: home key, cadences, form, texture and voice leading.

Every measure reads a ``Score`` whose notes carry a ``voice`` (0 = melody or soprano; parts
below count up). A one-voice score with chords is split by pitch: the top note at each onset is
the melody, the rest accompaniment. Functions return plain numbers or small dataclasses; the
critics (``tools/critics/music.py``) turn them into 0..1 scores and the benches into tables.

- key: music21's key analysis (``Stream.analyze('key')``) of all notes, duration-weighted;
- cadences: phrase ends found from the music (long notes, rests, every voice holding, strong
  beats; phrases near the style's length), each a tonic- or dominant-chord tone over matching
  harmony (root in the bass); the last phrase ends on the tonic and comes to rest; in minor, no
  natural seventh sounding with the raised leading note in a cadence;
- form: a bar self-similarity matrix of the melody (shared (onset, pitch) pairs); restated
  segments of two or more bars, and the AABB/ABA shapes read off its diagonals;
- texture: chord tones under melody onsets, melody on top, spacing and bass register;
- voice leading (four parts): parallel fifths/octaves between every two onsets (and beat to beat
  across a passing note), crossings and range breaches per 100 beats, plain triads/sevenths per
  beat, the final chord; the kind of the final close (authentic, plagal, other);
- the melody as a line: range, distinct pitches, repeated notes, steps, the longest time on one
  pitch (a reciting tone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from models.music.tokens import Key, NoteEvent, Score

# chord templates: intervals above the root; triads and the common sevenths
_CHORD_SHAPES = ((0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 7, 10), (0, 3, 7, 10), (0, 3, 6, 10), (0, 4, 7, 11),
                 (0, 3, 6, 9))
VOICE_RANGES = ((60, 81), (53, 74), (48, 69), (36, 62))  # soprano, alto, tenor, bass (MIDI), after Bach's usage


@lru_cache(maxsize=1)
def chord_templates() -> tuple[tuple[int, frozenset[int]], ...]:
    """(root pitch class, pitch classes) of every triad and seventh chord on all 12 roots."""
    return tuple((r, frozenset((r + i) % 12 for i in shape)) for shape in _CHORD_SHAPES for r in range(12))


def fits_chord(pcs: set[int] | frozenset[int]) -> bool:
    """True when the pitch classes all belong to one triad or seventh chord."""
    pcs = frozenset(pcs)
    return any(pcs <= t for _, t in chord_templates())


def is_plain_chord(pcs: set[int] | frozenset[int]) -> bool:
    """Three or more distinct pitch classes forming a triad or a seventh chord."""
    return len(pcs) >= 3 and fits_chord(pcs)


def tonic_triad(key: Key) -> frozenset[int]:
    third = 4 if key.mode == "major" else 3
    return frozenset({key.tonic, (key.tonic + third) % 12, (key.tonic + 7) % 12})


def dominant_chord(key: Key) -> frozenset[int]:
    """V7 (with the raised leading note in minor)."""
    d = (key.tonic + 7) % 12
    return frozenset({d, (d + 4) % 12, (d + 7) % 12, (d + 10) % 12})


# ---- lines ---------------------------------------------------------------------------------------
def voices_of(score: Score) -> list[int]:
    return sorted({n.voice for n in score.notes})


def melody_notes(score: Score) -> list[NoteEvent]:
    """The melody: voice 0's top note at each onset (the top line of a one-voice score)."""
    if not score.notes:
        return []
    v0 = min(n.voice for n in score.notes)
    top: dict[int, NoteEvent] = {}
    for n in score.notes:
        if n.voice == v0 and (n.start not in top or n.pitch > top[n.start].pitch):
            top[n.start] = n
    return [top[t] for t in sorted(top)]


def melody_part(score: Score, legato: bool = False) -> Score:
    """The melody as a one-voice Score (voice 0), each note cut at the next onset; ``legato``
    holds each note to the next (a sung line), the last to the end of the piece."""
    mel = melody_notes(score)
    end = score.bars * score.bar_length

    def length(i: int, n: NoteEvent) -> int:
        nxt = mel[i + 1].start if i + 1 < len(mel) else max(end, n.start + n.duration)
        return nxt - n.start if legato else min(n.duration, nxt - n.start)

    notes = tuple(NoteEvent(n.start, length(i, n), n.pitch, 0) for i, n in enumerate(mel))
    return Score(notes, score.meter, score.key, score.style, score.density, score.n_bars)


def accompaniment_notes(score: Score) -> list[NoteEvent]:
    mel = set(melody_notes(score))
    return [n for n in score.notes if n not in mel]


def sounding(notes: list[NoteEvent], t: int) -> list[int]:
    return [n.pitch for n in notes if n.start <= t < n.start + n.duration]


# ---- the melody as a line ------------------------------------------------------------------------
@dataclass(frozen=True)
class MelodyShape:
    """How the melody moves, as a composer reads a line: a reciting tone (a chorale soprano of 24
    notes on 4 pitches, one note held for whole bars) or a tune boxed into a fifth shows here."""

    notes: int
    range: int  # semitones from the lowest to the highest note
    pitches: int  # distinct pitches
    repeats: float  # share of melodic moves that repeat the pitch
    steps: float  # share of the moves that change pitch which are steps (1-2 semitones)
    longest_run: float  # the longest time on one pitch (repeated or held), in bars


def melody_shape(score: Score) -> MelodyShape:
    """``MelodyShape`` of the melody (``melody_notes``). A run on one pitch lasts from its first
    note's onset to the next other pitch's onset (the last run: to the end of its last note)."""
    mel = melody_notes(score)
    if len(mel) < 2:
        return MelodyShape(len(mel), 0, len(mel), 0.0, 0.0, 0.0)
    p = np.array([n.pitch for n in mel])
    d = np.diff(p)
    moves = d[d != 0]
    longest, i = 0, 0
    while i < len(mel):
        j = i
        while j + 1 < len(mel) and mel[j + 1].pitch == mel[i].pitch:
            j += 1
        end = mel[j + 1].start if j + 1 < len(mel) else mel[j].start + mel[j].duration
        longest = max(longest, end - mel[i].start)
        i = j + 1
    return MelodyShape(len(mel), int(p.max() - p.min()), len(set(p.tolist())), float(np.mean(d == 0)),
                       float(np.mean(np.abs(moves) <= 2)) if len(moves) else 0.0,
                       longest / score.bar_length)


# ---- key -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyReading:
    key: Key
    correlation: float
    requested_correlation: float | None  # the requested key's correlation among the alternatives


@lru_cache(maxsize=1)
def _key_profiles() -> dict[str, np.ndarray]:
    """The key profiles of music21's default key analysis (``Stream.analyze('key')``: Aarden-Essen)."""
    from music21.analysis.discrete import AardenEssen

    ae = AardenEssen()
    return {mode: np.asarray(ae.getWeights(mode), float) for mode in ("major", "minor")}


def music21_key(score: Score, requested: Key | None = None) -> KeyReading:
    """music21's key analysis of every note (duration-weighted): ``Stream.analyze('key')``, its
    profiles and correlations computed here directly. music21 builds 24 Key objects (scales,
    interval networks) per call, 0.13 s of a candidate's 0.16 s critique; this gives the same
    key and coefficients (tests/test_music_analysis.py checks them against music21 itself)."""
    if not score.notes:
        return KeyReading(Key(0, "major"), 0.0, None)
    hist = np.zeros(12)
    for n in score.notes:
        hist[n.pitch % 12] += n.duration / 4
    h = hist - hist.mean()
    corr: dict[str, np.ndarray] = {}
    for mode, w in _key_profiles().items():
        rot = np.stack([np.roll(w, t) for t in range(12)])  # row t: the profile with its tonic on t
        r = rot - w.mean()
        den = np.sqrt((r**2).sum(1) * (h**2).sum())
        corr[mode] = np.where(den > 0, (r @ h) / np.where(den > 0, den, 1.0), 0.0)
    # music21 sorts (coefficient, tonic, mode) descending: the highest coefficient wins, minor on a tie
    mode = max(("minor", "major"), key=lambda m: corr[m].max())
    tonic = int(np.argmax(corr[mode]))
    req = float(corr[requested.mode][requested.tonic]) if requested is not None else None
    return KeyReading(Key(tonic, mode), float(corr[mode][tonic]), req)


def tonic_at_start(score: Score, key: Key) -> float:
    """Share of the first bar's sounding time (all voices) on tonic-triad pitch classes."""
    bar = score.bar_length
    tri = tonic_triad(key)
    tot = hit = 0
    for n in score.notes:
        if n.start < bar:
            d = min(n.start + n.duration, bar) - n.start
            tot += d
            hit += d * (n.pitch % 12 in tri)
    return hit / tot if tot else 0.0


def final_sonority(score: Score) -> tuple[int | None, list[int]]:
    """(last melody pitch, pitches sounding under it at its onset)."""
    mel = melody_notes(score)
    if not mel:
        return None, []
    return mel[-1].pitch, under(score, mel[-1])


def under(score: Score, n: NoteEvent) -> list[int]:
    """Pitches below ``n`` sounding at its onset (every other note of the score)."""
    return [m.pitch for m in score.notes
            if m is not n and m.pitch < n.pitch and m.start <= n.start < m.start + m.duration]


def final_on_tonic(score: Score, key: Key) -> float:
    """1 when the last melody note is the tonic and any harmony under it is the tonic triad with
    the tonic in the bass; 0.5 for a tonic-triad note; else 0."""
    top, below = final_sonority(score)
    if top is None:
        return 0.0
    tri = tonic_triad(key) | {(key.tonic + 4) % 12}  # a minor piece may close on the major (Picardy) third
    if top % 12 != key.tonic:
        return 0.5 if top % 12 in tri else 0.0
    if below and (min(below) % 12 != key.tonic or not {p % 12 for p in below} <= tri):
        return 0.5
    return 1.0


# ---- cadences ------------------------------------------------------------------------------------
def boundary_strengths(score: Score, mel: list[NoteEvent]) -> np.ndarray:
    """Per melody note, how strongly a phrase boundary follows it (the gap rule of Temperley's
    Grouper and Cambouropoulos' local boundary model): log2 of its gap over the piece's median
    gap, plus half a point for an arrival on a downbeat or half bar. The gap weighs how long the
    whole texture holds (the next onset in any part: at a chorale's fermata every voice holds,
    under a long note inside a phrase the others move on) 0.8, and the melody's own inter-onset
    interval plus any rest after the note 0.2. Against the fermatas of the dev half of the bench's
    chorales, 0.8 finds them with F1 0.73 (0.69 at 0.5, 0.77 at 1.0, which would leave a
    melody over a running accompaniment with no gaps at all)."""
    if not mel:
        return np.zeros(0)
    bar = score.bar_length
    end = max(score.bars * bar, max(n.start + n.duration for n in mel))
    onsets = np.array([n.start for n in mel] + [end])
    ioi = np.diff(onsets)
    rest = np.maximum(0, ioi - np.array([n.duration for n in mel]))
    every = np.array(sorted({n.start for n in score.notes} | {end}))
    held = every[np.searchsorted(every, onsets[:-1], side="right")] - onsets[:-1]
    gap = 0.2 * (ioi + rest) + 0.8 * held  # weights chosen on the dev chorales' fermatas (above)
    med = float(np.median(gap[:-1])) if len(mel) > 1 else 1.0
    pos = onsets[:-1] % bar
    strong = (pos == 0) | ((bar % 8 == 0) & (pos == bar // 2))
    return np.log2(np.maximum(gap, 1.0) / max(med, 1.0)) + 0.5 * strong


def phrase_end_notes(score: Score, phrase_bars: int) -> list[NoteEvent]:
    """The arrival note of each phrase, found from the music rather than a fixed grid: the
    segmentation whose phrase ends follow the strongest boundaries (``boundary_strengths``: long
    notes, rests, every voice holding, strong beats), each phrase near ``phrase_bars`` bars long
    (a squared log-ratio penalty, lengths 0.4..2.5 times that), by dynamic programming. Pickups,
    a chorale's irregular fermata phrases and an Essen song's two-bar lines come out where they
    are; music with no long notes or rests (a reel's running eighths) falls back to the regular
    grid. The final phrase ends on the piece's last melody note.

    Checked against the Bach chorales' fermatas (bench/music_critics.py): most of the phrase ends
    found are fermata notes, where the old fixed two-bar grid mostly missed them."""
    mel = melody_notes(score)
    if not mel or phrase_bars < 1:
        return []
    s = boundary_strengths(score, mel).tolist()
    bar = score.bar_length
    end = max(score.bars * bar, max(n.start + n.duration for n in mel))
    after = [n.start for n in mel[1:]] + [end]  # where the phrase ending on each note ends
    L = phrase_bars * bar
    n = len(mel)
    best = [-math.inf] * n  # best score of a segmentation whose last phrase ends on note i
    prev = [-1] * n  # the note ending the phrase before (-1: the piece's start)
    lo = -1  # the earliest previous end still within 2.5 phrase lengths
    for i in range(n):
        while lo < i - 1 and after[i] - (mel[0].start if lo < 0 else after[lo]) > 2.5 * L:
            lo += 1
        for j in range(lo, i):
            length = after[i] - (mel[0].start if j < 0 else after[j])
            if (length > 2.5 * L and j < i - 1) or (length < 0.4 * L and i < n - 1):
                continue  # (a phrase may always start at the previous note: a long rest stays a boundary)
            v = (0.0 if j < 0 else best[j]) + s[i] - math.log2(max(length, 1) / L) ** 2
            if v > best[i]:
                best[i], prev[i] = v, j
    ends, i = [], n - 1
    while i >= 0:
        ends.append(mel[i])
        i = prev[i]
    return ends[::-1]


def cadence_value(score: Score, key: Key, n: NoteEvent, final: bool = False) -> float:
    """How well note ``n`` closes a phrase: 1 for a tonic or dominant chord tone over the matching
    chord with its root in the bass (melody alone: the tone is enough), 0.5 for the right melody tone
    over other harmony, 0 otherwise. A final cadence must be on the tonic chord (in minor its major
    third, a Picardy close, counts too)."""
    pc = n.pitch % 12
    below = under(score, n)
    home = tonic_triad(key) | ({(key.tonic + 4) % 12} if final else set())
    chords = [(key.tonic, home)] if final else [(key.tonic, home), ((key.tonic + 7) % 12, dominant_chord(key))]
    best = 0.0
    for root, pcs in chords:
        if pc not in pcs:
            continue
        if final and pc != key.tonic:
            best = max(best, 0.5)
            continue
        if not below:
            best = max(best, 1.0)
        elif {p % 12 for p in below} <= pcs and min(below) % 12 == root:
            best = max(best, 1.0)
        else:
            best = max(best, 0.5)
    return best


def cadence_values(score: Score, key: Key, phrase_bars: int,
                   ends: list[NoteEvent] | None = None) -> list[float]:
    """``cadence_value`` of each phrase end (``ends``, else ``phrase_end_notes``), the last one as
    the final."""
    ends = phrase_end_notes(score, phrase_bars) if ends is None else ends
    return [cadence_value(score, key, n, final=i == len(ends) - 1) for i, n in enumerate(ends)]


def approached_by_step(score: Score, ends: list[NoteEvent]) -> float:
    """Share of the phrase ends ``ends`` the melody reaches by step or repetition (at most 2
    semitones from the note before), as cadential formulas do (2-1, 7-1, 3-2, 4-3); a leap into a
    phrase end is rare in real tunes and chorales. Bars put out of order, or pitches moved,
    break it (on the dev half of bench/music_critics.py: AUC 0.81 against shuffled bars, 0.67
    against jittered pitches, alone). 0.5 when there is nothing to judge."""
    mel = melody_notes(score)
    where = {n: i for i, n in enumerate(mel)}
    steps = [abs(n.pitch - mel[where[n] - 1].pitch) <= 2 for n in ends if where.get(n, 0) > 0]
    return float(np.mean(steps)) if steps else 0.5


def phrase_regularity(score: Score, ends: list[NoteEvent], phrase_bars: int) -> float:
    """Share of the inner phrases (the last left out) whose length — from their first note to the
    next phrase's first note — is within a quarter phrase of a whole number of ``phrase_bars``
    phrases: cadences fall at the ends of regular 2-, 4- or 8-bar groups. 0.5 when there is no
    inner phrase."""
    mel = melody_notes(score)
    if len(ends) < 2 or not mel:
        return 0.5
    where = {n: i for i, n in enumerate(mel)}
    starts = [mel[0].start] + [mel[where[n] + 1].start for n in ends[:-1] if where[n] + 1 < len(mel)]
    lengths = np.diff(starts) / (phrase_bars * score.bar_length)
    return float(np.mean(np.abs(lengths - np.round(lengths)) < 0.26)) if len(lengths) else 0.5


def minor_cadence_clashes(score: Score, key: Key, ends: list[NoteEvent]) -> tuple[int, int]:
    """(phrase ends checked, those with a seventh clash) in a minor key: within the cadence (the bar
    before the arrival note's onset, through the arrival note) the natural seventh and the raised
    leading note sound at the same time, in any two notes — a soprano singing the natural seventh
    over a dominant with the raised one, as the harmonisers did before the phrase plan kept the
    raised note in the approach bar. A line passing from one to the other (a bass falling G#-G in A
    minor, Bach's cross-relations between voices an eighth apart) is not counted: on the 18
    held-out Bach chorales (36 minor-key phrase ends) this finds none. (0, 0) in a major key."""
    if key.mode != "minor" or not ends:
        return 0, 0
    nat, lead = (key.tonic + 10) % 12, (key.tonic + 11) % 12
    clashes = 0
    for n in ends:
        lo, hi = max(0, n.start - score.bar_length), n.start + n.duration
        near = [m for m in score.notes if m.start < hi and m.start + m.duration > lo]
        if any(max(x.start, y.start, lo) < min(x.start + x.duration, y.start + y.duration, hi)
               for x in near if x.pitch % 12 == nat for y in near if y.pitch % 12 == lead):
            clashes += 1
    return len(ends), clashes


def final_cadence(score: Score, key: Key) -> float:
    """The close: ``final_on_tonic`` when the melody ends on the tonic, else 0 (ending on the third
    or fifth is a phrase end, not a close; a piece transposed a fifth away would pass with it)."""
    top, _ = final_sonority(score)
    return final_on_tonic(score, key) if top is not None and top % 12 == key.tonic else 0.0


def close_kind(score: Score, key: Key) -> str:
    """The harmony that brings in the final tonic, under the melody: the last run of tonic-triad
    sonorities over a tonic bass, and the sonority before it —
    "authentic": V, V7 or vii(o7) (the leading note present, raised in minor; no other pitch class)
    with the bass on the fifth or seventh degree (5 -> 1 or 7 -> 1), at some onset over that bass
    note (a cadential 6/4 or a suspension may come first: on the 60 Bach chorales of
    bench/music_critics.py this finds xx% authentic closes, where the bass note's whole span had to
    be the plain dominant: 45%);
    "plagal": IV or iv (the fourth degree in the bass, the triad's notes only, an added sixth
    allowed: IV6/5 -> I);
    "other": anything else (bVII -> i, bVI -> i, ii -> I, a piece that never leaves the tonic, or
    a final harmony that is not the tonic over its root);
    "none": no parts under the melody (one line: the melody alone cannot tell)."""
    acc = accompaniment_notes(score)
    if not acc:
        return "none"
    t = key.tonic
    tonic = tonic_triad(key) | {(t + 4) % 12}  # a Picardy third closes too
    dominant = {(t + d) % 12 for d in (7, 11, 2, 5, 8)}  # V7 and vii(o7)
    onsets = sorted({n.start for n in acc})

    def lowest(at: int) -> NoteEvent | None:
        ns = [n for n in acc if n.start <= at < n.start + n.duration]
        return min(ns, key=lambda n: n.pitch) if ns else None

    i = len(onsets)
    while i > 0:  # back over the final tonic harmony
        b = lowest(onsets[i - 1])
        if b is None or b.pitch % 12 != t or not {p % 12 for p in sounding(acc, onsets[i - 1])} <= tonic:
            break
        i -= 1
    if i == len(onsets) or i == 0:
        return "other"
    arrival = onsets[i]
    bass = lowest(onsets[i - 1])
    if bass is None:
        return "other"
    # the sonorities over that bass note (a cadential 6/4 or a suspension resolving over it: one
    # of them must be the plain dominant or subdominant)
    chords = [{p % 12 for p in sounding(acc, at)} for at in onsets if bass.start <= at < arrival]
    degree = (bass.pitch - t) % 12
    if degree in (7, 11) and any((t + 11) % 12 in c and c <= dominant for c in chords):
        return "authentic"
    subdominant = {(t + d) % 12 for d in (5, 9, 8, 0, 2)}  # IV / iv, with an added sixth (2)
    if degree == 5 and any(c <= subdominant and len(c) >= 2 for c in chords):
        return "plagal"
    return "other"


def authentic_close(score: Score, key: Key) -> float:
    """1 when the final tonic harmony is reached from dominant harmony (``close_kind``
    "authentic": V, V7 or vii(o7), the leading note present, raised in minor, bass 5 -> 1 or
    7 -> 1); 0 otherwise, and for a piece with no parts under its melody (a plagal IV -> I or a
    modal bVII -> I close is not authentic, whatever the melody does)."""
    return float(close_kind(score, key) == "authentic")


def modal_final(score: Score, key: Key) -> float:
    """1 when the melody ends on the final of a mode sharing the key's notes that is common in the
    corpus's folk songs and hymns: a minor key's fourth degree (a Dorian tune on A reads as E minor)
    or a major key's sixth (an Aeolian tune read as its relative major). A key profile analysis
    (Krumhansl-Schmuckler, as the corpus is labelled) hears such a modal tune in the major or minor
    key with its notes, so its real close reads as off the tonic; the cadence critic gives it half
    a close when it comes to rest. On the dev half of bench/music_critics.py 7 of the 70 real
    pieces end so (3 Essen songs, 4 chorales), against about 1 in 11 wrong-key copies."""
    top, _ = final_sonority(score)
    if top is None:
        return 0.0
    return float((top - key.tonic) % 12 == (5 if key.mode == "minor" else 9))


def comes_to_rest(score: Score) -> float:
    """How the last melody note comes to rest: log2 of its time to the end of the piece over the
    melody's median inter-onset interval, 0..1 (1: at least twice a typical note; 0: no longer
    than one, as when a piece stops mid-phrase)."""
    mel = melody_notes(score)
    if len(mel) < 2:
        return 0.0
    end = max(score.bars * score.bar_length, mel[-1].start + mel[-1].duration)
    med = float(np.median(np.diff([n.start for n in mel])))
    return float(np.clip(np.log2(max(end - mel[-1].start, 1) / max(med, 1.0)), 0.0, 1.0))


# ---- form ----------------------------------------------------------------------------------------
def bar_similarity(score: Score) -> np.ndarray:
    """bars x bars: shared (onset-in-bar, pitch) pairs of the melody over the larger bar's count."""
    bar = score.bar_length
    sets: list[set] = [set() for _ in range(score.bars)]
    for n in melody_notes(score):
        b = n.start // bar
        if b < len(sets):
            sets[b].add((n.start % bar, n.pitch))
    k = len(sets)
    S = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            a, b = sets[i], sets[j]
            s = len(a & b) / max(len(a), len(b)) if (a or b) else 0.0
            S[i, j] = S[j, i] = s
    return S


def restated_share(S: np.ndarray, threshold: float = 0.75, min_len: int = 2) -> float:
    """Share of bars that lie in a segment of >= ``min_len`` consecutive bars restated elsewhere
    (a run along an off-diagonal of the similarity matrix)."""
    k = len(S)
    covered = np.zeros(k, bool)
    for lag in range(min_len, k):
        run = 0
        for i in range(k - lag + 1):
            ok = i < k - lag and S[i, i + lag] >= threshold
            if ok:
                run += 1
                continue
            if run >= min_len:
                covered[i - run : i] = True
                covered[i - run + lag : i + lag] = True
            run = 0
    return float(covered.mean()) if k else 0.0


def bar_continuity(score: Score) -> tuple[float, float]:
    """How the bars follow one another: (mean melodic leap across bar lines over the mean leap
    inside bars + 1 semitone; mean register jump between adjacent bars over that between any two
    bars). Both about 1 or below in real music; bars put out of order raise them."""
    mel = melody_notes(score)
    bar = score.bar_length
    if len(mel) < 3:
        return 2.0, 2.0
    iv = np.abs(np.diff([n.pitch for n in mel]))
    across = np.array([mel[i + 1].start // bar != mel[i].start // bar for i in range(len(mel) - 1)])
    boundary = float(iv[across].mean() / (iv[~across].mean() + 1.0)) if across.any() and not across.all() else 2.0
    by_bar: dict[int, list[int]] = {}
    for n in mel:
        by_bar.setdefault(n.start // bar, []).append(n.pitch)
    m = np.array([np.mean(by_bar[k]) for k in sorted(by_bar)])
    if len(m) < 3:
        return boundary, 2.0
    pairs = np.abs(m[:, None] - m[None, :]).sum() / (len(m) * (len(m) - 1))
    return boundary, float(np.abs(np.diff(m)).mean() / (pairs + 1e-9))


def section_similarity(S: np.ndarray, a: int, b: int, length: int, skip_last: bool = True) -> float:
    """Mean similarity of the bars of section a..a+length and b..b+length (the last bar, where
    varied endings live, left out when ``skip_last``)."""
    n = length - 1 if skip_last and length > 1 else length
    if b + n > len(S) or a + n > len(S) or n < 1:
        return 0.0
    return float(np.mean([S[a + i, b + i] for i in range(n)]))


def form_match(S: np.ndarray, form: str) -> float:
    """How well the matrix shows ``form`` (AABB, AABA, ABA, ABAB, rondo ABACA): the sections the
    form says are the same are similar, the ones it says differ are not. 0..1."""
    letters = {"rondo": "ABACA"}.get(form.lower(), form.upper())
    k = len(S)
    if not letters or k < len(letters):
        return 0.0
    off = 1 if k % len(letters) == 1 and k > len(letters) else 0  # a pickup bar before the sections
    length = (k - off) // len(letters)
    same, diff = [], []
    for i in range(len(letters)):
        for j in range(i + 1, len(letters)):
            sim = section_similarity(S, off + i * length, off + j * length, length)
            (same if letters[i] == letters[j] else diff).append(sim)
    if not same:
        return 0.0
    s = float(np.mean(same))
    d = float(np.mean(diff)) if diff else 0.0
    return float(np.clip(s - 0.5 * max(0.0, d - 0.3), 0.0, 1.0))


def is_aabb(score: Score) -> bool:
    """Two strains, each played twice (endings may vary): A1~A2 and B1~B2 at >= 0.7, A unlike B."""
    S = bar_similarity(score)
    k = len(S)
    off = 1 if k % 4 == 1 else 0  # a pickup bar before the strains
    if k - off < 8 or (k - off) % 4:
        return False
    L = (k - off) // 4
    aa = section_similarity(S, off, off + L, L)
    bb = section_similarity(S, off + 2 * L, off + 3 * L, L)
    ab = section_similarity(S, off, off + 2 * L, L)
    return aa >= 0.7 and bb >= 0.7 and ab < 0.7


# ---- texture -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Texture:
    accompanied: float  # share of melody onsets with something sounding under them
    chord_tones: float  # of those, share where melody + harmony fit one triad/seventh
    on_top: float  # share of melody onsets above everything else
    spacing: float  # share of accompanied onsets with upper voices within an octave, bass in register


def texture(score: Score) -> Texture:
    mel = melody_notes(score)
    rest = accompaniment_notes(score)
    acc = ct = top = space = 0
    for n in mel:
        under = sounding(rest, n.start)
        if not under:
            continue
        acc += 1
        pcs = {p % 12 for p in under} | {n.pitch % 12}
        ct += fits_chord(pcs)
        top += n.pitch > max(under)
        ps = sorted(set(under) | {n.pitch})
        gaps_ok = all(b - a <= 12 for a, b in zip(ps[1:-1], ps[2:])) if len(ps) > 2 else True
        space += gaps_ok and 28 <= ps[0] <= 64
    if not mel:
        return Texture(0.0, 0.0, 0.0, 0.0)
    return Texture(acc / len(mel), ct / acc if acc else 0.0, top / acc if acc else 0.0, space / acc if acc else 0.0)


# ---- four-part voice leading ---------------------------------------------------------------------
def beat_grid(score: Score, n_voices: int = 4) -> np.ndarray:
    """(beats, n_voices) pitches sounding on each quarter-note beat (-1 = silent). Parts come from
    ``voice``; a one-voice score is split by pitch (top n_voices notes, high to low)."""
    total = score.bars * score.bar_length
    beats = max(total // 4, 0)
    grid = -np.ones((beats, n_voices), np.int64)
    vs = voices_of(score)
    if len(vs) >= n_voices:
        for n in score.notes:
            if n.voice not in vs[:n_voices]:
                continue
            v = vs.index(n.voice)
            for b in range((n.start + 3) // 4, min((n.start + n.duration + 3) // 4, beats)):
                if grid[b, v] < 0 or n.start <= b * 4:
                    grid[b, v] = n.pitch
    else:
        for b in range(beats):
            ps = sorted(set(sounding(list(score.notes), b * 4)), reverse=True)[:n_voices]
            grid[b, : len(ps)] = ps
    return grid


@dataclass(frozen=True)
class VoiceLeading:
    beats: int
    parallels_per_100: float  # parallel fifths and octaves between any two voices
    crossings_per_100: float
    range_per_100: float  # notes outside the SATB ranges
    plain_chords: float  # beats whose pitch classes form a plain triad or seventh
    final_tonic_triad: bool
    four_voices: float  # beats with all four voices sounding


def parallel_motion(a0, a1, b0, b1):
    """Two voices moving from ``a0``, ``b0`` to ``a1``, ``b1`` in parallel fifths or octaves (the
    same perfect interval before and after, both moving, in the same direction). Numbers or numpy
    arrays alike (elementwise): the one rule the critic counts and the harmonisers avoid."""
    iv0, iv1 = (a0 - b0) % 12, (a1 - b1) % 12
    return (iv0 == iv1) & ((iv0 == 0) | (iv0 == 7)) & ((a1 - a0) * (b1 - b0) > 0)


def onset_grid(score: Score, n_voices: int = 4) -> np.ndarray:
    """(onsets, n_voices) pitches sounding in each part at every onset of any part (-1 = silent):
    the slices between which voices move, eighths and passing notes included. Needs ``n_voices``
    parts (``voice``); else the quarter-beat ``beat_grid``."""
    vs = voices_of(score)[:n_voices]
    if len(vs) < n_voices:
        return beat_grid(score, n_voices)
    notes = [n for n in score.notes if n.voice in vs]
    times = np.array(sorted({n.start for n in notes}))
    grid = -np.ones((len(times), n_voices), np.int64)
    for n in sorted(notes, key=lambda n: n.start):  # a later onset in the same part takes over
        v = vs.index(n.voice)
        lo, hi = np.searchsorted(times, [n.start, n.start + n.duration])
        grid[lo:hi, v] = n.pitch
    return grid


def parallels(grid: np.ndarray) -> int:
    """Parallel fifths and octaves between any two parts from each slice of ``grid`` to the next
    (both slices with every part sounding)."""
    if len(grid) < 2:
        return 0
    full = (grid >= 0).all(1)
    a, b = grid[:-1], grid[1:]
    both = full[:-1] & full[1:]
    k = grid.shape[1]
    return int(sum((parallel_motion(a[:, i], b[:, i], a[:, j], b[:, j]) & both).sum()
                   for i in range(k) for j in range(i + 1, k)))


def voice_leading(score: Score, key: Key) -> VoiceLeading:
    """Four-part voice leading. Parallel fifths and octaves are counted between every two
    successive onsets (``onset_grid``: a pair of voices moving together in eighths counts, as the
    composer's audit heard them; before, only from beat to beat) and, as before, from beat to beat
    where a passing note comes between, per 100 quarter beats; crossings, range breaches and plain
    chords on the beats. On the 60 Bach chorales of bench/music_critics.py the eighth-note moves add
    0.03 (dev half) and 0.32 (test half) per 100 beats to the beat-to-beat 0.92 and 1.83."""
    g = beat_grid(score, 4)
    n = len(g)
    if n == 0:
        return VoiceLeading(0, 0.0, 0.0, 0.0, 0.0, False, 0.0)
    full = (g >= 0).all(1)
    cross = rng = 0
    for b in range(n):
        row = g[b]
        for v in range(4):
            if row[v] >= 0 and not VOICE_RANGES[v][0] <= row[v] <= VOICE_RANGES[v][1]:
                rng += 1
            if v < 3 and row[v] >= 0 and row[v + 1] >= 0 and row[v] < row[v + 1]:
                cross += 1
    par = parallels(onset_grid(score, 4))
    if len(voices_of(score)) >= 4:  # and from beat to beat across a passing note (the onsets step past it)
        vs = voices_of(score)[:4]
        times = np.array(sorted({m.start for m in score.notes if m.voice in vs}))
        par += sum(parallels(g[b - 1 : b + 1]) for b in range(1, n) if ((times > 4 * (b - 1)) & (times < 4 * b)).any())
    plain = np.mean([is_plain_chord({int(p) % 12 for p in g[b] if p >= 0}) for b in range(n)])
    last = [int(p) for p in g[-1] if p >= 0]
    if not last:  # a final rest beat: use the last sounding beat
        rows = [r for r in g if (r >= 0).any()]
        last = [int(p) for p in rows[-1] if p >= 0] if rows else []
    tri = tonic_triad(key) | {(key.tonic + 4) % 12}  # a minor piece may end on the major (Picardy) third
    final = bool(last) and {p % 12 for p in last} <= tri and min(last) % 12 == key.tonic and len(set(last)) >= 2
    per = 100.0 / n
    return VoiceLeading(n, par * per, cross * per, rng * per, float(plain), final, float(full.mean()))


def inner_repeats(score: Score) -> float:
    """Share of beat-to-beat moves (both beats sounding) where the alto or tenor keeps its pitch,
    alto and tenor pooled: how static the inner voices are (a held note counts as kept). 0 for
    fewer than four parts."""
    if len(voices_of(score)) < 4:
        return 0.0
    g = beat_grid(score, 4)[:, 1:3]
    both = (g[1:] >= 0) & (g[:-1] >= 0)
    return float((g[1:] == g[:-1])[both].mean()) if both.any() else 0.0


# ---- one piece, as the bench reports it ----------------------------------------------------------
def piece_report(score: Score, key: Key, kind: str = "folk") -> dict:
    """The issue-19 measures of one piece: key reading, tonic at start and end, cadences (and, in
    minor, the seventh clash at them), form, texture and (chorales) voice leading. ``kind``: a bench
    request (chorale: 2-bar phrases and the final chord; else 4-bar phrases and the final melody note)."""
    chorale = kind == "chorale"
    kr = music21_key(score, key)
    ends = phrase_end_notes(score, 2 if chorale else 4)
    cads = cadence_values(score, key, 2 if chorale else 4, ends)
    minor_ends, clashes = minor_cadence_clashes(score, key, ends)
    S = bar_similarity(score)
    tex = texture(score)
    vl = voice_leading(score, key)
    final = vl.final_tonic_triad if chorale else final_on_tonic(score, key) >= 1.0
    rep = {
        "key_read": kr.key.name, "key_agrees": kr.key == key, "final_on_tonic": bool(final),
        "first_bar_tonic": tonic_at_start(score, key) >= 0.5,
        "cadence_share": float(np.mean([c >= 1.0 for c in cads])) if cads else 0.0,
        "aabb": is_aabb(score), "restated_share": restated_share(S), "restated": restated_share(S) >= 0.5,
        "accompanied": tex.accompanied >= 0.5, "chord_tone_share": tex.chord_tones,
        "voices": len(voices_of(score)), "bars": score.bars,
        "minor_cadences": minor_ends, "seventh_clashes": clashes,
        "authentic_close": authentic_close(score, key) >= 1.0,
    }
    if chorale:
        rep.update(four_voices=vl.four_voices, triad_beats=vl.plain_chords, parallels_per_100=vl.parallels_per_100,
                   crossings_per_100=vl.crossings_per_100, range_per_100=vl.range_per_100,
                   final_tonic_triad=vl.final_tonic_triad, inner_repeats=inner_repeats(score))
    return rep


# ---- harmony: what chord sounds on each beat, and how it moves ----------------------------------
@dataclass(frozen=True)
class Harmony:
    beats: int  # quarter beats with a chord read
    changes_per_bar: float  # beat-to-beat chord changes per bar (harmonic rhythm)
    distinct: int  # distinct chords (root degree and quality)
    other_share: float  # share of beats on a chord other than I, V(7) or vii(o): ii, IV, vi, iii, applied...
    longest_bars: float  # the longest time on one chord, in bars
    chords: tuple  # per beat: (root degree above the tonic, template index) or None
    distinct_8: float = 0.0  # distinct chords as for 8 bars (distinct / sqrt(bars / 8): a longer piece has more)


def chord_per_beat(score: Score, key: Key) -> list[tuple[int, int] | None]:
    """The chord on each quarter beat, read from every note sounding in it (weighted by how long it
    sounds there; the melody at a tenth of the weight, since its passing notes are not the harmony's): the
    triad or seventh (``chord_templates``) whose tones carry the most weight less the weight
    outside it, the bass note as root breaking near-ties and a seventh needing its seventh.
    Returns (root's degree above the key's tonic, shape index) per beat, None where nothing sounds."""
    total = score.bars * score.bar_length
    beats = max(total // 4, 0)
    four_part = len(voices_of(score)) >= 4
    mel = set() if four_part else set(melody_notes(score))
    v0 = min((n.voice for n in score.notes), default=0)
    w = np.zeros((beats, 12))
    bass = np.full(beats, 999)
    for n in score.notes:
        lo, hi = n.start, n.start + n.duration
        top = (n.voice == v0) if four_part else (n in mel)
        for b in range(max(lo // 4, 0), min((hi + 3) // 4, beats)):
            ov = min(hi, 4 * b + 4) - max(lo, 4 * b)
            if ov <= 0:
                continue
            w[b, n.pitch % 12] += ov * (0.1 if top else 1.0)
            if not top:
                bass[b] = min(bass[b], n.pitch)
    temps = chord_templates()
    out: list[tuple[int, int] | None] = []
    for b in range(beats):
        if w[b].sum() <= 0:
            out.append(None)
            continue
        tot = w[b].sum()
        best, best_v = None, -1e9
        for i, (root, pcs) in enumerate(temps):
            inside = sum(w[b, p] for p in pcs)
            v = 2 * inside - tot - 0.15 * len(pcs)
            if len(pcs) == 4 and w[b, sorted(pcs, key=lambda p: (p - root) % 12)[-1]] <= 0:
                v -= 10  # a seventh chord only with its seventh sounding
            if bass[b] < 999 and bass[b] % 12 == root:
                v += 0.3 * tot / 4
            if w[b, root] > 0:
                v += 0.1
            if v > best_v:
                best, best_v = (int((root - key.tonic) % 12), i // 12), v
        out.append(best)
    return out


def harmony(score: Score, key: Key) -> Harmony:
    """Harmonic rhythm and variety (``chord_per_beat``): chord changes per bar, distinct chords, the
    share of beats off I and V (ii, IV, vi, ...), the longest time on one chord. A chord counts as
    its root and quality; an empty beat keeps the chord before."""
    ch = chord_per_beat(score, key)
    filled = []
    for c in ch:
        filled.append(c if c is not None else (filled[-1] if filled else None))
    filled = [c for c in filled if c is not None]
    per_bar = max(score.bar_length // 4, 1)
    if not filled:
        return Harmony(0, 0.0, 0, 0.0, 0.0, tuple(ch))
    changes = sum(a != b for a, b in zip(filled, filled[1:]))
    run = longest = 1
    for a, b in zip(filled, filled[1:]):
        run = run + 1 if a == b else 1
        longest = max(longest, run)
    td = {0, 7, 11}  # I, V(7), vii(o): tonic and dominant
    other = float(np.mean([c[0] not in td for c in filled]))
    bars = len(filled) / per_bar
    return Harmony(len(filled), changes / max(bars, 1e-9), len(set(filled)), other, longest / per_bar, tuple(ch),
                   len(set(filled)) / math.sqrt(max(bars, 1.0) / 8))
