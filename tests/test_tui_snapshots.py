"""SVG snapshots of the chat's looks (fixed size; paths fixed so the status bar is stable).
Update after an intended change with: pytest tests/test_tui_snapshots.py --snapshot-update"""

import shutil
from pathlib import Path

import pytest

from tui import make_app

DATA = Path("/tmp/arsnova-snapshots")


@pytest.fixture
def app(tiny_weights):
    from agent.config import Config

    shutil.rmtree(DATA, ignore_errors=True)
    app = make_app(Config(data_dir=DATA, weights_dir=tiny_weights, threads=1))
    app.machine_load = lambda: "load 0.5 · mem 300 MB"  # the real figures change from run to run
    app.cursor_blink = False  # on a loaded machine a snapshot once caught the cursor mid-blink
    return app


def test_empty_chat(snap_compare, app):
    assert snap_compare(app, terminal_size=(100, 30))


def test_help_screen(snap_compare, app):
    assert snap_compare(app, press=["f1"], terminal_size=(100, 30))


def test_sessions_sidebar(snap_compare, app):
    app.store.create("Autumn set", session_id="autumn-set")
    app.store.create("Jigs and reels", session_id="jigs")
    assert snap_compare(app, press=["ctrl+b"], terminal_size=(100, 30))


def test_poem_card_with_scansion_gutter(snap_compare, app):
    """A finished poem card: rounds, the poem with syllables and rhyme letters, the result line."""
    from models.poetry.page import scansion_rows
    from tools.artifacts import RoundRecord, Scores
    from tui import ToolCard

    lines = ["The harbour lamps are burning in the rain,", "And every boat is dreaming of the sea;",
             "The tide comes in and goes away again,", "And leaves its silver letters there for me."]

    async def show(pilot):
        card = ToolCard("write_poem", {"topic": "the harbour at night", "form": "quatrain"})
        await app.query_one("#log").mount(card)
        await pilot.pause()
        card.add_round(RoundRecord(0, {}, 1, Scores(0.91, 0.83, 0.88), True))
        card.add_round(RoundRecord(1, {}, 2, Scores(0.9, 0.97, 0.9), True))
        card.show_poem("Silver Letters", scansion_rows(lines))
        card.finish('Wrote a quatrain "Silver Letters" (4 lines, ABAB); quality 0.90, novelty 0.97', elapsed=0.0)
        await pilot.pause()

    assert snap_compare(app, run_before=show, terminal_size=(100, 30))


def _card(app, tool, args, kind, files, summary):
    from tools.artifacts import Artifact, RoundRecord, Scores
    from tools.views import view_of
    from tui import ToolCard

    card = ToolCard(tool, args)
    art = Artifact(kind=kind, tool=tool, args=args, seed=1, model="tiny", round=1, scores=Scores(0.9, 0.95, 0.9),
                   files=files, summary=summary)

    async def finish(pilot, show):
        await app.query_one("#log").mount(card)
        await pilot.pause()
        card.add_round(RoundRecord(0, {}, 1, Scores(0.9, 0.62, 0.9), True))
        card.add_round(RoundRecord(1, {}, 2, Scores(0.88, 0.95, 0.9), True))
        show(card)
        card.finish(summary, elapsed=0.0)  # not the clock: a loaded machine once printed 0.1s here
        card.add_actions(art, view_of(art, DATA))
        await pilot.pause()

    return finish


def test_music_card_with_piano_roll_and_actions(snap_compare, app):
    import pretty_midi

    from models.music.midi_io import piano_roll_text_of

    pm = pretty_midi.PrettyMIDI(initial_tempo=90)
    inst = pretty_midi.Instrument(program=73)
    for i, pitch in enumerate([62, 65, 69, 67, 65, 64, 62, 61, 62, 69, 74, 72]):
        inst.notes.append(pretty_midi.Note(80, pitch, i * 0.33, i * 0.33 + 0.3))
    pm.instruments.append(inst)
    DATA.mkdir(parents=True, exist_ok=True)
    pm.write(str(DATA / "piece.mid"))
    finish = _card(app, "compose_music", {"mood": "calm", "key": "D minor", "bars": 4}, "music",
                   {"midi": "piece.mid"}, "Composed 4 bars in D minor for flute at 90 bpm; novelty 0.95")

    async def show(pilot):
        await finish(pilot, lambda c: c.show_roll(piano_roll_text_of(DATA / "piece.mid", 90)))

    assert snap_compare(app, run_before=show, terminal_size=(100, 40))


def test_image_card_in_half_blocks(snap_compare, app):
    import numpy as np
    from PIL import Image

    DATA.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:64, 0:64]
    rgb = np.stack([255 - 3 * y, 60 + 2 * x, 120 + x + y], -1).clip(0, 255).astype(np.uint8)
    rgb[20:44, 20:44] = (220, 30, 40)  # a red square on a gradient
    Image.fromarray(rgb).save(DATA / "pic.png")
    finish = _card(app, "generate_image", {"prompt": "a red square"}, "image", {"image": "pic.png"},
                   'Drew "a red square" at 64x64; palette red, blue')

    async def show(pilot):
        await finish(pilot, lambda c: c.show_image(DATA / "pic.png", 32))

    assert snap_compare(app, run_before=show, terminal_size=(100, 40))


def test_error_toast(snap_compare, app):
    async def show(pilot):
        app.notify("/tmp/broken.mid: not a MIDI file (bad header); give a .mid file", severity="error", timeout=60,
                   markup=False)
        await pilot.pause()

    assert snap_compare(app, run_before=show, terminal_size=(100, 30))


def test_command_palette(snap_compare, app):
    assert snap_compare(app, press=["ctrl+p"], terminal_size=(100, 30))
