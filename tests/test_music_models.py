import numpy as np
import pytest
import torch

from models.common.errors import Cancelled, ModelFileError
from models.music.generator import MusicGenerator
from models.music.metrics import pitch_in_scale_rate
from models.music.model import build_music_model, load_music_model, save_music_model
from models.music.sample import SampleSpec, sample
from models.music.tokens import Key, Vocab
from tests.tiny import scale_tune

V = Vocab()
TINY = {
    "transformer": {"kind": "transformer", "vocab_size": len(V), "block_size": 64, "n_layer": 2, "n_head": 2,
                    "n_embd": 32, "dropout": 0.0},
    "rnn": {"kind": "rnn", "vocab_size": len(V), "n_embd": 32, "hidden": 48, "n_layer": 2, "dropout": 0.0},
}


@pytest.mark.parametrize("kind", ["transformer", "rnn"])
def test_incremental_decoding_matches_full_forward(kind):
    torch.manual_seed(0)
    m = build_music_model(TINY[kind]).eval()
    x = torch.randint(1, len(V), (2, 20))
    with torch.inference_mode():
        full, _ = m(x)
        logits, state = m.start(x[:, :5])
        steps = [logits]
        for t in range(5, 20):
            logits, state = m.step(x[:, t], state)
            steps.append(logits)
    inc = torch.stack(steps[:-1], 1)  # predictions for positions 5..19 made incrementally
    torch.testing.assert_close(inc, full[:, 4:19], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["transformer", "rnn"])
def test_save_load_round_trip(kind, tmp_path):
    m = build_music_model(TINY[kind])
    save_music_model(m, tmp_path / "m.safetensors", {"train_step": 3})
    m2, meta = load_music_model(tmp_path / "m.safetensors")
    assert meta["train_step"] == 3 and meta["config"]["kind"] == kind
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        torch.testing.assert_close(a, b, msg=k)


def test_load_errors_are_user_fixable(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_music_model(tmp_path / "missing.safetensors")
    bad = tmp_path / "trunc.safetensors"
    m = build_music_model(TINY["rnn"])
    save_music_model(m, bad)
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="not a valid safetensors"):
        load_music_model(bad)
    with pytest.raises(ModelFileError, match="pickle"):
        load_music_model(tmp_path / "model.pt")
    disguised = tmp_path / "disguised.safetensors"
    torch.save(m.state_dict(), disguised)  # a pickle under a safetensors name
    with pytest.raises(ModelFileError, match="pickle"):
        load_music_model(disguised)


def test_wrong_shape_checkpoint_is_refused(tmp_path):
    from models.common.checkpoint import save_safetensors

    m = build_music_model(TINY["rnn"])
    tensors = dict(m.state_dict())
    tensors["head.weight"] = torch.zeros(3, 3)
    save_safetensors(tensors, tmp_path / "w.safetensors", {"config": TINY["rnn"]})
    with pytest.raises(ModelFileError, match="does not fit the model"):
        load_music_model(tmp_path / "w.safetensors")


@pytest.mark.parametrize("kind", ["transformer", "rnn"])
def test_sampling_is_seeded_bounded_and_in_key(kind):
    torch.manual_seed(1)
    m = build_music_model(TINY[kind])
    key = Key(2, "minor")
    spec = SampleSpec(key=key, meter="3/4", bars=6, candidates=2, seed=5, key_strictness=8.0)
    a = sample(m, V, spec)
    b = sample(m, V, spec)
    assert [p.tokens for p in a] == [p.tokens for p in b]
    c = sample(m, V, SampleSpec(key=key, meter="3/4", bars=6, candidates=2, seed=6, key_strictness=8.0))
    assert [p.tokens for p in a] != [p.tokens for p in c]
    for p in a:
        assert p.score.bars == 6 and p.score.meter == "3/4"
        assert pitch_in_scale_rate(p.score, key) >= 0.9
        assert p.nll > 0


def test_transformer_samples_past_its_context_window():
    torch.manual_seed(2)
    m = build_music_model(TINY["transformer"])  # block_size 64: 24 bars need re-priming
    out = sample(m, V, SampleSpec(key=Key(0, "major"), bars=24, seed=1))
    assert out[0].score.bars == 24


