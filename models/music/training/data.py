"""The music training corpus: music21's bundled Bach chorales and ABC folk collections.

Parsing is slow (music21 takes ~30–130 ms a piece), so the corpus is parsed once into flat
numpy arrays (``MusicCorpus``) and cached as ``.npz``. Each piece is quantised to sixteenths,
its key estimated with Krumhansl–Schmuckler, its meter taken from the first time signature
(pieces that change meter are dropped) and its pickup bar aligned to the bar grid.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.music.metrics import estimate_key
from models.music.tokens import DENSITIES, METERS, STYLES, Key, NoteEvent, Score, density_bin

# collection folder inside music21/corpus -> style token
ABC_COLLECTIONS = {
    "essenFolksong": "folk",
    "oneills1850": "irish",
    "ryansMammoth": "irish",
    "airdsAirs": "scottish",
    "nottingham-dataset": "english",
}


@dataclass(frozen=True)
class MusicCorpus:
    """All pieces as flat arrays: notes[offsets[i]:offsets[i+1]] belong to piece i."""

    notes: np.ndarray  # (N, 3) int32: start, duration (sixteenths), pitch
    offsets: np.ndarray  # (P + 1,) int64
    meter: np.ndarray  # (P,) index into METERS
    key: np.ndarray  # (P,) Key.index
    style: np.ndarray  # (P,) index into STYLES
    density: np.ndarray  # (P,) index into DENSITIES
    bars: np.ndarray  # (P,)
    # marked phrase ends (a chorale's fermata bars): phrase_bars[phrase_offsets[i]:phrase_offsets[i+1]]
    # for piece i; none marked -> the 4-bar grid (``tokens.phrase_end_bars``). A cache written before
    # these fields existed loads with none marked.
    phrase_bars: np.ndarray | None = None  # (M,) int32 bar indices
    phrase_offsets: np.ndarray | None = None  # (P + 1,) int64

    def __len__(self) -> int:
        return len(self.meter)

    def score(self, i: int, transpose: int = 0) -> Score:
        rows = self.notes[self.offsets[i] : self.offsets[i + 1]]
        notes = tuple(NoteEvent(int(s), int(d), int(p) + transpose) for s, d, p in rows)
        k = int(self.key[i])
        key = Key(k % 12, ("major", "minor")[k // 12]).transpose(transpose)
        ends: tuple[int, ...] = ()
        if self.phrase_offsets is not None:
            ends = tuple(int(b) for b in self.phrase_bars[self.phrase_offsets[i] : self.phrase_offsets[i + 1]])
        return Score(notes, METERS[self.meter[i]], key, STYLES[self.style[i]], DENSITIES[self.density[i]],
                     int(self.bars[i]), phrase_ends=ends)

    def split(self, val_fraction: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Deterministic train/validation piece indices."""
        order = np.random.default_rng(seed).permutation(len(self))
        n_val = max(1, int(len(self) * val_fraction))
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def save(self, path: Path) -> None:
        import io

        from models.common.files import write_atomic

        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: getattr(self, k) for k in self.__dataclass_fields__
                                    if getattr(self, k) is not None})
        write_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "MusicCorpus":
        with np.load(path, allow_pickle=False) as z:
            return cls(**{k: z[k] for k in cls.__dataclass_fields__ if k in z.files})

    @classmethod
    def from_scores(cls, scores: list[Score]) -> "MusicCorpus":
        rows = [np.array([(n.start, n.duration, n.pitch) for n in s.notes], np.int32).reshape(-1, 3) for s in scores]
        offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
        return cls(
            notes=np.concatenate(rows) if rows else np.zeros((0, 3), np.int32),
            offsets=offsets,
            meter=np.array([METERS.index(s.meter) for s in scores], np.int64),
            key=np.array([s.key.index for s in scores], np.int64),
            style=np.array([STYLES.index(s.style) for s in scores], np.int64),
            density=np.array([DENSITIES.index(s.density) for s in scores], np.int64),
            bars=np.array([s.bars for s in scores], np.int64),
            phrase_bars=np.array([b for s in scores for b in s.phrase_ends], np.int32),
            phrase_offsets=np.concatenate([[0], np.cumsum([len(s.phrase_ends) for s in scores])]).astype(np.int64),
        )


def expand_repeats(m21score):
    """The piece with its repeats written out by music21 (kept for callers that want a music21
    stream; ``played_measures`` is what the corpus reading uses for one-line tunes)."""
    try:
        return m21score.expandRepeats()
    except Exception:
        return m21score


def played_measures(part) -> list | None:
    """The measures of a one-line tune in the order they are played: an end repeat goes back to
    the last start repeat or, as ABC tunes mean it, to just after the previous end repeat (or the
    beginning); first and second endings are taken in turn. None when the tune has no repeats.
    (music21's ``expandRepeats`` reads a bare ``:|`` as "from the very start" each time, which
    turns AABB into A A AB AB.)"""
    from music21 import bar, spanner

    measures = list(part.getElementsByClass("Measure"))
    if not measures:
        return None
    ending: dict[int, int] = {}
    for sp in part.recurse().getElementsByClass(spanner.RepeatBracket):
        try:
            num = int(str(sp.number).split(",")[0])
        except (TypeError, ValueError):
            continue
        for m in sp.getSpannedElements():
            ending[id(m)] = num
    has_repeat = False
    order: list = []
    start = 0
    for i, m in enumerate(measures):
        if isinstance(m.leftBarline, bar.Repeat):
            start = i
        if isinstance(m.rightBarline, bar.Repeat) and m.rightBarline.direction == "end":
            has_repeat = True
            section = measures[start : i + 1]
            order += [x for x in section if ending.get(id(x), 1) == 1]
            order += [x for x in section if ending.get(id(x), 2) == 2 and ending.get(id(x)) != 1]
            start = i + 1
    if not has_repeat:
        return None
    # what follows the last repeat, except a second ending already played
    order += [x for x in measures[start:] if ending.get(id(x)) != 1 or x not in order]
    return order


