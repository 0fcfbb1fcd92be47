"""A compact hashed n-gram index: "has this n-gram occurred in the training corpus?"

Each n-gram of small non-negative ints is hashed (polynomial rolling hash, then a
splitmix64 finaliser) and truncated to 32 bits; the index is the sorted unique array of
those hashes, looked up with ``np.searchsorted``. With ~1M entries the false-positive
rate is ~0.02%, never a false negative. Used for copy-rate critics and for n-gram
blocking while sampling (music intervals+rhythm here; word n-grams for poems).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_P = np.uint64(0x100000001B3)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def hash_ngrams(seq: np.ndarray, n: int) -> np.ndarray:
    """uint32 hashes of every length-n window of ``seq`` (shape (len-n+1,)); empty if too short."""
    seq = np.asarray(seq, dtype=np.uint64)
    if len(seq) < n:
        return np.zeros(0, np.uint32)
    return hash_windows(np.lib.stride_tricks.sliding_window_view(seq, n))


def hash_windows(windows: np.ndarray) -> np.ndarray:
    """uint32 hash of each row of a (count, n) array of small non-negative ints."""
    windows = np.asarray(windows, dtype=np.uint64)
    n = windows.shape[1]
    h = np.full(len(windows), np.uint64(n), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            h = h * _P + windows[:, j] + np.uint64(1)
        h ^= h >> np.uint64(30)
        h *= _M1
        h ^= h >> np.uint64(27)
        h *= _M2
        h ^= h >> np.uint64(31)
    return (h & np.uint64(0xFFFFFFFF)).astype(np.uint32)


@dataclass(frozen=True)
class NgramIndex:
    n: int
    hashes: np.ndarray  # sorted unique uint32

    @classmethod
    def build(cls, sequences: Iterable[np.ndarray], n: int) -> "NgramIndex":
        parts = [hash_ngrams(s, n) for s in sequences]
        allh = np.concatenate(parts) if parts else np.zeros(0, np.uint32)
        return cls(n, np.unique(allh))

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        if len(self.hashes) == 0:
            return np.zeros(len(hashes), bool)
        i = np.searchsorted(self.hashes, hashes)
        i = np.minimum(i, len(self.hashes) - 1)
        return self.hashes[i] == hashes

    def copied(self, seq: np.ndarray) -> np.ndarray:
        """Boolean per n-gram window of ``seq``: found in the corpus."""
        return self.contains(hash_ngrams(seq, self.n))

    def copy_rate(self, seq: np.ndarray) -> float:
        hits = self.copied(seq)
        return float(hits.mean()) if len(hits) else 0.0

    def longest_copied_span(self, seq: np.ndarray) -> int:
        """Longest run of elements covered by consecutive copied n-grams (0 if none)."""
        hits = self.copied(seq)
        best = run = 0
        for h in hits:
            run = run + 1 if h else 0
            best = max(best, run)
        return best + self.n - 1 if best else 0

    def __len__(self) -> int:
        return len(self.hashes)

    def union(self, other: "NgramIndex") -> "NgramIndex":
        """Every n-gram either index has (copy rate and blocking against two corpora at once)."""
        if other.n != self.n:
            raise ValueError(f"cannot join {self.n}-gram and {other.n}-gram indexes")
        return NgramIndex(self.n, np.union1d(self.hashes, other.hashes))

    def save(self, path: Path) -> None:
        """Two bytes per n-gram: the low 16 bits of each sorted hash, plus how many hashes
        share each value of the high 16 bits (65,536 counts). Same set, ~half the size."""
        import io

        from models.common.files import write_atomic

        counts = np.bincount(self.hashes >> 16, minlength=1 << 16).astype(np.uint32)
        buf = io.BytesIO()
        np.savez_compressed(buf, n=np.array(self.n), hi_counts=counts, lo=(self.hashes & 0xFFFF).astype(np.uint16))
        write_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "NgramIndex":
        with np.load(path, allow_pickle=False) as z:
            if "hashes" in z:  # the plain format
                return cls(int(z["n"]), z["hashes"].astype(np.uint32))
            hi = np.repeat(np.arange(1 << 16, dtype=np.uint32), z["hi_counts"].astype(np.int64))
            return cls(int(z["n"]), (hi << 16) | z["lo"].astype(np.uint32))