def test_cancel_stops_sampling_and_progress_reports_bars():
    m = build_music_model(TINY["rnn"])
    seen = []
    sample(m, V, SampleSpec(key=Key(0, "major"), bars=4, seed=0), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (4, 4) and (1, 4) in seen
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(Cancelled):
        sample(m, V, SampleSpec(key=Key(0, "major"), bars=64, seed=0), should_stop=stop)
    assert calls["n"] == 4  # stopped at the first check that said so


def test_primer_is_continued(tiny_weights):
    gen = MusicGenerator.from_dir(tiny_weights)
    primer = scale_tune(Key(7, "major"), bars=2)
    out = gen.compose("rnn", SampleSpec(key=Key(7, "major"), bars=3, seed=0), primer=primer)[0]
    assert out.score.bars == 5
    first_two = {n for n in out.score.notes if n.start < 2 * 16}
    # the primer is kept note for note; the continuation may add notes from its last onset on (a chord under it)
    assert set(primer.notes) <= first_two
    last = max(n.start for n in primer.notes)
    assert all(n.start >= last for n in first_two - set(primer.notes))


def test_ngram_blocking_changes_what_is_copied(tiny_weights):
    gen = MusicGenerator.from_dir(tiny_weights)
    spec = SampleSpec(key=Key(0, "major"), bars=8, seed=3, candidates=3)
    plain = gen.compose("transformer", spec)
    from models.music.sample import score_melody

    blocked = gen.compose("transformer", spec.__class__(**{**spec.__dict__, "block_strength": 50.0}), block=True)
    rate = lambda ps: np.mean([gen.index.copy_rate(score_melody(p.score)) for p in ps])
    assert rate(blocked) <= rate(plain)


def test_default_model_is_the_one_with_lower_validation_nll(tmp_path):
    from models.music.generator import MusicGenerator

    for kind, nll in (("transformer", 1.2), ("rnn", 0.9)):
        save_music_model(build_music_model(TINY[kind]), tmp_path / f"music-{kind}.safetensors", {"val_nll": nll})
    assert MusicGenerator.from_dir(tmp_path).default_kind() == "rnn"
    save_music_model(build_music_model(TINY["rnn"]), tmp_path / "music-rnn.safetensors", {"val_nll": 1.5})
    assert MusicGenerator.from_dir(tmp_path).default_kind() == "transformer"
    with pytest.raises(ModelFileError, match="no music model"):
        MusicGenerator.from_dir(tmp_path / "empty").default_kind()


def test_a_safetensors_header_of_128_bytes_is_not_taken_for_a_pickle(tmp_path):
    """The length prefix's first byte is 0x80 here, like a pickle's protocol byte."""
    from safetensors.torch import save

    from models.common.checkpoint import load_safetensors

    path = tmp_path / "t.safetensors"
    for pad in range(200):
        blob = save({"w": torch.ones(2)}, metadata={"p": '"' + "x" * pad + '"'})
        if blob[0] == 0x80:
            break
    assert blob[0] == 0x80
    path.write_bytes(blob)
    tensors, meta = load_safetensors(path)
    assert tensors["w"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("kind", ["transformer", "rnn"])
def test_grown_vocabulary_keeps_old_predictions_and_starts_cad_as_bar(kind):
    from models.music.model import grow_vocab

    torch.manual_seed(3)
    old = build_music_model({**TINY[kind], "vocab_size": 199}).eval()
    new = grow_vocab(old, len(V), like=V.id("BAR"))
    assert new.config.vocab_size == 200 and not new.training
    x = torch.randint(1, 199, (2, 12))
    with torch.inference_mode():
        a, _ = old(x)
        b, _ = new(x)
    torch.testing.assert_close(b[..., :199], a)  # every old id reads and predicts as before
    torch.testing.assert_close(b[..., 199], b[..., V.id("BAR")])


@pytest.mark.parametrize("size", [200, 199])
def test_sampling_to_a_plan_writes_cad_at_its_cadence_bars_only_when_the_model_has_it(size):
    from models.music.plan import make_plan

    torch.manual_seed(4)
    m = build_music_model({**TINY["rnn"], "vocab_size": size})
    v = Vocab.for_model(m)
    plan = make_plan(Key(7, "major"), 16, "AABB", 4)
    out = sample(m, v, SampleSpec(key=Key(7, "major"), bars=16, seed=2, candidates=2, plan=plan.guides))
    for p in out:
        names = [v.names[t] for t in p.tokens]
        bars = [names[:i].count("BAR") - 1 for i, n in enumerate(names) if n == "CAD"]
        want = [b for b, c in enumerate(plan.cadences) if c] if size == 200 else []
        assert bars == want and p.score.bars == 16
    assert want == [3, 7, 11, 15] or size == 199
    with pytest.raises(ValueError, match="use Vocab.for_model"):
        sample(m, Vocab.sized(399 - size), SampleSpec(key=Key(0, "major"), bars=2))


def test_the_generator_samples_a_version_1_model_with_its_own_vocabulary(tmp_path):
    torch.manual_seed(5)
    save_music_model(build_music_model({**TINY["rnn"], "vocab_size": 199}), tmp_path / "music-rnn.safetensors",
                     {"val_nll": 1.0})
    gen = MusicGenerator.from_dir(tmp_path)
    p = gen.compose("rnn", SampleSpec(key=Key(0, "major"), bars=4, seed=1))[0]
    assert p.score.bars == 4 and max(p.tokens) < 199


# ---- the melody's shape, dance strains and tempi (the composer audit: reciting tunes, 4-bar
# "strains", a slow "lively" jig, forms claimed but not heard) ----------------------------------------
def _runs(pitches):
    """The longest run of one pitch, and the share of notes repeating the one before."""
    longest, run = 1, 1
    for a, b in zip(pitches, pitches[1:]):
        run = run + 1 if a == b else 1
        longest = max(longest, run)
    return longest, float(np.mean([a == b for a, b in zip(pitches, pitches[1:])]))


@pytest.mark.parametrize("kind", ["transformer", "rnn"])
def test_melody_shape_caps_runs_of_one_pitch(kind):
    """With ``max_run`` 2 no melody holds one pitch for three notes in a row; a tiny model biased
    to one pitch does without the cap."""
    from models.music.sample import MelodyShape

    torch.manual_seed(3)
    key = Key(0, "major")
    bias = torch.zeros(len(V))
    bias[V.id("PITCH_72")], bias[V.id("PITCH_76")] = 8.0, 4.0  # a model that loves C5, then E5
    m = _Biased(build_music_model(TINY[kind]), bias)
    base = SampleSpec(key=key, meter="4/4", bars=8, seed=2, max_chord=1, onset_grid=4)
    plain = [n.pitch for n in sorted(sample(m, V, base)[0].score.notes, key=lambda n: n.start)]
    capped = [n.pitch for n in sorted(sample(m, V, replace_spec(base, shape=MelodyShape(max_run=2)))[0].score.notes,
                                      key=lambda n: n.start)]
    assert _runs(capped)[0] <= 2
    assert _runs(plain)[0] > 2  # the cap is what keeps it there
    assert len(set(capped)) >= 2


class _Biased:
    """A music model whose logits get a fixed bias (start and step), for steering a tiny model."""

    def __init__(self, m, bias):
        self.m, self.bias, self.config = m, bias, m.config
        self.context_limit = getattr(m, "context_limit", 1 << 30)

    def eval(self):
        self.m.eval()
        return self

    def start(self, x):
        logits, state = self.m.start(x)
        return logits + self.bias, state

    def step(self, tok, state):
        logits, state = self.m.step(tok, state)
        return logits + self.bias, state


def replace_spec(spec, **kw):
    from dataclasses import replace

    return replace(spec, **kw)


def test_chorale_sopranos_do_not_recite():
    """The shipped model's chorale sopranos, sampled as compose_music samples them (16 bars, bar
    form, a soprano's register, quarter-note tread, the chorale melody shape): over 4 seeds and two
    keys at most 25% of notes repeat the one before (Bach's sopranos: 13% median, 26% at the 90th
    percentile; without the shape these four repeat 49%, one holding a pitch 27 notes) and none
    holds a pitch four notes in a row; each still spans at least a fifth over at least 6 pitches."""
    from models.music.plan import make_plan
    from models.music.sample import STYLE_SHAPES

    gen = MusicGenerator.from_dir()
    kind = gen.default_kind()
    shares = []
    for key in (Key(9, "minor"), Key(7, "major")):
        plan = make_plan(key, 16, "AAB", 2)
        for seed in (0, 1):
            spec = SampleSpec(key=key, meter="4/4", bars=16, style="chorale", density="moderate", seed=seed,
                              plan=plan.guides, max_chord=1, pitch_range=(60, 79), onset_grid=4,
                              shape=STYLE_SHAPES["chorale"])
            score = gen.compose(kind, spec)[0].score
            ps = [n.pitch for n in sorted(score.notes, key=lambda n: n.start)]
            longest, share = _runs(ps)
            assert longest <= 3, ps  # two in a row, or three where a phrase arrives
            assert max(ps) - min(ps) >= 7 and len(set(ps)) >= 6, ps
            shares.append(share)
    assert np.mean(shares) <= 0.25, shares


def test_dance_tunes_come_in_8_bar_strains_at_their_own_tempo():
    """A reel or jig is AABB in 8-bar strains (32 bars); 16 bars asked are its two strains, each
    once (AB), not four 4-bar 'strains'; a lively jig is a dotted crotchet of at least 110 (the MIDI
    tempo counts crotchets: 165+), a reel a minim of 100-120, a hornpipe slower than a reel, a polka
    a crotchet of about 120-140."""
    from models.music.plan import make_plan
    from tools import slots
    from tools.compose_music import fill_args

    for text, form, bars in (("a reel in D", "AABB", 32), ("a lively jig in G major", "AABB", 32),
                             ("16 bars of a reel in A dorian or A minor", "AB", 16), ("8 bars of a jig", "through", 8)):
        args = fill_args(text, text, {})
        assert args["form"] == form, text
        plan = make_plan(Key(2, "major"), args.get("bars") or 32, args["form"], 4)
        assert sum(s.bars for s in plan.sections) == bars
        assert {s.bars for s in plan.sections} == {8}, (text, plan.sections)
    jig = fill_args("a lively jig in G major", "a lively jig in G major", {})["tempo"]
    assert 110 <= jig / 1.5 <= 125  # dotted crotchets a minute
    assert jig > fill_args("a jig in G major", "a jig in G major", {})["tempo"]  # lively lifts the jig's own tempo
    reel = fill_args("a reel in D", "a reel in D", {})["tempo"]
    assert 100 <= reel / 2 <= 120  # minims a minute
    assert fill_args("a hornpipe in D", "", {})["tempo"] < reel
    assert 120 <= fill_args("a polka in A", "", {})["tempo"] <= 140
    assert fill_args("a jig at 150 bpm", "", {})["tempo"] == 150  # a number is kept as given
    assert slots.dance_of_meter("4/4", 168) == "hornpipe" and slots.dance_of_meter("6/8") == "jig"


def test_the_summary_claims_a_form_only_when_the_form_critic_heard_it():
    from models.music.plan import make_plan
    from tools.compose_music import form_claim

    key = Key(7, "major")
    aabb = make_plan(key, 32, "AABB", 4)
    assert form_claim(aabb, {"aabb": True, "form_match": 0.9, "critics_failing": ""}, True) == ", form AABB (8-bar strains)"
    said = form_claim(aabb, {"aabb": False, "form_match": 0.9, "critics_failing": ""}, True)
    assert "planned as AABB" in said and "not clearly heard" in said
    assert "not clearly heard" in form_claim(aabb, {"aabb": True, "form_match": 0.9, "critics_failing": "form"}, True)
    aaba = make_plan(key, 16, "AABA", 4)
    assert form_claim(aaba, {"aabb": False, "form_match": 0.8, "critics_failing": "cadence"}, False) == ", form AABA"
    assert "not clearly heard" in form_claim(aaba, {"aabb": False, "form_match": 0.4, "critics_failing": ""}, False)
    assert "not clearly heard" in form_claim(aaba, {"aabb": False, "form_match": None, "critics_failing": ""}, False)
    ab = make_plan(key, 16, "AB", 4)
    assert form_claim(ab, {}, True) == ", strains A, B of 8 bars, each once"
    assert form_claim(make_plan(key, 8, "through", 4), {}, True) == ""


@pytest.mark.parametrize("text,tempo,beat", [("a lively jig in G major", 180, "dotted crotchet = 120"),
                                             ("16 bars of a reel in A minor", 216, "minim = 108")])
def test_a_dance_tune_is_written_at_its_tempo_in_running_eighths(tmp_path, text, tempo, beat):
    """Through the tool: the MIDI tempo is the dance's (crotchets a minute), the summary counts the
    dancer's beat, and the melody moves on the eighth-note grid (no dotted-eighth/sixteenth figure)
    with no note longer than the beat outside the cadence bars (not a hornpipe's dotted rhythm or a
    reel of half and whole notes)."""
    import pretty_midi

    from models.music.analysis import melody_notes
    from models.music.midi_io import read_parts
    from tools import registry
    from tools.base import ToolContext, TurnSettings
    from tools.compose_music import run
    from tools.host import ModelHost

    gen = MusicGenerator.from_dir()
    spec = registry.spec("compose_music")
    args = {k: v for k, v in spec.schema(**{**spec.fill_args(text, text, {}), "seed": 11}).model_dump().items()
            if v is not None}
    ctx = ToolContext("t", tmp_path, 1, emit=lambda e: None, should_stop=lambda: False,
                      host=ModelHost({"music": lambda s: gen}), settings=TurnSettings())
    art = run(args, ctx)
    pm = pretty_midi.PrettyMIDI(str(tmp_path / art.files["midi"]))
    assert round(pm.get_tempo_changes()[1][0]) == tempo
    assert beat in art.summary
    score = read_parts(tmp_path / art.files["midi"])
    bar = score.bar_length
    cadence_bars = set(range(3, score.bars, 4)) | {score.bars - 1}
    mel = melody_notes(score)
    assert all(n.start % 2 == 0 for n in mel)
    longest = 4 if "reel" in text else 6
    assert all(n.duration <= longest for n in mel if n.start // bar not in cadence_bars)


@pytest.mark.parametrize("meter", ["4/4", "3/4"])
def test_the_seventh_is_not_left_by_leap_at_the_final_close(meter):
    """Over the V7 before the final tonic the melody's last note is never scale degree 4 (the
    chord's seventh, which would leap to the tonic): a tiny model biased to F5 in C major ends its
    approach on F without the plan's ``seventh`` rule, never with it, and still closes on C."""
    import dataclasses

    from models.music.plan import make_plan

    torch.manual_seed(5)
    key = Key(0, "major")
    bias = torch.zeros(len(V))
    bias[V.id("PITCH_77")] = 6.0  # a model that loves F5
    m = _Biased(build_music_model(TINY["rnn"]), bias)
    plan = make_plan(key, 4, "through", 4)
    assert plan.guides[2].seventh == 5 and all(g.seventh is None for i, g in enumerate(plan.guides) if i != 2)
    old = tuple(dataclasses.replace(g, seventh=None) for g in plan.guides)

    def approaches(guides):
        spec = SampleSpec(key=key, meter=meter, bars=4, seed=3, candidates=8, max_chord=1, plan=guides)
        out = []
        for p in sample(m, V, spec):
            top: dict[int, int] = {}
            for n in p.score.notes:
                top[n.start] = max(top.get(n.start, 0), n.pitch)
            mel = [top[t] for t in sorted(top)]
            assert mel[-1] % 12 == 0  # the final note stays the tonic
            out.append(mel[-2])
        return out

    assert any(p % 12 == 5 for p in approaches(old))  # the bias alone ends the approach on the seventh
    assert not any(p % 12 == 5 for p in approaches(plan.guides))
