"""Music critics (MusPy-style measures from ``models.music.metrics``):
- quality: scale consistency, pitch-class entropy in the corpus' band, groove consistency,
  empty-beat rate, pitch-range sanity, and fluency (the model's own NLL per token);
- novelty: 1 − copy rate of melody (interval, inter-onset) 6-grams against the corpus index,
  the longest copied span, and distance to the session's earlier pieces;
- adherence: requested key (pitch-in-scale rate), bars, meter and tempo met.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.artifacts import Scores
from tools.critics import band
from models.music import metrics as mm
from models.music.sample import score_melody
from models.music.tokens import Key, Score
from models.common.ngram_index import NgramIndex


@dataclass(frozen=True)
class MusicRequest:
    key: Key
    bars: int
    meter: str
    tempo: float


def melody_profile(score: Score) -> np.ndarray:
    """A unit vector describing a piece: pitch-class histogram (key-relative) + interval histogram."""
    pc = np.roll(mm.pitch_class_histogram(score, weighted=False), -score.key.tonic)
    iv = np.histogram(np.clip(mm.interval_sequence(score), -12, 12), bins=25, range=(-12.5, 12.5))[0]
    v = np.concatenate([pc / max(pc.sum(), 1), iv / max(iv.sum(), 1)])
    return v / max(np.linalg.norm(v), 1e-9)


def music_scores(score: Score, nll: float, req: MusicRequest, index: NgramIndex,
                 earlier: list[np.ndarray] | None = None, tempo_written: float | None = None) -> Scores:
    sc = mm.scale_consistency(score)
    ent = mm.pitch_class_entropy(score)
    groove = mm.groove_consistency(score)
    empty = mm.empty_beat_rate(score)
    prange = mm.pitch_range(score)
    # bands = the 5th..95th percentiles measured on 1,500 corpus pieces (seed 0): scale 0.945..1,
    # entropy 2.15..2.90 bits, groove 0.66..0.94, empty beats 0..0.17, range 9..24 semitones
    # (widened to 36 for four-part chorales; groove up to 1, since a steady rhythm is no flaw)
    quality_parts = {
        "scale": band(sc, 0.945, 1.0, 0.15),
        "entropy": band(ent, 2.15, 2.90, 0.5),
        "groove": band(groove, 0.66, 1.0, 0.25),
        "empty": band(empty, 0.0, 0.17, 0.25),
        "range": band(prange, 9, 36, 8),
        "fluency": band(nll, 0.0, 1.6, 1.5),
    }
    quality = float(np.mean(list(quality_parts.values())))

    melody = score_melody(score)
    copy = index.copy_rate(melody)
    span = index.longest_copied_span(melody)  # in symbols, i.e. notes - 1
    session_dist = 1.0
    if earlier:
        prof = melody_profile(score)
        session_dist = float(1.0 - max(float(prof @ e) for e in earlier))
        session_dist = min(1.0, session_dist * 4)  # profiles are all fairly similar; rescale the useful range
    novelty = 0.6 * (1 - copy) + 0.2 * (1 - min(1.0, span / 24)) + 0.2 * session_dist

    in_scale = mm.pitch_in_scale_rate(score, req.key)
    tempo = tempo_written if tempo_written is not None else req.tempo
    adherence_parts = {
        "key": band(in_scale, 0.9, 1.0, 0.3),
        "bars": 1.0 if score.bars == req.bars else max(0.0, 1 - abs(score.bars - req.bars) / max(req.bars, 1)),
        "meter": 1.0 if score.meter == req.meter else 0.0,
        "tempo": 1.0 if abs(tempo - req.tempo) < 0.5 else 0.0,
    }
    adherence = float(np.mean(list(adherence_parts.values())))
    est_key, key_r = mm.estimate_key(score)
    return Scores(quality, novelty, adherence, {
        "scale_consistency": sc, "pitch_class_entropy": ent, "groove_consistency": groove,
        "empty_beat_rate": empty, "pitch_range": prange, "nll_per_token": nll,
        "copy_rate": copy, "longest_copied_span": span + 1 if span else 0, "session_distance": session_dist,
        "pitch_in_scale": in_scale, "bars": score.bars, "estimated_key": est_key.name, "key_correlation": key_r,
    })

