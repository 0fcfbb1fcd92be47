"""Objective measures of symbolic music: key finding and MusPy-style quality metrics.

Key finding is Krumhansl–Schmuckler with the Krumhansl–Kessler (1982) profiles on a
duration-weighted pitch-class histogram. The quality metrics follow MusPy's definitions
(Dong et al., ISMIR 2020): scale consistency, pitch-class entropy, groove consistency,
empty-beat rate, pitch range. Plain numpy; used by data preparation and by the critics.
"""

from __future__ import annotations

import numpy as np

from models.music.tokens import Key, Score

_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def pitch_class_histogram(score: Score, weighted: bool = True) -> np.ndarray:
    h = np.zeros(12)
    for n in score.notes:
        h[n.pitch % 12] += n.duration if weighted else 1
    return h


def estimate_key(score: Score) -> tuple[Key, float]:
    """Most likely key and its Pearson correlation with the profile (−1..1)."""
    h = pitch_class_histogram(score)
    if h.sum() == 0:
        return Key(0, "major"), 0.0
    if np.count_nonzero(h) == 1:  # one pitch class: no correlation to compute; call it that tonic
        return Key(int(np.argmax(h)), "major"), 0.0
    if np.ptp(h) == 0:  # all twelve classes equally weighted: no key at all
        return Key(0, "major"), 0.0
    best, best_r = Key(0, "major"), -2.0
    for mode, prof in (("major", _KK_MAJOR), ("minor", _KK_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(h, np.roll(prof, tonic))[0, 1])
            if r > best_r:
                best, best_r = Key(tonic, mode), r
    return best, best_r


def key_correlation(score: Score, key: Key) -> float:
    """Pearson correlation of the duration-weighted pitch-class histogram with ``key``'s
    Krumhansl–Kessler profile (−1..1; 0 for an empty or flat histogram)."""
    h = pitch_class_histogram(score)
    if h.sum() == 0 or np.ptp(h) == 0:
        return 0.0
    prof = _KK_MAJOR if key.mode == "major" else _KK_MINOR
    return float(np.corrcoef(h, np.roll(prof, key.tonic))[0, 1])


def pitch_in_scale_rate(score: Score, key: Key) -> float:
    """Fraction of notes whose pitch class belongs to ``key`` (see ``Key.scale``)."""
    if not score.notes:
        return 0.0
    scale = key.scale()
    return sum(n.pitch % 12 in scale for n in score.notes) / len(score.notes)


def scale_consistency(score: Score) -> float:
    """MusPy: the largest in-scale rate over all 24 major/minor keys."""
    return max(pitch_in_scale_rate(score, Key(t, m)) for t in range(12) for m in ("major", "minor"))


def pitch_class_entropy(score: Score) -> float:
    """MusPy: Shannon entropy (bits) of the pitch-class histogram; 0..log2(12)=3.58."""
    h = pitch_class_histogram(score, weighted=False)
    if h.sum() == 0:
        return 0.0
    p = h[h > 0] / h.sum()
    return float(-(p * np.log2(p)).sum())


def groove_consistency(score: Score) -> float:
    """MusPy: 1 − mean Hamming distance between consecutive bars' onset patterns (0..1)."""
    bar_len, bars = score.bar_length, score.bars
    if bars < 2:
        return 1.0
    grid = np.zeros((bars, bar_len), bool)
    for n in score.notes:
        b = n.start // bar_len
        if b < bars:
            grid[b, n.start % bar_len] = True
    return float(1.0 - np.mean(np.abs(grid[1:].astype(int) - grid[:-1].astype(int)).sum(1) / bar_len))


def empty_beat_rate(score: Score) -> float:
    """MusPy: fraction of beats (quarter notes here) with no sounding note."""
    total = score.bars * score.bar_length
    if total == 0:
        return 1.0
    sounding = np.zeros(total, bool)
    for n in score.notes:
        sounding[n.start : min(n.start + n.duration, total)] = True
    beats = sounding[: total - total % 4].reshape(-1, 4).any(1)
    return float(1.0 - beats.mean()) if beats.size else 1.0


def pitch_range(score: Score) -> int:
    if not score.notes:
        return 0
    ps = [n.pitch for n in score.notes]
    return max(ps) - min(ps)


def interval_sequence(score: Score) -> np.ndarray:
    """Melodic intervals of the top line (highest pitch at each onset), in semitones."""
    top: dict[int, int] = {}
    for n in score.notes:
        top[n.start] = max(top.get(n.start, 0), n.pitch)
    ps = np.array([top[t] for t in sorted(top)], dtype=np.int64)
    return np.diff(ps)


def rhythm_sequence(score: Score) -> np.ndarray:
    """Inter-onset intervals in sixteenths (clipped to 32) of the distinct onsets."""
    onsets = np.array(sorted({n.start for n in score.notes}), dtype=np.int64)
    return np.clip(np.diff(onsets), 0, 32)
