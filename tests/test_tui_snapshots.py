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
    import time

    from agent.artifacts import RoundRecord, Scores
    from tui import ToolCard

    lines = ["The harbour lamps are burning in the rain,", "And every boat is dreaming of the sea;",
             "The tide comes in and goes away again,", "And leaves its silver letters there for me."]

    async def show(pilot):
        card = ToolCard("write_poem", {"topic": "the harbour at night", "form": "quatrain"})
        await app.query_one("#log").mount(card)
        await pilot.pause()
        card.add_round(RoundRecord(0, {}, 1, Scores(0.91, 0.83, 0.88), True))
        card.add_round(RoundRecord(1, {}, 2, Scores(0.9, 0.97, 0.9), True))
        card.show_poem("Silver Letters", lines)
        card.started = time.monotonic()
        card.finish('Wrote a quatrain "Silver Letters" (4 lines, ABAB); quality 0.90, novelty 0.97')
        await pilot.pause()

    assert snap_compare(app, run_before=show, terminal_size=(100, 30))