def _played_notes(part, shift: int) -> list[NoteEvent] | None:
    order = played_measures(part)
    if order is None or len(order) > 256:
        return None
    notes, t = [], 0.0
    for m in order:
        for el in m.flatten().notes:
            dur = int(round(float(el.quarterLength) * 4))
            if dur <= 0:
                continue
            start = int(round((t + float(el.offset)) * 4)) + shift
            notes += [NoteEvent(start, dur, int(p.midi)) for p in el.pitches]
        t += float(m.duration.quarterLength)
    return notes


def score_from_music21(m21score, style: str, voices: bool = False, repeats: bool = False) -> Score | None:
    """Quantise a music21 Score; None when it cannot be represented (meter, empty). ``voices``
    keeps each part's index as the notes' ``voice`` (a chorale's S, A, T, B = 0..3); ``repeats``
    writes a one-line tune's repeats out as played (``played_measures``; AABB stays AABB)."""
    sigs = m21score.recurse().getElementsByClass("TimeSignature")
    meters = [ts.ratioString for ts in sigs if ts.ratioString in METERS]
    if not meters or len(set(meters)) > 1:
        return None
    meter = meters[0]
    bar_len = int(m21score.recurse().getElementsByClass("TimeSignature")[0].barDuration.quarterLength * 4)
    shift = 0
    parts = list(m21score.parts) or [m21score]
    measures = parts[0].getElementsByClass("Measure")
    if measures and measures[0].paddingLeft:
        shift = int(round(float(measures[0].paddingLeft) * 4))
    if not shift and measures:  # a pickup bar shorter than the meter's: align its end with the bar line
        first = float(measures[0].duration.quarterLength) * 4
        if 0 < first < bar_len:
            shift = int(round(bar_len - first))
    played = _played_notes(parts[0], shift) if repeats and len(parts) == 1 else None
    notes = played or []
    streams = [] if played else [(v, p) for v, p in enumerate(parts)] if voices and len(parts) > 1 else [(0, m21score)]
    for v, part in streams:
        for el in part.stripTies().flatten().notes:
            dur = int(round(float(el.quarterLength) * 4))
            if dur <= 0:
                continue  # grace notes
            start = int(round(float(el.offset) * 4)) + shift
            for p in el.pitches:
                notes.append(NoteEvent(start, dur, int(p.midi), min(v, 15)))
    if len(notes) < 8 or bar_len != Score((), meter, Key(0, "major")).bar_length:
        return None
    ends = _fermata_bars(parts[0], shift, bar_len) if not played else ()
    notes.sort(key=lambda n: (n.start, -n.pitch))
    span_q = (max(n.start + n.duration for n in notes) - notes[0].start) / 4
    density = density_bin(len({n.start for n in notes}) / max(span_q, 1.0))
    draft = Score(tuple(notes), meter, Key(0, "major"), style, density)
    key, _ = estimate_key(draft)
    return Score(draft.notes, meter, key, style, density, n_bars=draft.bars,
                 phrase_ends=tuple(b for b in ends if b < draft.bars))


def _fermata_bars(part, shift: int, bar_len: int) -> tuple[int, ...]:
    """Bars where the top part holds a fermata: a chorale's phrase ends (the ABC collections mark
    none, so their phrase ends come from the grid)."""
    from music21 import expressions

    bars = {(int(round(float(el.offset) * 4)) + shift) // bar_len for el in part.flatten().notes
            if any(isinstance(e, expressions.Fermata) for e in el.expressions)}
    return tuple(sorted(bars))


def corpus_jobs(root: Path | None = None) -> list[tuple[str, str]]:
    """(path or 'chorales:i', style) jobs; each ABC file is one job."""
    if root is None:
        import music21

        root = Path(music21.__file__).parent / "corpus"
    jobs = [("chorales", "chorale")]
    for folder, style in ABC_COLLECTIONS.items():
        jobs += [(p, style) for p in sorted(glob.glob(str(root / folder / "*.abc")))]
    return jobs


def parse_job(job: tuple[str, str]) -> list[Score]:
    """Parse one job; unparseable pieces are skipped (bwv277's repeats, malformed ABC)."""
    import warnings

    from music21 import converter, corpus

    src, style = job
    out: list[Score] = []
    warnings.simplefilter("ignore")
    if src == "chorales":
        pieces: Iterator = corpus.chorales.Iterator(returnType="stream")
    else:
        try:
            opus = converter.parse(src)
        except Exception:  # a malformed file loses only itself
            return out
        pieces = iter(getattr(opus, "scores", [opus]))
    while True:
        try:
            s = next(pieces)
        except StopIteration:
            break
        except Exception:
            continue
        try:
            sc = score_from_music21(s, style, repeats=style != "chorale")  # AABB tunes stay AABB
        except Exception:
            sc = None
        if sc is not None:
            out.append(sc)
    return out


def build_corpus(
    jobs: list[tuple[str, str]], workers: int = 2, progress: Callable[[int, int], None] | None = None
) -> MusicCorpus:
    """Parse jobs in ``workers`` processes (music21 holds the GIL) and flatten the result."""
    from multiprocessing import get_context

    scores: list[Score] = []
    # the chorale iterator is the longest job: start it first
    with get_context("spawn").Pool(workers) as pool:
        for i, part in enumerate(pool.imap(parse_job, jobs)):
            scores.extend(part)
            if progress:
                progress(i + 1, len(jobs))
    return MusicCorpus.from_scores(scores)
