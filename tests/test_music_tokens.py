import io

import numpy as np
import pretty_midi
import pytest

from models.music.midi_io import midi_bytes, read_midi
from models.music.tokens import Grammar, Key, NoteEvent, Score, Vocab, parse_key
from tests.tiny import scale_tune


def _midi_file(tmp_path, notes, tempo=120.0, ts=(4, 4)):
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(*ts, 0))
    inst = pretty_midi.Instrument(0)
    for pitch, start, end in notes:
        inst.notes.append(pretty_midi.Note(90, pitch, start, end))
    pm.instruments.append(inst)
    path = tmp_path / "in.mid"
    pm.write(str(path))
    return path


def test_midi_tokens_midi_round_trip(tmp_path):
    q = 0.5  # a quarter note at 120 bpm
    notes = [(60, 0, q), (64, q, 2 * q), (67, 2 * q, 4 * q), (72, 2 * q, 3 * q), (62, 4 * q, 4.5 * q), (65, 6 * q, 8 * q)]
    score = read_midi(_midi_file(tmp_path, notes), key=Key(0, "major"))
    v = Vocab()
    tokens = v.encode(score)
    back = v.decode(tokens)
    assert set(back.notes) == set(score.notes)
    assert back.meter == "4/4" and back.key == Key(0, "major") and back.bars == 2
    # and back to MIDI: same notes at the same times
    pm = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes(back, 120.0)))
    got = sorted((n.pitch, round(n.start, 3), round(n.end, 3)) for n in pm.instruments[0].notes)
    assert got == sorted((p, float(s), float(e)) for p, s, e in notes)
    assert pm.time_signature_changes[0].numerator == 4
    assert pm.key_signature_changes[0].key_number == 0
    assert abs(pm.get_tempo_changes()[1][0] - 120.0) < 1e-6


def test_encoding_orders_chords_high_to_low_and_bars():
    s = Score((NoteEvent(0, 4, 60), NoteEvent(0, 4, 67), NoteEvent(20, 4, 62)), "4/4", Key(0, "major"), n_bars=3)
    v = Vocab()
    names = [v.names[t] for t in v.encode(s)]
    assert names[:5] == ["BOS", "STYLE_folk", "KEY_0", "METER_4/4", "DENSITY_moderate"]
    assert names[5:] == ["BAR", "POS_0", "PITCH_67", "DUR_4", "PITCH_60", "DUR_4", "BAR", "POS_4", "PITCH_62", "DUR_4",
                         "BAR", "CAD", "EOS"]  # the last bar ends the last phrase
    v1 = Vocab.sized(199)  # a version-1 model's vocabulary: the same ids, no CAD
    assert [v1.names[t] for t in v1.encode(s)] == [n for n in names if n != "CAD"]
    assert v1.names == v.names[:199] and v.names[199] == "CAD"


def test_cad_marks_phrase_ends_by_grid_pickup_or_fermatas():
    from models.music.tokens import phrase_end_bars

    v = Vocab()
    tune = tuple(NoteEvent(4 * i, 4, 60 + i % 5) for i in range(40))  # 10 bars of 4/4 from the downbeat
    s = Score(tune, "4/4", Key(0, "major"))
    assert sorted(phrase_end_bars(s)) == [3, 7, 9]  # every 4th bar, and the last
    pickup = Score(tuple(NoteEvent(n.start + 12, 4, n.pitch) for n in tune), "4/4", Key(0, "major"))
    assert sorted(phrase_end_bars(pickup)) == [4, 8, 10]  # counted from the first full bar
    chorale = Score(tune, "4/4", Key(0, "major"), "chorale", phrase_ends=(1, 4, 6))
    assert sorted(phrase_end_bars(chorale)) == [1, 4, 6, 9]  # the fermatas
    toks = [v.names[t] for t in v.encode(s)]
    cad_bars = [toks[:i].count("BAR") - 1 for i, n in enumerate(toks) if n == "CAD"]
    assert cad_bars == [3, 7, 9] and all(toks[i - 1] == "BAR" for i, n in enumerate(toks) if n == "CAD")
    assert v.decode(v.encode(s)).notes == s.notes  # CAD carries no notes


