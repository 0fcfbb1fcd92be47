"""`arsnova learn`: fine-tune on a person's own MIDI files and poems, register, use, push away from them."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from models.common import learned
from models.common.errors import Cancelled, UserFixableError
from tests.tiny import scale_tune

# a small base model learns fast; the shipped defaults (lr 3e-4, 800 steps) are for the real one
FAST_MUSIC = dict(steps=500, lr=1e-2, min_lr=2e-3, warmup=5, eval_every=40, block_size=128, patience=0,
                  sample_bars=4, samples=2, threads=1)


def write_midi_folder(folder: Path, n: int = 12, distinct: int = 2) -> Path:
    """n MIDI files of ``distinct`` different tunes, all in C major (a folder a person might have)."""
    from models.music.midi_io import midi_bytes
    from models.music.tokens import Key

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        tune = scale_tune(Key(0, "major"), 4, offset=i % distinct)
        (folder / f"tune {i:02d}.mid").write_bytes(midi_bytes(tune, 104.0, 0, "mine"))
    return folder


def drums_only_midi() -> bytes:
    import io

    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes += [pretty_midi.Note(100, 36, i * 0.5, i * 0.5 + 0.1) for i in range(16)]
    pm.instruments.append(drums)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def music_settings(**kw):
    from models.music.training.learn import LearnMusicSettings

    return dataclasses.replace(LearnMusicSettings(), **{**FAST_MUSIC, **kw})


@pytest.fixture(scope="module")
def base_weights(tiny_weights, tmp_path_factory) -> Path:
    """The tiny weights with a transformer just big enough to memorise a folder of tunes in
    seconds (a random-init one: what learning starts from is the point, not what it knew)."""
    import shutil

    import torch

    from models.music.model import build_music_model, save_music_model
    from models.music.tokens import Vocab

    out = tmp_path_factory.mktemp("base") / "weights"
    shutil.copytree(tiny_weights, out)
    torch.manual_seed(0)
    model = build_music_model({"kind": "transformer", "vocab_size": len(Vocab()), "block_size": 128, "n_layer": 2,
                               "n_head": 4, "n_embd": 64, "dropout": 0.0})
    save_music_model(model, out / "music-transformer.safetensors", {"train_step": 0})
    return out


@pytest.fixture(scope="module")
def learned_music(base_weights, tmp_path_factory):
    """A composer learned from a folder of a person's tunes."""
    from models.music.training.learn import learn_music

    root = tmp_path_factory.mktemp("learn")
    folder = write_midi_folder(root / "my tunes")
    logs: list[str] = []
    model = learn_music(folder, "mine", root / "home", base_weights, music_settings(), log=logs.append)
    return root, folder, model, logs


def test_learning_registers_a_model_with_its_card(learned_music):
    root, folder, model, logs = learned_music
    card = model.card
    assert model.path == root / "home" / "models" / "music" / "mine"
    assert sorted(p.name for p in model.path.iterdir()) == ["CARD.md", "card.json", "music-ngrams.npz",
                                                            "music-transformer.safetensors", "samples"]
    assert card["plain_samples"] == ["samples/plain-1.mid", "samples/plain-2.mid"]
    assert "`samples/plain-1.mid`" in (model.path / "CARD.md").read_text()
    assert card["files_used"] == 12 and card["held_out"] == 1 and card["steps"] == 500
    assert card["val_nll_after"] < card["val_nll_before"]  # it learned the person's tunes
    assert card["defaults"]["tempo"] == 104 and card["defaults"]["meter"] == "4/4"
    assert card["copy_rate_plain"] > 0.5  # plain samples imitate the folder
    assert "Held-out NLL" in (model.path / "CARD.md").read_text()
    assert [m.name for m in learned.list_learned(root / "home", "music")] == ["mine"]
    assert not (root / "home" / "models" / ".runs" / "music-mine").exists()  # the run is cleared once registered


