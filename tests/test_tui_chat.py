"""Pilot tests of the chat basics (issue 23): the palette's session switch, focus after a button,
cancel and quit with a queue, which round is marked kept, and the bundle's index.html."""

import io
import json
import time

from textual.widgets import Button, Input, Static

from tests.test_tui import app_factory, submit, texts, wait_for  # noqa: F401 - app_factory is a fixture

BRIEF = """title: Rain set
seed: 3
turns:
  - Write a haiku about autumn rain.
  - Compose 4 bars of slow piano music in D minor.
"""


class Timed:
    """The real agent, noting when each turn it runs starts and ends (the worker thread's life)."""

    def __init__(self, agent, turns):
        self._agent, self.turns = agent, turns

    def __getattr__(self, name):
        return getattr(self._agent, name)

    def run(self, *a, **k):
        span = [time.monotonic(), None]
        self.turns.append(span)
        try:
            yield from self._agent.run(*a, **k)
        finally:
            span[1] = time.monotonic()


def slow_app(tiny_weights, tmp_path, seconds_per_bar=0.05, turns=None):
    """The chat on the real agent whose music sampler pauses at every bar."""
    from agent.app import make_agent
    from agent.config import Config
    from agent.session import SessionStore
    from tests.tiny import slow_music
    from tui import StudioApp

    cfg = Config(data_dir=tmp_path / "data", weights_dir=tiny_weights, threads=1)
    turns = [] if turns is None else turns
    return StudioApp(lambda store: Timed(slow_music(make_agent(cfg, store=store), seconds_per_bar), turns),
                     SessionStore(cfg.data_dir))


def status_of(card) -> str:
    return str(card.query_one(".status", Static).render())


# ---- 1. Ctrl+P → Switch session ------------------------------------------------------------------
async def test_palette_switch_session_picks_another_and_the_app_keeps_running(app_factory):
    first = app_factory()
    first.store.create("Autumn set", session_id="autumn-set")
    first.store.create("Jigs and reels", session_id="jigs")
    first.store.create("[/] notes [@click=app.quit]q", session_id="odd")  # a title is text, never markup
    app = app_factory("autumn-set")
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"Switch session")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "CommandPalette" in type(app.screen).__name__, timeout=5)
        await pilot.press(*"Jigs")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session_id == "jigs", timeout=5)
        assert app.is_running
        assert any("Resumed “Jigs and reels”" in t for t in texts(app))
        assert app.focused is app.query_one("#prompt", Input)


# ---- 2. focus returns to the prompt --------------------------------------------------------------
async def test_after_a_card_button_the_next_typed_request_runs(app_factory):
    app = app_factory()
    copied = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=(110, 50)) as pilot:
        await submit(pilot, app, "2 bars of music in C major")
        await wait_for(pilot, lambda: app.cards and not app.busy)
        await pilot.pause()
        prompt = app.query_one("#prompt", Input)
        card = next(iter(app.cards.values()))
        buttons = {b.name: b for b in card.query(Button)}
        await pilot.click(buttons["copy"])  # the mouse focuses the button, then presses it
        await pilot.pause()
        assert len(copied) == 1 and app.focused is prompt
        buttons["copy"].focus()  # the keyboard: Tab into the card, Enter presses
        await pilot.pause()
        from textual.color import Color

        assert buttons["copy"].styles.background == Color.parse(app.theme_variables["accent"])  # clearly shown
        await pilot.press("enter")
        await pilot.pause()
        assert len(copied) == 2 and app.focused is prompt
        await pilot.press(*"2 bars of music in G major", "enter")
        await wait_for(pilot, lambda: len(app.cards) == 2 and not app.busy)
        assert len(copied) == 2  # Enter sent the request; it did not press Copy again
        assert "G major" in str(list(app.cards.values())[1].query_one(".result", Static).render())


async def test_after_a_palette_action_focus_is_on_the_prompt(app_factory):
    app = app_factory()
    async with app.run_test(size=(110, 40)) as pilot:
        await submit(pilot, app, "2 bars of music in C major")
        await wait_for(pilot, lambda: app.cards and not app.busy)
        await pilot.pause()
        next(iter(app.cards.values())).query(Button).first().focus()  # the person Tabbed into a card
        await pilot.pause()
        await pilot.press("ctrl+p", *"Toggle novelty")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.settings.novelty == "bold"
        assert app.focused is app.query_one("#prompt", Input)


