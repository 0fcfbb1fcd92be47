"""A chord model learned from the Bach chorales' harmony, and harmonising a melody with it.

Each chorale beat's four sounding pitch classes are labelled with the triad or seventh chord that
covers them best (root, quality), relative to the chorale's key: a Roman-numeral reading
(``label_beats``). Counting over the chorales gives, per mode, the chords in use, how they follow
each other every half bar (the chorales' usual harmonic rhythm), which chord opens, and per chord
quality how likely each melody pitch class is (chord tones vs. passing notes). ``harmonise``
picks one chord per harmonic unit by Viterbi: the melody notes' fit (duration-weighted, the
downbeat note counted double) plus the learned transitions, with chords fixed where the phrase
plan puts a cadence (I or V) and, before a full close, limited to V or V7 (an authentic cadence).

Trained by ``models/music/training/chords.py``; shipped as ``models/weights/music-chords.npz``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.music.tokens import MODES, Key

QUALITIES = ("maj", "min", "dim", "dom7", "min7", "hdim7", "maj7", "dim7")
SHAPES = ((0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 7, 10), (0, 3, 7, 10), (0, 3, 6, 10), (0, 4, 7, 11), (0, 3, 6, 9))
ROMAN = ("I", "bII", "II", "bIII", "III", "IV", "#IV", "V", "bVI", "VI", "bVII", "VII")
QUALITY_MARKS = ("", "m", "o", "7", "m7", "ø7", "M7", "o7")  # as QUALITIES, in a chord's name


def chord_name(degree: int, quality: int) -> str:
    """A chord's Roman-numeral name: its degree above the tonic (semitones) and QUALITIES index."""
    return ROMAN[degree] + QUALITY_MARKS[quality]


def chord_pcs(degree: int, quality: int, key: Key) -> tuple[int, ...]:
    """Pitch classes of the chord on ``degree`` semitones above the tonic (root first)."""
    root = (key.tonic + degree) % 12
    return tuple((root + i) % 12 for i in SHAPES[quality])


def best_label(pcs: set[int], bass: int | None = None) -> tuple[int, int] | None:
    """(root pitch class, quality index) of the chord covering ``pcs`` best; None for < 2 pcs."""
    if len(pcs) < 2:
        return None
    best, best_s = None, -1e9
    for q, shape in enumerate(SHAPES):
        for r in range(12):
            t = {(r + i) % 12 for i in shape}
            s = len(pcs & t) - 2.0 * len(pcs - t) + (0.75 if bass is not None and bass == r else 0.0)
            s -= 0.25 * (len(shape) == 4)  # a triad when a seventh adds nothing
            if r in pcs:
                s += 0.5
            if s > best_s:
                best, best_s = (r, q), s
    return best


def label_beats(grid: np.ndarray, key: Key) -> list[tuple[int, int] | None]:
    """Per beat of a (beats, voices) pitch grid: (degree above the tonic, quality) or None."""
    out = []
    for row in grid:
        ps = [int(p) for p in row if p >= 0]
        lab = best_label({p % 12 for p in ps}, min(ps) % 12 if ps else None) if len(ps) >= 3 else None
        out.append(None if lab is None else ((lab[0] - key.tonic) % 12, lab[1]))
    return out


@dataclass(frozen=True)
class ChordModel:
    labels: np.ndarray  # (K, 3) int: mode index, degree, quality
    start: np.ndarray  # (K,) log P(first chord) within its mode
    trans: np.ndarray  # (K, K) log P(next | this), -inf across modes
    emit: np.ndarray  # (Q, 12) log P(melody pc - root | quality)
    counts: np.ndarray  # (K,) training occurrences
    trans_beat: np.ndarray | None = None  # (K, K) log P(next beat's chord | this beat's), for chorales

    def save(self, path: Path) -> None:
        import io

        from models.common.files import write_atomic

        buf = io.BytesIO()
        extra = {} if self.trans_beat is None else {"trans_beat": self.trans_beat.astype(np.float32)}
        np.savez_compressed(buf, labels=self.labels, start=self.start.astype(np.float32),
                            trans=self.trans.astype(np.float32), emit=self.emit.astype(np.float32),
                            counts=self.counts, **extra)
        write_atomic(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "ChordModel":
        from models.common.errors import ModelFileError

        try:
            with np.load(Path(path), allow_pickle=False) as z:
                m = cls(z["labels"], z["start"].astype(np.float64), z["trans"].astype(np.float64),
                        z["emit"].astype(np.float64), z["counts"],
                        z["trans_beat"].astype(np.float64) if "trans_beat" in z.files else None)
        except (OSError, KeyError, ValueError) as e:
            raise ModelFileError(f"{path}: not a chord model ({e}); run models/music/training/chords.py") from None
        if m.labels.ndim != 2 or m.trans.shape != (len(m.labels), len(m.labels)) or m.emit.shape != (len(QUALITIES), 12):
            raise ModelFileError(f"{path}: chord model arrays have the wrong shapes")
        return m

    def in_mode(self, mode: str) -> np.ndarray:
        return np.flatnonzero(self.labels[:, 0] == MODES.index(mode))

    def name(self, k: int) -> str:
        _, deg, q = (int(x) for x in self.labels[k])
        return chord_name(deg, q)

    def find(self, mode: str, degree: int, quality: int | None = None) -> int | None:
        for k in self.in_mode(mode):
            if self.labels[k, 1] == degree and (quality is None or self.labels[k, 2] == quality):
                return int(k)
        return None

    def harmonise(self, units: list[np.ndarray], key: Key, fixed: list[int | tuple[int, ...] | None] | None = None,
                  fit_weight: float = 1.0, per_beat: bool = False, prior_weight: float = 1.0) -> list[int]:
        """One chord index per unit. ``units[i]``: (12,) melody duration per pitch class in unit i
        (downbeat doubled by the caller); ``fixed[i]``: a chord index the unit must take, or a tuple
        of indices it must choose among (a cadence's V or V7)."""
        ks = self.in_mode(key.mode)
        n = len(units)
        if n == 0:
            return []
        emis = np.zeros((n, len(ks)))
        for j, k in enumerate(ks):
            _, deg, q = self.labels[k]
            root = (key.tonic + deg) % 12
            rel = np.roll(self.emit[q], root)  # log P(pc | chord) by absolute pitch class
            for i, h in enumerate(units):
                tot = h.sum()
                emis[i, j] = fit_weight * float(h @ rel) / tot * 4 if tot else 0.0
        if prior_weight:  # how common each chord is in the chorales (I, V, IV over rarities)
            c = self.counts[ks].astype(np.float64)
            emis += prior_weight * np.log(c / c.sum())[None, :]
        if fixed:
            for i, f in enumerate(fixed):
                allowed = [] if f is None else [f] if isinstance(f, (int, np.integer)) else list(f)
                allowed = [a for a in allowed if a in ks]
                if allowed:
                    emis[i, :] = np.where(np.isin(ks, allowed), emis[i], -1e9)
        T = (self.trans_beat if per_beat and self.trans_beat is not None else self.trans)[np.ix_(ks, ks)]
        score = self.start[ks] + emis[0]
        back = np.zeros((n, len(ks)), np.int64)
        for i in range(1, n):
            cand = score[:, None] + T
            back[i] = cand.argmax(0)
            score = cand.max(0) + emis[i]
        path = [int(score.argmax())]
        for i in range(n - 1, 0, -1):
            path.append(int(back[i, path[-1]]))
        return [int(ks[j]) for j in reversed(path)]