def test_composing_with_it_round_0_copies_the_folder_more_than_the_kept_revision(learned_music, base_weights, encoder):
    from tools.host import make_host
    from tools.revise import ReviseConfig
    from tests.tiny import run_tool

    root, _, _, _ = learned_music
    host = make_host(base_weights, lambda: encoder, data_dir=root / "home")
    out = root / "session"
    # floors at 0: the tiny model's music is not judged here, only where revision pushes it
    cfg = ReviseConfig(max_rounds=2, candidates=4, quality_floor=0.0, adherence_floor=0.0, target=1.01)
    # through-composed: an AABA plan restates bar 1 as the approach to the close, whose guides (the
    # dominant's tones, the seventh passing on by step) then shape the opening too and the folder's
    # openings are no longer drawn; through-composed, round 0 copies 49-71% of the folder's 6-grams
    # on seeds 1-3 and the kept revision 0-3%
    art = run_tool("compose_music", {"bars": 8, "key": "C major", "instrument": "flute", "seed": 1, "form": "through"},
                   out, host, composer="mine", revise=cfg)
    copies = [r.scores.metrics["copy_rate_mine"] for r in art.trajectory]
    kept = art.scores.metrics["copy_rate_mine"]
    assert art.model.startswith("learned/mine@")
    assert copies[0] > 0.3 and art.round > 0 and kept < copies[0] / 2  # round 0 imitates the folder, the revision departs
    assert art.revision["novelty_against"][1].startswith("mine (12 pieces")
    assert "copies of mine's melody 6-grams by round" in art.summary
    # a key the folder is not in is still followed (transposed training)
    art2 = run_tool("compose_music", {"bars": 4, "key": "F# minor", "seed": 2}, out, host, composer="mine")
    assert "F# minor" in art2.summary


def test_a_composer_learned_before_the_cad_token_still_composes(learned_music, base_weights, encoder, tmp_path):
    """A composer fine-tuned from the version-1 (199-token) shipped model loads and composes with
    its own vocabulary; a vocabulary this Ars Nova does not know is one clear line."""
    import shutil

    from models.common.checkpoint import load_safetensors, save_safetensors
    from models.common.errors import ModelFileError
    from models.music.generator import MusicGenerator
    from models.music.sample import SampleSpec
    from models.music.tokens import Key
    from tools.host import make_host
    from tests.tiny import run_tool

    root, _, _, _ = learned_music
    home = tmp_path / "home"
    shutil.copytree(root / "home" / "models" / "music" / "mine", home / "models" / "music" / "old")
    card = json.loads((home / "models" / "music" / "old" / "card.json").read_text())
    (home / "models" / "music" / "old" / "card.json").write_text(json.dumps({**card, "name": "old"}))
    path = home / "models" / "music" / "old" / "music-transformer.safetensors"
    tensors, meta = load_safetensors(path)
    rows = tensors["wte.weight"].shape[0]
    assert rows == 200
    tensors["wte.weight"] = tensors["wte.weight"][:199].contiguous()  # as learned before CAD existed
    save_safetensors(tensors, path, {**meta, "config": {**meta["config"], "vocab_size": 199}})
    host = make_host(base_weights, lambda: encoder, data_dir=home)
    art = run_tool("compose_music", {"bars": 8, "key": "D minor", "seed": 3}, tmp_path / "s", host, composer="old")
    assert art.model.startswith("learned/old@") and "D minor" in art.summary
    tensors["wte.weight"] = torch_cat_row(tensors["wte.weight"], 2)  # 201 rows: a vocabulary from elsewhere
    save_safetensors(tensors, path, {**meta, "config": {**meta["config"], "vocab_size": 201}})
    gen = MusicGenerator.from_learned(learned.find_learned(home, "music", "old"), base_weights)
    with pytest.raises(ModelFileError, match="201-token vocabulary; Ars Nova reads 199 or 200 tokens"):
        gen.compose("transformer", SampleSpec(key=Key(0, "major"), bars=2))