# ---- 3. Escape with a queue, Ctrl+Q while a job runs -------------------------------------------------
async def test_escape_cancels_and_says_what_happened_to_the_queue(tiny_weights, tmp_path):
    app = slow_app(tiny_weights, tmp_path)
    async with app.run_test(size=(110, 40)) as pilot:
        await submit(pilot, app, "128 bars of music in C major")
        await submit(pilot, app, "2 bars of music in G major")
        await submit(pilot, app, "2 bars of music in A minor")
        assert any("queued (2 waiting)" in t for t in texts(app))
        await wait_for(pilot, lambda: app.cards and "bars" in status_of(next(iter(app.cards.values()))))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.busy, timeout=10)
        await pilot.pause(0.3)
        shown = texts(app)
        assert any("2 queued requests dropped" in t for t in shown), shown
        assert not any(t.startswith("queued (") for t in shown), shown  # no label still says it waits
        assert len(app.cards) == 1 and not app.queue  # the dropped requests did not run
        assert status_of(next(iter(app.cards.values()))).startswith("cancelled after ")


async def test_ctrl_q_while_a_job_runs_cancels_it_and_exits_promptly(tiny_weights, tmp_path):
    """Quit with a request running and one queued: the running one stops at its next step (a bar
    here), the queued one never starts, and the worker thread (which the process waits for on its
    way out) ends at once: not a minute of blank screen while it goes on."""
    import asyncio

    turns = []
    app = slow_app(tiny_weights, tmp_path, seconds_per_bar=0.5, turns=turns)  # 128 bars: a minute if not stopped
    async with app.run_test(size=(110, 40)) as pilot:
        await submit(pilot, app, "128 bars of music in C major")
        await submit(pilot, app, "2 bars of music in G major")
        await wait_for(pilot, lambda: app.cards and "bars" in status_of(next(iter(app.cards.values()))))
        t = time.monotonic()
        await pilot.press("ctrl+q")
    deadline = time.monotonic() + 20
    while any(end is None for _, end in turns) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert len(turns) == 1, "the queued request started while quitting"
    assert turns[0][1] is not None and turns[0][1] - t < 2.0


# ---- 4. only the kept round is marked kept; cancelled/failed cards; help and placeholder ---------------
def rounds_and_artifact():
    """Round 0 sets the best, round 1 improves on it, round 2 on that, round 3 does not: round 2 is
    kept, round 1 only "improved"."""
    from tools.artifacts import Artifact, RoundRecord, Scores

    recs = [RoundRecord(0, {}, 1, Scores(0.9, 0.6, 0.9), True), RoundRecord(1, {}, 2, Scores(0.9, 0.8, 0.9), True),
            RoundRecord(2, {}, 2, Scores(0.9, 0.9, 0.9), True), RoundRecord(3, {}, 2, Scores(0.9, 0.7, 0.9), False)]
    art = Artifact(kind="music", tool="compose_music", args={"bars": 2}, seed=1, model="tiny", round=2,
                   scores=recs[2].scores, files={}, summary="Composed 2 bars in C major", trajectory=tuple(recs))
    return recs, art


class ViewOnly:
    """An agent that only answers ``view`` (the events are posted by the test)."""

    def view(self, artifact, session_id):
        from tools.views import ArtifactView

        return ArtifactView(files={}, main=None, kind=artifact.kind)


def events_app(tmp_path):
    from agent.session import SessionStore
    from tui import StudioApp

    return StudioApp(lambda store: ViewOnly(), SessionStore(tmp_path / "data"))


async def test_only_the_kept_round_is_marked_kept_in_the_card(tmp_path):
    from agent import events as ev
    from tools.events import Critique, Revision
    from tui import AgentEvent

    recs, art = rounds_and_artifact()
    app = events_app(tmp_path)
    async with app.run_test(size=(110, 40)) as pilot:
        app.busy = True
        app.post_message(AgentEvent(ev.ToolStarted("c0", "compose_music", {"bars": 2}), 1))
        app.post_message(AgentEvent(Critique("c0", recs[0]), 1))
        for r in recs[1:]:
            app.post_message(AgentEvent(Revision("c0", r), 1))
        app.post_message(AgentEvent(ev.ToolFinished("c0", "compose_music", art), 1))
        app.post_message(AgentEvent(None, 1))
        await wait_for(pilot, lambda: not app.busy, timeout=5)
        await pilot.pause()
        card = next(iter(app.cards.values()))
        rounds = str(card.query_one(".rounds", Static).render()).splitlines()
        assert [("kept" in ln) for ln in rounds] == [False, False, True, False], rounds
        assert ["improved" in ln for ln in rounds] == [False, True, False, False], rounds
        assert status_of(card).startswith("finished in ")


