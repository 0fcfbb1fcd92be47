"""Layouts (issue 23, item 7): at 60, 80, 120 and 160 columns, with and without the sessions
sidebar, a poem, a picture and a piano roll keep every button on screen, no text line wraps
(paths are not broken mid-word, a roll's rows stay rows) and the status bar is not cut."""

import pytest
from textual.widgets import Button, Static

from tests.test_tui import texts, wait_for
from tui import ToolCard, make_app

REQUESTS = ("a haiku about autumn rain", "4 bars of calm music in D minor for flute", "draw a red apple, 16x16, 4 steps")


@pytest.fixture(scope="module")
def session(tiny_weights, tmp_path_factory):
    """A stored session with a poem, a piece and a picture, made by the real tools."""
    import shutil

    from agent.app import make_agent
    from agent.config import Config
    from agent.session import SessionStore
    from tests.tiny import make_tiny_image_model

    root = tmp_path_factory.mktemp("layout")
    weights = shutil.copytree(tiny_weights, root / "weights")
    make_tiny_image_model(weights)
    cfg = Config(data_dir=root / "data-folder-with-a-long-name" / "and-deeper", weights_dir=weights, threads=1)
    store = SessionStore(cfg.data_dir)
    sid = store.create(title="Layouts").id
    agent = make_agent(cfg, store=store)
    for text in REQUESTS:
        list(agent.run(text, sid))
    assert len(store.artifacts(sid)) == 3
    return cfg, sid


def lines_of(widget: Static) -> list[str]:
    return str(widget.render()).split("\n")


@pytest.mark.parametrize("sidebar", [False, True], ids=["plain", "sidebar"])
@pytest.mark.parametrize("width", [60, 80, 120, 160])
async def test_nothing_wraps_or_disappears(session, width, sidebar):
    cfg, sid = session
    app = make_app(cfg, sid)
    async with app.run_test(size=(width, 60)) as pilot:
        await wait_for(pilot, lambda: len(app.query(ToolCard)) == 3 and all(c.view for c in app.query(ToolCard)))
        if sidebar:
            await pilot.press("ctrl+b")
        await pilot.pause(0.2)
        screen_width = app.screen.size.width
        for card in app.query(ToolCard):
            buttons = list(card.query(Button))
            assert len(buttons) >= 4, card.tool
            assert card.tool != "compose_music" or card.query_one(".roll").has_class("rows")
            for b in buttons:  # every button wholly on screen, its label whole
                assert b.region.width >= len(str(b.label)) and 0 <= b.region.x and b.region.right <= screen_width, \
                    (card.tool, str(b.label), b.region, screen_width)
            for part in (".result", ".roll"):
                w = card.query_one(part, Static)
                if not str(w.render()).strip():
                    continue
                room = w.content_region.width
                if w.has_class("rows"):  # a piano roll's or a picture's rows fit whole: none wraps
                    assert all(len(line) <= room for line in lines_of(w)), \
                        (card.tool, part, room, max(lines_of(w), key=len))
                else:  # text wraps between words, never inside one: a longer word ends in "…"
                    words = str(w.render()).split()
                    assert all(len(word) <= room for word in words) or w.styles.text_overflow == "ellipsis", \
                        (card.tool, part, room, max(words, key=len))
        status = app.query_one("#status", Static)
        assert len(str(status.render())) <= status.content_region.width, str(status.render())
        assert "planner: router" in str(status.render())
        assert any("Resumed" in t for t in texts(app))


@pytest.mark.parametrize("sidebar", [False, True], ids=["plain", "sidebar"])
@pytest.mark.parametrize("width", [60, 80, 120, 160])
async def test_the_palette_and_an_error_toast_fit(session, width, sidebar):
    from textual.command import CommandPalette
    from textual.widgets._toast import Toast

    cfg, sid = session
    app = make_app(cfg, sid)
    async with app.run_test(size=(width, 40), notifications=True) as pilot:
        if sidebar:
            await pilot.press("ctrl+b")
        app.notify("/tmp/a-rather-long-folder-name/broken.mid: not a MIDI file (bad header); give a .mid file",
                   severity="error", timeout=60, markup=False)
        await wait_for(pilot, lambda: list(app.query(Toast)), timeout=10)
        toast = app.query(Toast).first()
        assert toast.region.x >= 0 and toast.region.right <= width, (toast.region, width)
        words = str(toast.render()).split()
        room = toast.content_region.width
        assert all(len(w) <= room for w in words) or toast.styles.text_overflow != "fold", (room, max(words, key=len))
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"switch")
        await pilot.pause(0.3)
        box = app.screen.query_one("#--container")
        assert box.region.x >= 0 and box.region.right <= width, (box.region, width)
        options = app.screen.query_one("OptionList")
        assert options.option_count >= 1 and options.region.right <= width  # "Switch session" etc., on screen
