"""Reopening a session is the conversation (issue 23, item 3): every turn in order with the
cards it had (poem with its scansion gutter, piano roll, rounds, buttons), the last turns drawn
first and earlier ones on request."""

from langchain_core.messages import AIMessage, HumanMessage
from textual.widgets import Button, Markdown, Static

from tests.test_tui import app_factory, submit, texts, wait_for  # noqa: F401 - fixtures
from tui import ToolCard


async def test_a_reopened_session_shows_its_cards_in_order(app_factory):  # noqa: F811
    app = app_factory()
    async with app.run_test(size=(110, 50)) as pilot:
        await submit(pilot, app, "a haiku about autumn rain")
        await wait_for(pilot, lambda: app.cards and not app.busy)
        await submit(pilot, app, "2 bars of music in E minor")
        await wait_for(pilot, lambda: len(app.cards) == 2 and not app.busy)
        await submit(pilot, app, "hello there")
        await wait_for(pilot, lambda: not app.busy)
        sid = app.session_id
        live_poem = str(next(iter(app.cards.values())).query_one(".roll", Static).render())
    again = app_factory(sid)
    async with again.run_test(size=(110, 50)) as pilot:
        await wait_for(pilot, lambda: len(again.query(ToolCard)) == 2)
        await pilot.pause()
        poem, music = again.query(ToolCard)
        assert poem.tool == "write_poem" and music.tool == "compose_music"
        assert str(poem.query_one(".roll", Static).render()) == live_poem  # title + scansion gutter, as it was
        assert "│" in str(music.query_one(".roll", Static).render())  # the piano roll
        assert "round 0: quality" in str(music.query_one(".rounds", Static).render())
        assert "← kept" in str(music.query_one(".rounds", Static).render())
        assert {b.name for b in music.query(Button)} >= {"open", "copy", "play", "revise", "export"}
        # the order of the conversation: request, its card, next request, its card, the words answer
        log = again.query_one("#log")
        order = [w for w in log.walk_children() if isinstance(w, ToolCard) or "user" in w.classes
                 or isinstance(w, Markdown)]
        kinds = ["card" if isinstance(w, ToolCard) else "answer" if isinstance(w, Markdown) else str(w.render())
                 for w in order]
        assert kinds[:4] == ["› a haiku about autumn rain", "card", "› 2 bars of music in E minor", "card"]
        assert kinds[4] == "› hello there" and kinds[5] == "answer"
        # and the reopened session goes on: a new request runs in it
        await submit(pilot, again, "2 bars of music in A minor")
        await wait_for(pilot, lambda: len(again.query(ToolCard)) == 3 and not again.busy)
        assert again.session_id == sid


async def test_a_long_session_draws_its_last_turns_and_earlier_ones_on_request(app_factory):  # noqa: F811
    app = app_factory()
    store = app.store
    sid = store.create(title="Long talk").id
    for turn in range(1, 31):
        store.add_message(sid, turn, HumanMessage(f"question {turn}"))
        store.add_message(sid, turn, AIMessage(f"answer {turn}"))
    again = app_factory(sid)
    async with again.run_test(size=(110, 40)) as pilot:
        await wait_for(pilot, lambda: any("question 30" in t for t in texts(again)))
        shown = [t for t in texts(again) if t.startswith("› question")]
        assert shown == [f"› question {n}" for n in range(31 - again.RESUME_TURNS, 31)]
        button = again.query_one("#earlier", Button)
        assert "22 more" in str(button.label)
        button.press()
        await pilot.pause()
        shown = [t for t in texts(again) if t.startswith("› question")]
        assert shown == [f"› question {n}" for n in range(31 - 2 * again.RESUME_TURNS, 31)]  # in order
        while again.query("#earlier"):
            again.query_one("#earlier", Button).press()
            await pilot.pause()
        assert [t for t in texts(again) if t.startswith("› question")] == [f"› question {n}" for n in range(1, 31)]
        assert again.focused is again.query_one("#prompt")