def test_grammar_allows_cad_once_right_after_bar_and_only_in_version_2():
    v = Vocab()
    g = Grammar(v, "4/4", bars=2)
    g.step(v.id("BAR"))
    assert g.allowed()[v.id("CAD")]
    g.step(v.id("CAD"))
    assert g.cadence and g.last == "BAR" and not g.allowed()[v.id("CAD")] and g.allowed()[v.id("POS_0")]
    g.step(v.id("POS_0"))
    assert not g.allowed()[v.id("CAD")]
    old = Grammar(Vocab.sized(199), "4/4", bars=2)
    old.step(v.id("BAR"))
    assert len(old.allowed()) == 199


def test_a_vocabulary_size_ars_nova_does_not_read_is_one_line():
    from models.common.errors import ModelFileError

    with pytest.raises(ModelFileError, match="201-token vocabulary; Ars Nova reads 199 or 200 tokens"):
        Vocab.sized(201)


@pytest.mark.parametrize("meter,size", [("4/4", 200), ("3/4", 200), ("6/8", 200), ("4/4", 199)])
def test_grammar_only_allows_decodable_sequences(meter, size):
    v = Vocab.sized(size)
    rng = np.random.default_rng(0)
    g = Grammar(v, meter, bars=5)
    toks = v.header("folk", Key(0, "major"), meter, "moderate")
    while not g.done:
        allowed = np.flatnonzero(g.allowed())
        t = int(rng.choice(allowed))
        g.step(t)
        toks.append(t)
        assert len(toks) < 5000
    s = v.decode(toks)
    assert s.bars == 5
    bar = s.bar_length
    assert all(n.start // bar < 5 for n in s.notes)
    # within an onset the pitches descend, so re-encoding the decoded piece gives the same tokens
    # (CAD, at most once right after a BAR, is where the walk chose; encoding puts it on the grid)
    cad = [i for i, t in enumerate(toks) if v.names[t] == "CAD"]
    assert all(v.names[toks[i - 1]] == "BAR" for i in cad)
    assert [t for t in v.encode(s) if v.names[t] != "CAD"] == [t for t in toks if v.names[t] != "CAD"]
    assert v.decode(v.encode(s)).notes == s.notes


@pytest.mark.parametrize("text,name", [("D minor", "D minor"), ("f#", "F# major"), ("Bb major", "Bb major"),
                                       ("ebm", "Eb minor"), ("C sharp minor", "C# minor"), ("E flat", "Eb major")])
def test_parse_key(text, name):
    assert parse_key(text).name == name


def test_parse_key_rejects_with_the_accepted_forms():
    with pytest.raises(ValueError, match="write it like 'D minor'"):
        parse_key("H major")


def test_scale_tune_is_in_key():
    s = scale_tune(Key(2, "minor"))
    assert all(n.pitch % 12 in Key(2, "minor").scale() for n in s.notes)


def test_metrics_on_known_pieces():
    from models.music import metrics as mm

    c_major = Score(tuple(NoteEvent(i * 4, 4, p) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])), "4/4",
                    Key(0, "major"))
    key, r = mm.estimate_key(c_major)
    assert key == Key(0, "major") and r > 0.7
    assert mm.scale_consistency(c_major) == 1.0
    assert abs(mm.pitch_class_entropy(c_major) - (6 / 8 * 3 + 2 / 8 * 2)) < 1e-9  # 7 classes, C twice
    assert mm.groove_consistency(c_major) == 1.0 and mm.empty_beat_rate(c_major) == 0.0
    assert mm.pitch_range(c_major) == 12
    one = Score((NoteEvent(0, 4, 62), NoteEvent(4, 4, 74)), "4/4", Key(0, "major"))
    assert mm.estimate_key(one) == (Key(2, "major"), 0.0)  # a single pitch class, no NaN
    sparse = Score((NoteEvent(0, 4, 60),), "4/4", Key(0, "major"), n_bars=2)
    assert mm.empty_beat_rate(sparse) == 7 / 8
