"""Train the chord model (``models/music/chords.py``) on music21's Bach chorales.

    OMP_NUM_THREADS=1 .venv/bin/python -m models.music.training.chords [--out models/weights/music-chords.npz]

Parses every chorale with its four parts (cached as /tmp/arsnova-chorales.npz; ~3 min on one
core), holds out every 20th chorale, labels each beat with a chord (``label_beats``), counts,
smooths (add-0.5) and writes log-probabilities. Reports on the held-out chorales: how often the
harmoniser, given only the soprano, picks the chord Bach wrote (same root), and the share of
soprano notes that are chord tones of the picked chords.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from models.music.analysis import beat_grid
from models.music.chords import QUALITIES, SHAPES, ChordModel, label_beats
from models.music.tokens import MODES, NoteEvent, Score

CACHE = Path("/tmp/arsnova-chorales.npz")


def load_voiced(cache: Path) -> list[Score]:
    """Scores saved as a MusicCorpus plus a ``voices`` array (one voice number per note)."""
    from models.music.training.data import MusicCorpus

    with np.load(cache, allow_pickle=False) as z:
        c = MusicCorpus(**{k: z[k] for k in MusicCorpus.__dataclass_fields__ if k in z.files})
        voices = z["voices"]
    out = []
    for i in range(len(c)):
        s = c.score(i)
        vs = voices[c.offsets[i] : c.offsets[i + 1]]
        out.append(Score(tuple(NoteEvent(n.start, n.duration, n.pitch, int(v)) for n, v in zip(s.notes, vs)),
                         s.meter, s.key, s.style, s.density, s.n_bars))
    return out


def chorale_scores(cache: Path = CACHE) -> list[Score]:
    """All chorales music21 ships, four parts kept as voices 0..3 (cached after the first parse)."""
    from models.music.training.data import MusicCorpus, score_from_music21

    if cache.exists():
        return load_voiced(cache)
    import warnings

    from music21 import corpus

    warnings.simplefilter("ignore")
    out = []
    for s in corpus.chorales.Iterator(returnType="stream"):
        try:
            sc = score_from_music21(s, "chorale", voices=True)
        except Exception:
            sc = None
        if sc is not None and len({n.voice for n in sc.notes}) == 4:
            out.append(sc)
    c = MusicCorpus.from_scores(out)
    voices = np.array([n.voice for s in out for n in s.notes], np.int64)
    np.savez_compressed(cache, voices=voices, **{k: getattr(c, k) for k in MusicCorpus.__dataclass_fields__})
    return out


def split(scores: list[Score]) -> tuple[list[Score], list[Score]]:
    return [s for i, s in enumerate(scores) if i % 20], [s for i, s in enumerate(scores) if i % 20 == 0]


def unit_beats(score: Score) -> int:
    """Beats per harmonic unit: half a bar in 4/4, 2/2 and 4/2; a bar otherwise."""
    return 2 if score.meter in ("4/4", "2/2", "4/2") else max(1, score.bar_length // 4)


def train(scores: list[Score], min_count: int = 8) -> ChordModel:
    seqs = []  # per chorale: (mode, [labels per unit])
    beat_seqs = []  # per chorale: (mode, [labels per beat])
    emit = np.full((len(QUALITIES), 12), 0.5)
    for s in scores:
        g = beat_grid(s, 4)
        labs = label_beats(g, s.key)
        step = unit_beats(s)
        seqs.append((s.key.mode, [labs[b] for b in range(0, len(labs), step)]))
        beat_seqs.append((s.key.mode, labs))
        for b, lab in enumerate(labs):
            if lab is None or g[b, 0] < 0:
                continue
            root = (s.key.tonic + lab[0]) % 12
            emit[lab[1], (int(g[b, 0]) - root) % 12] += 1
    counts: dict[tuple[int, int, int], int] = {}
    for mode, labs in seqs:
        for lab in labs:
            if lab is not None:
                k = (MODES.index(mode), *lab)
                counts[k] = counts.get(k, 0) + 1
    labels = sorted(k for k, c in counts.items() if c >= min_count)
    idx = {k: i for i, k in enumerate(labels)}
    K = len(labels)
    trans = np.full((K, K), 0.0)
    start = np.full(K, 0.5)
    for k1 in range(K):
        for k2 in range(K):
            if labels[k1][0] == labels[k2][0]:
                trans[k1, k2] = 0.5
    for mode, labs in seqs:
        m = MODES.index(mode)
        ks = [idx.get((m, *lab)) if lab is not None else None for lab in labs]
        first = next((k for k in ks if k is not None), None)
        if first is not None:
            start[first] += 1
        for a, b in zip(ks, ks[1:]):
            if a is not None and b is not None:
                trans[a, b] += 1
    trans_beat = np.where(trans > 0, 0.5, 0.0)
    for mode, labs in beat_seqs:
        m = MODES.index(mode)
        ks = [idx.get((m, *lab)) if lab is not None else None for lab in labs]
        for a, b in zip(ks, ks[1:]):
            if a is not None and b is not None:
                trans_beat[a, b] += 1
    with np.errstate(divide="ignore"):
        trans = np.log(trans / np.maximum(trans.sum(1, keepdims=True), 1e-9))
        trans_beat = np.log(trans_beat / np.maximum(trans_beat.sum(1, keepdims=True), 1e-9))
        start_log = np.full(K, -np.inf)
        for m in range(2):
            ks = [i for i, lab in enumerate(labels) if lab[0] == m]
            start_log[ks] = np.log(start[ks] / start[ks].sum())
    emit = np.log(emit / emit.sum(1, keepdims=True))
    return ChordModel(np.array(labels, np.int64).reshape(-1, 3), start_log, trans, emit,
                      np.array([counts[k] for k in labels], np.int64), trans_beat)


def evaluate(model: ChordModel, scores: list[Score]) -> dict:
    """Harmonise each held-out soprano; compare roots with Bach's labels; chord-tone share."""
    same = total = ct = notes = 0
    for s in scores:
        g = beat_grid(s, 4)
        labs = label_beats(g, s.key)
        step = unit_beats(s)
        units = []
        for u in range(0, len(g), step):
            h = np.zeros(12)
            for b in range(u, min(u + step, len(g))):
                if g[b, 0] >= 0:
                    h[int(g[b, 0]) % 12] += 2.0 if b == u else 1.0
            units.append(h)
        path = model.harmonise(units, s.key)
        for i, k in enumerate(path):
            u = i * step
            lab = labs[u] if u < len(labs) else None
            _, deg, q = model.labels[k]
            if lab is not None:
                total += 1
                same += lab[0] == deg
            pcs = {(s.key.tonic + deg + x) % 12 for x in SHAPES[q]}
            for b in range(u, min(u + step, len(g))):
                if g[b, 0] >= 0:
                    notes += 1
                    ct += int(g[b, 0]) % 12 in pcs
    return {"root_agreement": same / max(total, 1), "soprano_chord_tones": ct / max(notes, 1),
            "units": total, "chorales": len(scores)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "weights" / "music-chords.npz")
    args = ap.parse_args(argv)
    scores = chorale_scores()
    tr, te = split(scores)
    model = train(tr)
    model.save(args.out)
    rep = {"train_chorales": len(tr), "chords": len(model.labels), **evaluate(model, te)}
    rep["chords_major"] = [model.name(k) for k in model.in_mode("major")]
    rep["chords_minor"] = [model.name(k) for k in model.in_mode("minor")]
    print(json.dumps(rep, indent=1))


if __name__ == "__main__":
    sys.exit(main())