def torch_cat_row(t, n: int):
    import torch

    return torch.cat([t, t[-1:].expand(n, -1)]).contiguous()


def test_an_unknown_composer_name_is_one_line_listing_the_learned_ones(learned_music, tiny_weights, encoder):
    from tools.host import make_host
    from tests.tiny import run_tool
    from tools.errors import ToolUnavailable
    from langchain_core.tools import ToolException

    root, _, _, _ = learned_music
    host = make_host(tiny_weights, lambda: encoder, data_dir=root / "home")
    with pytest.raises((ToolException, ToolUnavailable)) as e:
        run_tool("compose_music", {"bars": 4, "composer": "nobody"}, root / "s2", host)
    assert "no learned composer named 'nobody' (learned: mine)" in str(e.value)


def test_the_plan_binds_a_named_style_to_the_learned_model(learned_music):
    from agent.learned_refs import bind_learned

    root, _, _, _ = learned_music
    calls = [{"id": "1", "name": "compose_music", "args": {"mood": "calm"}},
             {"id": "2", "name": "write_poem", "args": {"topic": "the sea"}}]
    out = bind_learned(calls, "compose something calm in the style of Mine, and a poem", root / "home")
    assert out[0]["args"] == {"mood": "calm", "composer": "mine"}
    assert out[1]["args"] == {"topic": "the sea"}  # "mine" is a composer, not a poet
    # an ordinary word that is also a name is not a reference without a style cue
    assert bind_learned(calls, "compose a tune of mine", root / "home") == calls


def test_bad_files_are_skipped_one_line_each_and_counted(tmp_path, tiny_weights):
    from models.music.training.learn import read_music_folder

    folder = write_midi_folder(tmp_path / "mixed", n=3)
    (folder / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\xff\xff")
    (folder / "drums.mid").write_bytes(drums_only_midi())
    (folder / "empty.midi").write_bytes(b"")
    (folder / "notes.txt").write_text("not music")  # not a MIDI name: not even looked at
    with open(folder / "huge.mid", "wb") as f:  # 50 MB: refused by its size, unread
        f.truncate(50 * 1024 * 1024)
    os.symlink(folder, folder / "loop")  # a link back up: not followed
    os.symlink(tmp_path / "gone.mid", folder / "dangling.mid")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "x.mid").write_bytes(b"junk")
    logs: list[str] = []
    pieces, skipped = read_music_folder(folder, 100, "folk", logs.append)
    assert len(pieces) == 3
    assert skipped == {"corrupt": 1, "empty or drums only": 2, "too large": 1, "a link that leads to no file": 1}
    assert len(logs) == 5 and all("\n" not in line for line in logs)
    assert any("huge.mid" in line and "bytes" in line for line in logs)
    # a folder past --max-files: the rest is counted, not read
    pieces, skipped = read_music_folder(folder, 6, "folk", logs.append)  # in name order: the bad ones, then tunes
    assert len(pieces) == 2 and skipped["past --max-files"] == 1


def test_a_folder_of_10000_files_is_read_to_the_limit_and_not_listed_line_by_line(tmp_path):
    from models.music.training.learn import read_music_folder

    folder = tmp_path / "dump"
    folder.mkdir()
    for i in range(10_000):
        (folder / f"x{i:05d}.mid").write_bytes(b"")
    os.symlink(folder / "self.mid", folder / "self.mid")  # a link to itself: a loop, never opened
    logs: list[str] = []
    pieces, skipped = read_music_folder(folder, 300, "folk", logs.append)
    assert pieces == [] and skipped == {"empty or drums only": 300, "a link that leads to no file": 1,
                                        "past --max-files": 9_700}
    assert len(logs) == 22 and logs[-1].startswith("… more skipped files are counted")


