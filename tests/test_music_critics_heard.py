"""What the composer's audit heard and the critics missed: a reciting melody, a plagal close, parallel
fifths between eighth notes, and a manifest key that contradicted the critic (issue 19)."""

import numpy as np

from models.common.ngram_index import NgramIndex
from models.music import analysis as an
from models.music.tokens import Key, NoteEvent, Score
from tools.critics.music import FLOORS, QUALITY_CAP, MusicRequest, hearing, music_scores

C = Key(0, "major")
A_MINOR = Key(9, "minor")


def _line(pitches_and_lengths, key=C, meter="4/4", bars=None):
    notes, t = [], 0
    for p, d in pitches_and_lengths:
        notes.append(NoteEvent(t, d, p, 0))
        t += d
    bar = Score((), meter, key).bar_length
    return Score(tuple(notes), meter, key, "folk", "moderate", bars or -(-t // bar))


# a real-looking 8-bar tune in C: an octave and more, nine pitches, steps and a few leaps, closing on C
TUNE = _line([(60, 4), (64, 4), (67, 4), (72, 4), (71, 4), (69, 4), (67, 4), (65, 4),
              (64, 4), (65, 4), (67, 4), (69, 4), (67, 8), (62, 8),
              (64, 4), (67, 4), (72, 4), (74, 4), (72, 4), (71, 4), (69, 4), (67, 4),
              (65, 4), (64, 4), (62, 4), (59, 4), (60, 16)])
# the audit's chorale soprano: 4 pitches, E held for whole bars, half the moves repeats
RECITING = _line([(64, 16), (64, 16), (65, 4), (64, 4), (64, 4), (62, 4), (64, 8), (64, 8),
                  (64, 4), (64, 4), (65, 4), (65, 4), (64, 16), (62, 4), (62, 4), (64, 4), (62, 4),
                  (60, 4), (62, 4), (64, 8), (60, 16)])


# the audit's slow piano opening, D-D-D-D-F / F-F-C, kept up for eight bars
D_D_D_D = _line([(p, 4) for p in (62, 62, 62, 62, 65, 65, 65, 60, 62, 62, 60, 62, 65, 65, 62, 62,
                                  62, 62, 62, 62, 65, 65, 65, 60, 62, 60, 62, 62, 62, 62, 62, 62)], key=Key(2, "minor"))


def test_melody_shape_reads_range_pitches_repeats_and_held_notes():
    s = an.melody_shape(RECITING)
    assert s.range == 5 and s.pitches == 4
    assert s.repeats == 7 / 20 and s.longest_run == 2.0  # two whole bars of E, then more
    t = an.melody_shape(TUNE)
    assert t.range == 15 and t.pitches == 10 and t.repeats == 0.0 and t.longest_run == 1.0
    assert 0.6 < t.steps < 0.9


def test_a_reciting_melody_falls_under_the_melody_floor_and_caps_quality():
    index = NgramIndex.build([np.arange(10)], 6)
    good, bad = hearing(TUNE, C), hearing(RECITING, C, "chorale")
    assert good.melody >= FLOORS["melody"] and "melody" not in good.failing()
    assert bad.melody < FLOORS["melody"] and "melody" in bad.failing()
    req = MusicRequest(C, 8, "4/4", 100.0, style="chorale")
    assert music_scores(RECITING, 0.5, req, index).quality <= QUALITY_CAP
    # a chorale soprano is held to the chorales' bands: the same line as a folk tune is borderline
    assert hearing(RECITING, C, "folk").melody > bad.melody
    d = Key(2, "minor")
    assert hearing(D_D_D_D, d, "folk").melody < FLOORS["melody"]
    # a short phrase is not judged as a whole tune
    assert hearing(_line([(64, 16), (64, 16), (62, 16), (60, 16)]), C).melody is None


def _close(key, before, after, top=(74, 72), bars_before=6):
    """``bars_before`` bars of a held tonic chord under a scale tune, then a bar of ``before``
    (bass first) and a bar of ``after``, with the melody ``top`` over them."""
    bar = 16
    notes = []
    tune = [72, 74, 76, 77, 79, 77, 76, 74, 72, 71, 72, 74, 76, 74, 72, 71, 72, 76, 79, 77, 76, 74, 72, 74]
    for i in range(bars_before * 4):
        notes.append(NoteEvent(i * 4, 4, tune[i % len(tune)] + key.tonic, 0))
    for b in range(0, bars_before * bar, bar):
        notes += [NoteEvent(b, bar, 48 + key.tonic, 2), NoteEvent(b, bar, 55 + key.tonic, 1),
                  NoteEvent(b, bar, 64 + key.tonic - (key.mode == "minor"), 1)]
    for k, (chord, p) in enumerate(((before, top[0]), (after, top[1]))):
        t = (bars_before + k) * bar
        notes.append(NoteEvent(t, bar, p + key.tonic, 0))
        notes.append(NoteEvent(t, bar, chord[0] + key.tonic, 2))
        notes += [NoteEvent(t, bar, q + key.tonic, 1) for q in chord[1:]]
    return Score(tuple(notes), "4/4", key, "folk", "slow", bars_before + 2)


def test_a_plagal_or_modal_close_earns_less_than_an_authentic_one():
    tonic = (36, 52, 55, 60)
    authentic = _close(C, (43, 55, 59, 62), tonic)  # V -> I
    plagal = _close(C, (41, 53, 57, 60), tonic, top=(72, 72))  # IV -> I
    flat7 = _close(C, (46, 53, 58, 62), tonic)  # bVII -> I
    assert [an.close_kind(s, C) for s in (authentic, plagal, flat7)] == ["authentic", "plagal", "other"]
    assert an.close_kind(an.melody_part(authentic), C) == "none"
    ha, hp, h7 = (hearing(s, C, "folk", "through") for s in (authentic, plagal, flat7))
    assert ha.cadence > hp.cadence > h7.cadence
    assert ha.details["close_kind"] == "authentic" and hp.details["close_kind"] == "plagal"
    # a tune with a chord or two is still one line: its close is the melody's
    assert hearing(an.melody_part(plagal), C, "folk", "through").details["close_kind"] == "none"


def _parts(*voices):
    """Four voices, each a list of (pitch, sixteenths) laid end to end (S, A, T, B)."""
    notes = []
    for v, line in enumerate(voices):
        t = 0
        for p, d in line:
            notes.append(NoteEvent(t, d, p, v))
            t += d
    return Score(tuple(sorted(notes, key=lambda n: (n.start, n.voice))), "4/4", C, "chorale", "slow", 1)


def test_parallel_fifths_between_eighth_notes_are_counted():
    s, b = [(72, 16)], [(48, 16)]  # soprano and bass hold C
    # on the beats: alto G G A G, tenor E C F E: no two voices in parallel fifths or octaves
    clean = _parts(s, [(67, 4), (67, 4), (69, 4), (67, 4)], [(64, 4), (60, 4), (65, 4), (64, 4)], b)
    assert an.voice_leading(clean, C).parallels_per_100 == 0.0
    # alto G -> A and tenor C -> D together in eighths between beats 2 and 3: a parallel fifth
    eighths = _parts(s, [(67, 4), (67, 2), (69, 2), (69, 4), (67, 4)], [(64, 4), (60, 2), (62, 2), (65, 4), (64, 4)], b)
    grid = an.onset_grid(eighths)
    assert grid.shape == (5, 4)  # onsets 0, 4, 6, 8, 12
    assert an.parallels(grid) == 1 and an.parallels(an.beat_grid(eighths)) == 0  # the beats alone miss it
    assert an.voice_leading(eighths, C).parallels_per_100 == 100.0 / 4  # one in four beats
    # in contrary motion (tenor C -> B) the same eighths are no fault
    alto = [(67, 4), (67, 2), (69, 2), (69, 4), (67, 4)]
    contrary = _parts(s, alto, [(64, 4), (60, 2), (59, 2), (65, 4), (64, 4)], b)
    assert an.voice_leading(contrary, C).parallels_per_100 == 0.0
    # octaves from beat to beat across a passing eighth (soprano C-B-D over bass C-D) still count
    across = _parts([(72, 2), (71, 2), (74, 4), (74, 8)], [(67, 16)], [(64, 16)], [(48, 4), (50, 12)])
    assert an.voice_leading(across, C).parallels_per_100 > 0


def test_the_manifest_key_is_the_key_the_critic_hears():
    index = NgramIndex.build([np.arange(10)], 6)
    s = music_scores(TUNE, 0.5, MusicRequest(C, 8, "4/4", 100.0), index)
    assert s.metrics["estimated_key"] == s.metrics["key_read"] == an.music21_key(TUNE).key.name
    assert s.metrics["key_correlation"] == round(an.music21_key(TUNE).correlation, 4)


def test_the_bench_reciting_degradation_keeps_rhythm_key_and_other_parts():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.music_critics import reciting

    from tests.tiny import tiny_chorales

    piece = tiny_chorales(1)[0]
    rec = reciting(piece, np.random.default_rng(0))
    assert sorted((n.start, n.duration, n.voice) for n in rec.notes) == sorted(
        (n.start, n.duration, n.voice) for n in piece.notes)
    assert [n for n in rec.notes if n.voice] == [n for n in sorted(piece.notes, key=lambda n: (n.start, -n.pitch))
                                                 if n.voice]
    before, after = an.melody_shape(piece), an.melody_shape(rec)
    assert after.range < before.range and after.repeats >= before.repeats
    assert all(n.pitch % 12 in piece.key.scale() for n in an.melody_notes(rec))
    t = an.melody_shape(TUNE)
    r = an.melody_shape(reciting(TUNE, np.random.default_rng(1)))
    assert r.pitches < t.pitches and r.range < t.range


# triads (root position, under the melody) in C: I, ii, iii, IV, V, vi
_TRIADS = {"I": (48, 52, 55), "ii": (50, 53, 57), "iii": (52, 55, 59), "IV": (53, 57, 60), "V": (43, 47, 50),
           "vi": (45, 48, 52)}


def _accompanied(chords: list[str], beats_per_chord: int, parts: bool = False) -> Score:
    """A melody in quarters on each chord's tones (root, third, fifth, third above middle C), the chord
    held under it (voice 1; ``parts``: as alto, tenor and bass, voices 1-3), four beats a bar."""
    notes, t = [], 0
    for c in chords:
        tri = _TRIADS[c]
        for k in range(beats_per_chord):
            notes.append(NoteEvent(t + 4 * k, 4, 12 + tri[(k + 1) % 3] + (12 if tri[0] < 48 else 0), 0))
        notes += [NoteEvent(t, 4 * beats_per_chord, p, 3 - i if parts else 1) for i, p in enumerate(tri)]
        t += 4 * beats_per_chord
    return Score(tuple(sorted(notes, key=lambda n: (n.start, -n.pitch))), "4/4", C, "folk", "moderate", t // 16)


# eight bars: two chords a bar through I IV ii V vi iii IV V ... against whole bars of I and V
VARIED = ["I", "IV", "ii", "V", "vi", "iii", "IV", "V", "I", "vi", "ii", "V", "IV", "ii", "V", "I"]
STATIC = ["I", "V", "I", "I", "V", "V", "I", "I"]


def test_static_tonic_dominant_harmony_scores_under_varied_harmony():
    varied, static = _accompanied(VARIED, 2), _accompanied(STATIC, 4)
    hv, hs = an.harmony(varied, C), an.harmony(static, C)
    assert hv.changes_per_bar > hs.changes_per_bar and hv.distinct > hs.distinct
    assert hs.other_share == 0.0 < hv.other_share and hs.longest_bars >= 2 > hv.longest_bars
    # the critic judges four-part music (its bands are the chorales'); under an accompanied tune the
    # harmony is reported in the details, not judged
    v, s = hearing(varied, C), hearing(static, C)
    assert v.harmony is None and s.harmony is None and "harmony_distinct" in s.details
    vp, sp = hearing(_accompanied(VARIED, 2, parts=True), C), hearing(_accompanied(STATIC, 4, parts=True), C)
    assert sp.harmony < FLOORS["harmony"] <= vp.harmony
    assert "harmony" in sp.failing() and "harmony" not in vp.failing()
    assert hearing(TUNE, C).harmony is None  # one line: the melody alone cannot tell


def test_the_bench_static_harmony_degradations_keep_the_melody():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.music_critics import held, tonic_dominant

    varied = _accompanied(VARIED, 2, parts=True)
    for fn in (held, tonic_dominant):
        d = fn(varied, np.random.default_rng(0))
        assert an.melody_notes(d) == an.melody_notes(varied)
        assert hearing(d, C).harmony < hearing(varied, C).harmony