async def test_cancelled_and_failed_cards_do_not_say_finished(tmp_path):
    from agent import events as ev
    from tui import AgentEvent

    app = events_app(tmp_path)
    async with app.run_test(size=(110, 40)) as pilot:
        app.busy = True
        for cid in ("a", "b"):
            app.post_message(AgentEvent(ev.ToolStarted(cid, "compose_music", {"bars": 2}), 1))
        app.post_message(AgentEvent(ev.ToolFailed("a", "compose_music", "cancelled", kind="cancelled"), 1))
        app.post_message(AgentEvent(ev.ToolFailed("b", "compose_music", "bars must be 1-256", kind="error"), 1))
        app.post_message(AgentEvent(None, 1))
        await wait_for(pilot, lambda: not app.busy, timeout=5)
        await pilot.pause()
        a, b = app.cards.values()
        assert status_of(a).startswith("cancelled after ") and status_of(b).startswith("failed after ")


async def test_help_describes_poems_and_pictures_and_the_placeholder_names_the_help_key(tiny_weights, tmp_path):
    from textual.widgets import Markdown

    from agent.config import Config
    from tui import make_app

    data = tmp_path / "data"
    data.mkdir()
    (data / "keymap.yaml").write_text("help: f2\n")
    app = make_app(Config(data_dir=data, weights_dir=tiny_weights, threads=1))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        placeholder = app.query_one("#prompt", Input).placeholder
        assert "F2 help" in placeholder and "F1" not in placeholder
        await pilot.press("f2")
        await pilot.pause()
        help_text = app.screen.query_one(Markdown).source
        assert "coming" not in help_text
        assert "haiku" in help_text and "picture of" in help_text


def test_headless_progress_marks_only_the_kept_round():
    from agent import events as ev
    from agent.headless import ProgressPrinter
    from tools.events import Critique, Revision

    recs, art = rounds_and_artifact()
    out = io.StringIO()
    show = ProgressPrinter(out)
    show(Critique("c0", recs[0]))
    for r in recs[1:]:
        show(Revision("c0", r))
    show(ev.ToolFinished("c0", "compose_music", art))
    text = out.getvalue()
    assert text.count("kept") == 1 and "kept round 2" in text, text
    assert ["(improved)" in ln for ln in text.splitlines()[:4]] == [False, True, True, False], text


def test_index_marks_only_the_kept_round(tmp_path):
    from agent.export import render_index

    _, art = rounds_and_artifact()
    page = render_index({"title": "t", "app_version": "0", "artifacts": [{**art.to_dict(), "request": ""}]}, tmp_path)
    rows = [ln for ln in page.splitlines() if ln.startswith("<tr><td>")]
    assert ["✓" in r for r in rows] == [False, False, True, False], rows
    assert ["improved" in r for r in rows] == [False, True, False, False], rows


# ---- 5. index.html: poems as HTML, the header's seed and brief -----------------------------------------
def test_bundle_index_renders_the_poem_as_html(capsys, tmp_path, tiny_weights):
    from agent.cli import main

    brief = tmp_path / "rain.yaml"
    brief.write_text(BRIEF)
    out = tmp_path / "bundle"
    assert main(["--weights", str(tiny_weights), "run", str(brief), "--out", str(out)]) == 0, capsys.readouterr().err
    page = (out / "index.html").read_text(encoding="utf-8")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    poem_md = (out / manifest["artifacts"][0]["path"]).read_text(encoding="utf-8")
    title = next(ln[2:] for ln in poem_md.splitlines() if ln.startswith("# "))
    import html

    assert "---" not in page and "title: " not in page  # no YAML front matter
    assert "|---" not in page and "| # |" not in page and "`" not in page  # no raw Markdown table
    assert f"<h3>{html.escape(title)}</h3>" in page
    assert "<table class='scansion'>" in page and "<th>syllables</th>" in page
    first_line = next(ln for ln in poem_md.split(f"# {title}", 1)[1].splitlines() if ln.strip()).strip()
    assert html.escape(first_line) + "<br>" in page
    assert "seed: 3" in page and "Rain set" in page and html.escape("Write a haiku about autumn rain.") in page

    capsys.readouterr()
    assert main(["sessions"]) == 0
    sid = capsys.readouterr().out.split()[0]
    assert main(["export", sid, "--out", str(tmp_path / "again")]) == 0
    again = (tmp_path / "again" / "index.html").read_text(encoding="utf-8")
    assert "seed:" not in again and "None" not in again  # a chat export has no brief seed: none shown


def test_a_learn_cards_time_left_is_bounded_by_its_time_limit():
    from tui import learn_status

    # 8 of 800 steps in 7 s would be ~690 s more; with --max-seconds 30 it is 23 s, and says why
    assert learn_status(8, 800, 7.0, 30.0) == "step 8/800 · 7 s · about 23 s left (time limit 30 s)"
    assert learn_status(400, 800, 100.0, 600.0) == "step 400/800 · 100 s · about 100 s left (less if it stops early)"
    assert learn_status(8, 800, 7.0).endswith("about 693 s left (less if it stops early)")
    assert "about 0 s left" in learn_status(10, 800, 45.0, 30.0)
