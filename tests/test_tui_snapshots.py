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