def test_cli_errors_are_one_line_exit_2_and_nothing_is_half_registered(tmp_path, tiny_weights, monkeypatch, capsys):
    from agent.cli import main

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.mid").write_bytes(b"garbage")
    (bad / "b.mid").write_bytes(drums_only_midi())
    home = tmp_path / "home"
    base = ["--data-dir", str(home), "--weights", str(tiny_weights), "learn", "music"]
    cases = {
        (str(bad), "x"): "no usable MIDI file (2 skipped)",
        (str(tmp_path / "nowhere"), "x"): "no such file or folder",
        (str(bad), "../evil"): "use 1-40 letters",
        (str(bad), "transformer"): "taken by a shipped model",
    }
    for (src, name), says in cases.items():
        assert main([*base, src, "--name", name]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err
    assert main([*base, str(bad), "--name", "x", "--max-files", "0"]) == 2
    # a failure after training (here: while measuring) leaves no model and no staging folder
    good = write_midi_folder(tmp_path / "good", n=4)
    import models.music.training.learn as lm

    monkeypatch.setattr(lm, "plain_copy_rate", lambda *a: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError):
        lm.learn_music(good, "half", home, tiny_weights, music_settings(steps=4), log=lambda s: None)
    assert not (home / "models" / "music" / "half").exists()
    assert not any(p.name.startswith(".staging") for p in (home / "models" / "music").iterdir())
    assert learned.list_learned(home, "music") == []


def test_a_cancelled_learn_resumes_where_it_stopped(tmp_path, tiny_weights):
    from models.music.training.learn import learn_music

    folder = write_midi_folder(tmp_path / "t", n=4)
    steps: list[int] = []
    with pytest.raises(Cancelled, match="cancelled at step 10; run the same command again to resume"):
        learn_music(folder, "later", tmp_path / "home", tiny_weights, music_settings(steps=40, eval_every=10),
                    log=lambda s: None, progress=lambda s, n, t: steps.append(s), should_stop=lambda: len(steps) >= 10)
    assert learned.list_learned(tmp_path / "home", "music") == []
    logs: list[str] = []
    model = learn_music(folder, "later", tmp_path / "home", tiny_weights, music_settings(steps=40, eval_every=10),
                        log=logs.append)
    assert any("resuming" in line for line in logs) and any("resumed at step 10" in line for line in logs)
    assert model.card["steps"] == 40
    with pytest.raises(UserFixableError, match="already exists"):
        learn_music(folder, "later", tmp_path / "home", tiny_weights, music_settings(steps=4), log=lambda s: None)
    again = learn_music(folder, "later", tmp_path / "home", tiny_weights, music_settings(steps=4), log=lambda s: None,
                        replace=True)
    assert again.card["steps"] == 4


def test_names_and_what_is_not_ours_are_refused(tmp_path):
    for bad in ("", "a b", "a/b", "..", ".hidden", "x" * 41, "RNN", "embedded", "nul\x00"):
        with pytest.raises(UserFixableError):
            learned.check_name(bad)
    assert learned.check_name("my-tunes_2") == "my-tunes_2"
    # a folder at the model's place that Ars Nova did not write (no card) is never replaced
    theirs = tmp_path / "models" / "music" / "keep"
    theirs.mkdir(parents=True)
    (theirs / "precious.txt").write_text("mine")
    with pytest.raises(UserFixableError, match="not a model Ars Nova wrote"):
        learned.check_free(tmp_path, "music", "keep", replace=True)
    assert (theirs / "precious.txt").read_text() == "mine"


# ---- poems -------------------------------------------------------------------------------------
POEM_FILE = """---
title: my notebook
---
# Winter

{a}

{b}


## The second one

*{c}*
> {d}

```
print("not a poem")
```
"""


def notebook_lines(n: int, seed: int = 5) -> list[str]:
    """A person's own habits of verse, unlike the tiny poet's corpus: other words, other turns."""
    import numpy as np

    rng = np.random.default_rng(seed)
    things = "lantern harbour kettle window ladder orchard letter pocket garden candle".split()
    moods = "quiet early narrow yellow patient hollow".split()
    out = []
    for i in range(n):
        a, b, m = things[int(rng.integers(10))], things[int(rng.integers(10))], moods[int(rng.integers(6))]
        out.append((f"I keep the {a} by the {b}", f"and every {m} {a} remembers me", f"so the {b} waits, {m} and kind",
                    f"my {a} is {m} tonight")[i % 4])
    return out


def write_poems(folder: Path, n: int = 16) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = notebook_lines(n * 8)
    for i in range(n // 4):
        chunk = lines[i * 32 : (i + 1) * 32]
        stanzas = ["\n".join(chunk[j : j + 4]) for j in range(0, 32, 4)]
        (folder / f"notebook {i}.md").write_text(POEM_FILE.format(a=stanzas[0], b=stanzas[1],
                                                                  c="\n".join(stanzas[2:5]), d=stanzas[5]))
    return folder


def test_markdown_is_read_as_poems():
    from models.poetry.training.learn import clean_lines, poems_of

    text = POEM_FILE.format(a="The cold wave falls upon the shore\nAnd night and rain sing", b="O pale bell, my song waits",
                            c="**The** old *hill* sleeps", d="[A link](http://x) and <br> the dark stone")
    poems = poems_of(clean_lines(text))
    assert poems == [["The cold wave falls upon the shore", "And night and rain sing", "O pale bell, my song waits"],
                     ["The old hill sleeps", "A link and the dark stone"]]


def test_a_gutenberg_book_gives_its_poems_not_its_licence_or_preface():
    from models.poetry.training.learn import clean_lines, poems_of

    preface = ("THE love I dedicate to your Lordship is without end; whereof this\n"
               "pamphlet, without beginning, is but a superfluous moiety.  The\n"
               "warrant I have of your honourable disposition, not the worth of\n"
               "my untutored lines, makes it assured of acceptance.  What I have\n")
    book = ("The Project Gutenberg eBook of Poems\nThis eBook is for the use of anyone anywhere at no cost\n"
            "*** START OF THE PROJECT GUTENBERG EBOOK POEMS ***\n\n" + preface + "\n\n"
            "From fairest creatures we desire increase,\nThat thereby beauty's rose might never die,\n"
            "But as the riper should by time decease,\nHis tender heir might bear his memory:\n\n"
            "*** END OF THE PROJECT GUTENBERG EBOOK POEMS ***\nUpdated editions will replace the previous one\n"
            "and the old editions will be renamed.\n")
    assert poems_of(clean_lines(book)) == [["From fairest creatures we desire increase,",
                                           "That thereby beauty's rose might never die,",
                                           "But as the riper should by time decease,",
                                           "His tender heir might bear his memory:"]]


def test_learning_poems_registers_a_poet_that_writes_and_is_pushed_away_from_them(tiny_weights, tmp_path, encoder):
    from models.poetry.training.learn import LearnPoemsSettings, learn_poems
    from tools.host import make_host
    from tools.revise import ReviseConfig
    from tests.tiny import run_tool

    folder = write_poems(tmp_path / "poems")
    (folder / "latin1.txt").write_bytes("caf\xe9 au lait\nun po\xe8me\n".encode("latin-1"))
    (folder / "blob.txt").write_bytes(b"\x00\x01binary")
    logs: list[str] = []
    settings = dataclasses.replace(LearnPoemsSettings(), steps=300, lr=3e-3, min_lr=7.5e-4, warmup=5, eval_every=50,
                                   patience=0, batch_size=8, block_size=96, samples=3, dropout=0.0)
    model = learn_poems(folder, "notebook", tmp_path / "home", tiny_weights, settings, log=logs.append, encoder=encoder)
    card = model.card
    assert card["files_used"] == 4 and card["skipped"] == {"not UTF-8": 1, "not text": 1}
    assert any("latin1.txt: not UTF-8 text" in line for line in logs)
    assert card["poems"] == 8 and card["val_nll_after"] < card["val_nll_before"]
    assert (model.path / "config.json").exists() and (model.path / "poetry-ngrams5.npz").exists()

    host = make_host(tiny_weights, lambda: encoder, data_dir=tmp_path / "home")
    cfg = ReviseConfig(max_rounds=2, candidates=2, quality_floor=0.0, adherence_floor=0.0, target=1.01)
    art = run_tool("write_poem", {"topic": "my kettle", "form": "free", "lines": 4, "seed": 3}, tmp_path / "s", host,
                      poet="notebook", revise=cfg)
    assert art.model == "learned/notebook"
    copies = [r.scores.metrics["copy_rate_5_notebook"] for r in art.trajectory]
    assert card["copy_rate_plain"] > 0.3  # plain samples imitate the notebook
    assert len(card["plain_samples"]) == 3 and card["plain_samples"][0] in (model.path / "CARD.md").read_text()
    assert copies[0] > 0.2 and art.round > 0 and art.scores.metrics["copy_rate_5_notebook"] < copies[0]
    assert "of notebook's poems by round" in art.summary and "nearness to notebook's poems" in art.summary
    m = art.scores.metrics
    assert -1 <= m["style_random_verse"] <= 1 and -1 <= m["style_notebook"] <= 1
    assert art.revision["novelty_against"][1].startswith("notebook (8 poems")
    # the same poet by name in the call ("a poem like notebook")
    art2 = run_tool("write_poem", {"topic": "rain", "form": "haiku", "poet": "notebook"}, tmp_path / "s", host)
    assert art2.model == "learned/notebook"


def test_learned_models_are_listed_by_arsnova_models(learned_music, capsys):
    from agent.cli import main

    root, _, _, _ = learned_music
    assert main(["--data-dir", str(root / "home"), "models"]) == 0
    out = capsys.readouterr().out
    assert "mine (learned)" in out and "12 pieces" in out
    assert json.loads((root / "home" / "models" / "music" / "mine" / "card.json").read_text())["name"] == "mine"


# ---- in the chat -------------------------------------------------------------------------------
async def test_chat_learn_shows_progress_can_be_cancelled_and_resumes(base_weights, tmp_path):
    from textual.widgets import Button, Input

    from agent.config import Config
    from tests.test_tui import submit, texts, wait_for
    from tui import LearnCard, make_app

    folder = write_midi_folder(tmp_path / "my tunes", n=4)
    app = make_app(Config(data_dir=tmp_path / "data", weights_dir=base_weights, threads=1))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await submit(pilot, app, f'/learn music "{folder}" --name ours --steps 5000')
        await wait_for(pilot, lambda: "step " in str(app.query_one(LearnCard).query_one(".status").render()), 60)
        status = str(app.query_one(LearnCard).query_one(".status").render())
        assert "left" in status and "/5000" in status
        app.query_one("#learn-cancel", Button).press()
        await wait_for(pilot, lambda: app.query_one(LearnCard).done, 60)
        assert "cancelled at step" in str(app.query_one(LearnCard).query_one(".status").render())
        assert not app.query_one("#learn-cancel", Button).display
        # the chat went on meanwhile; a bad /learn is one toast, no card
        await submit(pilot, app, "/learn songs x")
        await pilot.pause(0.2)
        assert len(app.query(LearnCard)) == 1
        assert any("invalid choice: 'songs'" in t for t in texts(app, "Toast"))
        # the same command with fewer steps resumes the run and registers the model
        await submit(pilot, app, f'/learn music "{folder}" --name ours --steps 30')
        await wait_for(pilot, lambda: len(app.query(LearnCard)) == 2 and app.query(LearnCard).last().done, 120)
        assert "Learned ours" in str(app.query(LearnCard).last().query_one(".status").render())
        assert app.focused is app.query_one("#prompt", Input)
    assert [m.name for m in learned.list_learned(tmp_path / "data", "music")] == ["ours"]
