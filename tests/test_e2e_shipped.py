"""End to end on the shipped models: a brief asking for music gives a bundle in the asked key,
length and tempo, with scores and the revision trajectory in the manifest."""

import json

import pretty_midi

from agent.cli import main
from models.music.generator import MODEL_FILES
from models.common.runtime import default_weights_dir
from models.music.metrics import pitch_in_scale_rate
from models.music.midi_io import read_midi
from models.music.tokens import parse_key

BRIEF = """title: Shipped models
seed: 11
turns:
  - Compose 16 bars of slow piano music in D minor.
  - A lively jig in G major for the fiddle, 8 bars, with the rnn.
  - Make the jig less conventional.
"""


def test_shipped_weights_exist_and_are_small():
    wd = default_weights_dir()
    total = sum(p.stat().st_size for p in wd.rglob("*") if p.is_file())
    for f in MODEL_FILES.values():
        assert (wd / f).is_file(), f"{f} is not shipped"
    assert total < 120e6, f"{total / 1e6:.1f} MB of weights: the project keeps them under ~120 MB"


def test_brief_on_shipped_models(tmp_path, capsys):
    brief = tmp_path / "b.yaml"
    brief.write_text(BRIEF)
    out = tmp_path / "bundle"
    assert main(["run", str(brief), "--out", str(out)]) == 0, capsys.readouterr().err
    m = json.loads((out / "manifest.json").read_text())
    arts = m["artifacts"]
    assert [a["kind"] for a in arts] == ["music"] * 3
    from models.music.generator import MusicGenerator

    default = MusicGenerator.from_dir().default_kind()  # chosen by validation NLL
    expect = [("D minor", 16, 72, "4/4", default), ("G major", 8, 180, "6/8", "rnn"), ("G major", 8, 180, "6/8", "rnn")]
    for a, (key, bars, tempo, meter, model) in zip(arts, expect):
        score = read_midi(out / a["files"]["midi"], key=parse_key(key))
        assert pitch_in_scale_rate(score, parse_key(key)) >= 0.9
        assert a["scores"]["bars"] == bars and a["scores"]["pitch_in_scale"] >= 0.9
        pm = pretty_midi.PrettyMIDI(str(out / a["files"]["midi"]))
        assert round(pm.get_tempo_changes()[1][0]) == tempo
        ts = pm.time_signature_changes[0]
        assert f"{ts.numerator}/{ts.denominator}" == meter
        assert pm.get_end_time() <= bars * score.bar_length * 15 / tempo + 1e-6  # never longer than asked
        assert model in a["model"]
        assert a["trajectory"] and {"quality", "novelty", "adherence"} <= set(a["trajectory"][0]["scores"])
    # the revision turn asked for more novelty: a higher target and more rounds
    assert arts[2]["revision"]["direction"] == "more_novel"
    assert arts[2]["revision"]["target"] > arts[1]["revision"]["target"]
    assert arts[2]["revision"]["max_rounds"] > arts[1]["revision"]["max_rounds"]
    assert arts[2]["revision"]["stopped"] in ("target reached", "round limit")


def test_shipped_poet_keeps_form(tmp_path, capsys):
    """The embedded poet as shipped: a haiku is 5-7-5 and a sonnet rhymes ABAB CDCD EFEF GG in
    ten-syllable lines, through the CLI and into the bundle."""
    from tools.critics.poetry import form_match
    from models.poetry import prosody
    from models.poetry.forms import plan_form
    from models.poetry.page import read_poem_lines

    assert (default_weights_dir() / "poet" / "model.safetensors").is_file()
    brief = tmp_path / "p.yaml"
    brief.write_text("seed: 2\nturns:\n  - a haiku about the first snow\n  - a sonnet about the harbour at dawn\n")
    out = tmp_path / "bundle"
    assert main(["run", str(brief), "--out", str(out)]) == 0, capsys.readouterr().err
    arts = json.loads((out / "manifest.json").read_text())["artifacts"]
    assert [a["kind"] for a in arts] == ["poem", "poem"]
    haiku = read_poem_lines((out / arts[0]["path"]).read_text())
    assert [prosody.line_syllables(ln) for ln in haiku] == [5, 7, 5]
    sonnet = read_poem_lines((out / arts[1]["path"]).read_text())
    f = form_match(sonnet, plan_form("sonnet"))
    assert len(sonnet) == 14 and f["rhymes_ok"] == 1.0 and f["syllables_ok"] == 1.0
    assert arts[1]["scores"]["copy_rate_5"] < 0.05 and arts[1]["scores"]["lines_copied_whole"] == 0


def test_shipped_image_model_draws_the_asked_colour_reproducibly(tmp_path, capsys):
    """The embedded picture model as shipped: a blue car comes out with blue in its measured
    palette (the same check as the adherence critic), upscaled honestly to 256 px, with its
    parameters in the PNG; the same seed gives the same bytes and another seed differs."""
    from models.image.image_io import png_params

    home = default_weights_dir() / "image"
    assert (home / "model_index.json").is_file() and (home / "train-features.npz").is_file()
    brief = tmp_path / "i.yaml"
    brief.write_text("seed: 1\nturns:\n  - a picture of a blue car\n")
    outs = []
    for k, seed in enumerate(("1", "1", "2")):
        out = tmp_path / f"b{k}"
        assert main(["run", str(brief), "--out", str(out), "--seed", seed]) == 0, capsys.readouterr().err
        outs.append(out)
    a = json.loads((outs[0] / "manifest.json").read_text())["artifacts"][0]
    assert a["kind"] == "image" and "blue" in a["scores"]["palette"] and a["scores"]["colour_match"] == 1.0
    assert not a["scores"]["near_copy"]
    p = png_params(outs[0] / a["files"]["image"])
    # enlarged by the learned upscaler, guided by the 128 px exemplar where the redraw kept it (IMAGE_CARD.md)
    assert p["upscale"].startswith("learned x4 upscaler 64x64 -> 256x256, guided by the start at this size")
    assert len(p["upscaler_hash"]) == 16 and 0 < float(p["guided_kept"]) < 1
    assert p["scheduler"] == "ddim" and p["model"].startswith("arsnova-image")
    png = lambda o: next((o / "images").glob("*.png")).read_bytes()  # noqa: E731
    assert png(outs[0]) == png(outs[1]) and png(outs[0]) != png(outs[2])


def test_more_like_shakespeare_writes_with_the_poet_learned_from_the_sonnets(tmp_path, capsys):
    """A style is more than a form: after a poem, "more like Shakespeare" is written by the poet
    shipped in models/weights/authors (fine-tuned on the sonnets), as a sonnet, and the critique
    says how near it is to the sonnets."""
    brief = tmp_path / "b.yaml"
    brief.write_text("title: Style\nseed: 2\nturns:\n  - Write a quatrain about the sea.\n"
                     "  - Make it more like Shakespeare.\n")
    out = tmp_path / "bundle"
    assert main(["run", str(brief), "--out", str(out)]) == 0, capsys.readouterr().err
    first, styled = json.loads((out / "manifest.json").read_text())["artifacts"]
    assert first["model"] == "arsnova-poet" and styled["model"] == "learned/shakespeare"
    assert "sonnet" in styled["summary"] and "nearness to shakespeare's poems" in styled["summary"]
    assert styled["revision"]["novelty_against"][1].startswith("shakespeare (154 poems")
