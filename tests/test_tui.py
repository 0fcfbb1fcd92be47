"""Pilot tests of the chat: a request to a finished music result, cancel, queue, markup safety."""

import time
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from tui import ToolCard, clean, make_app


@pytest.fixture
def app_factory(tiny_weights, tmp_path):
    from agent.config import Config

    cfg = Config(data_dir=tmp_path / "data", weights_dir=tiny_weights, threads=1)
    return lambda session=None: make_app(cfg, session)


async def wait_for(pilot, predicate, timeout=60.0):
    t = time.monotonic()
    while not predicate():
        if time.monotonic() - t > timeout:
            raise AssertionError("timed out waiting for the UI")
        await pilot.pause(0.05)


async def submit(pilot, app, text):
    app.query_one("#prompt", Input).value = text
    await pilot.press("enter")


def texts(app, selector="Static"):
    return [str(w.render()) for w in app.query(selector)]


async def test_request_to_finished_music(app_factory):
    app = app_factory()
    async with app.run_test(size=(110, 40)) as pilot:
        await submit(pilot, app, "4 bars of calm music in D minor for flute")
        await wait_for(pilot, lambda: app.cards and not app.busy)
        card = next(iter(app.cards.values()))
        result = str(card.query_one(".result", Static).render())
        assert "Composed 4 bars in D minor" in result and "flute" in result
        assert "midi:" in result and ".mid" in result
        assert "round 0: quality" in str(card.query_one(".rounds", Static).render())
        assert "│" in str(card.query_one(".roll", Static).render())  # the piano roll in text cells
        status = str(app.query_one("#status", Static).render())
        assert "planner: router" in status and "models: music " in status
        assert app.session_id is not None


async def test_poem_card_shows_title_and_scansion_gutter(app_factory):
    app = app_factory()
    async with app.run_test(size=(110, 50)) as pilot:
        await submit(pilot, app, "a limerick about a cat who sailed to sea")
        await wait_for(pilot, lambda: app.cards and not app.busy)
        card = next(iter(app.cards.values()))
        roll = str(card.query_one(".roll", Static).render()).splitlines()
        assert len(roll) == 6  # title + five lines
        letters = [ln.split("│")[0].split()[1] for ln in roll[1:]]
        assert letters == list("AABBA")
        assert all(int(ln.split()[0]) in (5, 6, 8, 9) for ln in roll[1:])
        assert "Wrote a limerick" in str(card.query_one(".result", Static).render())


async def test_escape_cancels_a_running_tool_and_the_next_request_works(tiny_weights, tmp_path):
    from agent.app import make_agent
    from agent.config import Config
    from agent.session import SessionStore
    from tui import StudioApp

    cfg = Config(data_dir=tmp_path / "data", weights_dir=tiny_weights, threads=1)

    from tests.tiny import slow_music

    sampled: list[int] = []
    app = StudioApp(lambda store: slow_music(make_agent(cfg, store=store), bars_sampled=sampled),
                    SessionStore(cfg.data_dir))
    async with app.run_test(size=(110, 40)) as pilot:
        await submit(pilot, app, "128 bars of music in C major")
        await wait_for(pilot, lambda: app.cards and "bars" in str(next(iter(app.cards.values())).query_one(".status", Static).render()))
        at_escape = len(sampled)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.busy, timeout=10)
        # the sampler stopped mid-piece, long before its 128 bars (counted in bars, not seconds)
        assert len(sampled) < 64, (at_escape, len(sampled))
        card = next(iter(app.cards.values()))
        assert str(card.query_one(".result", Static).render()) == "cancelled"
        await submit(pilot, app, "2 bars of music in G major")
        await wait_for(pilot, lambda: len(app.cards) == 2 and not app.busy)
        assert "Composed 2 bars" in str(list(app.cards.values())[1].query_one(".result", Static).render())


async def test_requests_typed_while_busy_are_queued(tiny_weights, tmp_path):
    import threading

    from agent.app import make_agent
    from agent.config import Config
    from tui import StudioApp

    gate = threading.Event()

    class Gated:
        """The real agent, held at the start of each turn until the test opens the gate."""

        def __init__(self, agent):
            self._agent = agent

        def __getattr__(self, name):
            return getattr(self._agent, name)

        def run(self, *a, **k):
            gate.wait(30)
            yield from self._agent.run(*a, **k)

    from agent.session import SessionStore

    cfg = Config(data_dir=tmp_path / "data", weights_dir=tiny_weights, threads=1)
    app = StudioApp(lambda store: Gated(make_agent(cfg, store=store)), SessionStore(cfg.data_dir))
    async with app.run_test(size=(110, 40)) as pilot:
        await submit(pilot, app, "2 bars of music in A minor")
        await submit(pilot, app, "2 bars of music in F major")
        assert any("queued (1 waiting)" in t for t in texts(app)), texts(app)
        gate.set()
        await wait_for(pilot, lambda: len(app.cards) == 2 and not app.busy)
        results = [str(c.query_one(".result", Static).render()) for c in app.cards.values()]
        assert "A minor" in results[0] and "F major" in results[1]


async def test_markup_and_escape_sequences_are_shown_literally(app_factory):
    app = app_factory()
    async with app.run_test(size=(110, 40)) as pilot:
        hostile = "[bold red]not bold[/] [link=file:///etc/passwd]x[/link] \x1b[31mred\x1b[0m [@click=app.quit]q[/]"
        await submit(pilot, app, hostile)
        await wait_for(pilot, lambda: not app.busy)
        shown = "\n".join(texts(app))
        assert "› [bold red]not bold[/] [link=file:///etc/passwd]x[/link] red [@click=app.quit]q[/]" in shown
        assert "\x1b" not in shown
        assert app.is_running


async def test_resume_shows_the_stored_session(app_factory):
    app = app_factory()
    async with app.run_test(size=(110, 40)) as pilot:
        await submit(pilot, app, "2 bars of music in E minor")
        await wait_for(pilot, lambda: app.cards and not app.busy)
        sid = app.session_id
    again = app_factory(sid)
    async with again.run_test(size=(110, 40)) as pilot:
        await wait_for(pilot, lambda: any("Resumed" in t for t in texts(again)))
        await wait_for(pilot, lambda: any("Composed 2 bars in E minor" in t for t in texts(again)))  # its card


def test_clean_strips_controls_but_keeps_text():
    assert clean("a\x1b[2Jb\x07c\x1b]0;title\x07d\n\te") == "abcd\n\te"


async def test_palette_sessions_rename_switch_delete_export(app_factory):
    app = app_factory()
    async with app.run_test(size=(110, 40)) as pilot:
        await submit(pilot, app, "2 bars of music in C major")
        await wait_for(pilot, lambda: app.cards and not app.busy)
        first = app.session_id
        assert app.store.get(first).title == "2 bars of music in C major"
        # rename through the palette
        app._rename()
        await pilot.pause()
        app.screen.query_one("#answer", Input).value = "Morning sketches"
        await pilot.press("enter")
        await pilot.pause()
        assert app.store.get(first).title == "Morning sketches"
        # new session, then a request in it
        app.switch_session(None)
        await submit(pilot, app, "2 bars of music in D minor")
        await wait_for(pilot, lambda: app.cards and not app.busy)
        second = app.session_id
        assert second != first and len(app.store.list()) == 2
        # the sidebar lists both; picking the first resumes it
        await pilot.press("ctrl+b")
        assert app.query_one("#sessions").has_class("shown")
        app.switch_session(first)
        await pilot.pause()
        assert any("Resumed “Morning sketches”" in t for t in texts(app))
        # export in a worker; the bundle lands in the data dir
        app._export()
        await wait_for(pilot, lambda: (app.store.data_dir / "exports" / first / "manifest.json").exists())
        # delete asks first: "n" keeps it, "y" deletes
        app._delete()
        await pilot.pause()
        app.screen.query_one("#answer", Input).value = "n"
        await pilot.press("enter")
        await pilot.pause()
        assert first in [s.id for s in app.store.list()]
        app._delete()
        await pilot.pause()
        app.screen.query_one("#answer", Input).value = "y"
        await pilot.press("enter")
        await pilot.pause()
        assert [s.id for s in app.store.list()] == [second] and app.session_id is None


async def test_palette_lists_the_studio_commands_and_help_opens(app_factory):
    app = app_factory()
    async with app.run_test(size=(110, 40)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for t in ("New session", "Switch session", "Rename session", "Delete session", "Export bundle",
                  "Toggle novelty target", "Show logs", "Help", "Theme", "Switch planner"):
            assert t in titles
        await pilot.press("f1")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        app._toggle_novelty()
        assert "novelty: bold" in str(app.query_one("#status", Static).render())
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert "CommandPalette" in type(app.screen).__name__


async def test_bold_novelty_revises_more(app_factory):
    app = app_factory()
    async with app.run_test(size=(110, 40)) as pilot:
        app._toggle_novelty()
        await submit(pilot, app, "2 bars of music in A minor")
        await wait_for(pilot, lambda: app.cards and not app.busy)
        art = app.store.artifacts(app.session_id)[0]
        assert art.revision["direction"] == "more_novel" and art.revision["max_rounds"] == 3


async def test_slash_brief_runs_a_brief_and_save_brief_writes_one(app_factory, tmp_path):
    from agent.brief import load_brief

    brief = tmp_path / "in.yaml"
    brief.write_text("turns:\n  - 2 bars of music in C major\n  - 2 bars of music in A minor\n")
    app = app_factory()
    async with app.run_test(size=(110, 40)) as pilot:
        await submit(pilot, app, f"/brief {brief}")
        await wait_for(pilot, lambda: len(app.cards) == 2 and not app.busy)
        out = tmp_path / "out.yaml"
        await submit(pilot, app, f"/save-brief {out}")
        await pilot.pause()
        assert load_brief(out).turns == ("2 bars of music in C major", "2 bars of music in A minor")
        await submit(pilot, app, f"/brief {tmp_path / 'missing.yaml'}")  # a clear toast, nothing runs
        await pilot.pause()
        assert not app.busy and len(app.cards) == 2


def test_half_block_picture(tmp_path):
    from PIL import Image

    from tui import half_blocks

    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (0, 10, 40, 20))
    im.save(tmp_path / "p.png")
    t = half_blocks(tmp_path / "p.png", 20)
    rows = t.plain.splitlines()
    assert len(rows) == 5 and all(r == "▀" * 20 for r in rows)
    styles = {str(s.style) for s in t.spans}
    assert "rgb(255,0,0) on rgb(255,0,0)" in styles and "rgb(0,0,255) on rgb(0,0,255)" in styles


@pytest.mark.parametrize("graphics", [False, True])
async def test_image_card_uses_terminal_graphics_when_there_are_any(tmp_path, graphics):
    """With a graphics terminal the card mounts textual-image's widget; otherwise half-blocks."""
    from PIL import Image
    from textual.app import App

    im = Image.new("RGB", (64, 64), (0, 160, 0))
    im.save(tmp_path / "p.png")

    class One(App):
        def compose(self):
            yield ToolCard("generate_image", {"prompt": "a green square"})

    app = One()
    if graphics:
        from textual_image.widget import HalfcellImage

        app.graphics_image = HalfcellImage
    async with app.run_test(size=(80, 40)) as pilot:
        card = app.query_one(ToolCard)
        card.show_image(tmp_path / "p.png", 24)
        await pilot.pause()
        pictures = list(card.query(".picture"))
        roll = str(card.query_one(".roll", Static).render())
        if graphics:
            assert len(pictures) == 1 and "▀" not in roll
            assert pictures[0].region.width == 24 and pictures[0].region.height > 0
        else:
            assert not pictures and roll.count("▀") == 24 * 12


async def test_finished_card_actions_copy_revise_and_play(app_factory, tmp_path):
    """Each artifact has Open / Copy path / Play (music) / Revise / Export buttons; Revise asks
    for a less conventional version of that kind, which runs as the next request."""
    app = app_factory()
    copied = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=(110, 50)) as pilot:
        await submit(pilot, app, "4 bars of calm music in D minor for flute")
        await wait_for(pilot, lambda: app.cards and not app.busy)
        card = next(iter(app.cards.values()))
        await pilot.pause()
        buttons = {b.name: b for b in card.query("Button")}
        assert list(buttons) == ["open", "copy", "play", "revise", "export"]
        buttons["copy"].press()
        await pilot.pause()
        assert copied and copied[0].endswith(".mid") and Path(copied[0]).exists()
        buttons["play"].press()  # no FluidSynth here: a notice says what to install
        await pilot.pause()
        buttons["revise"].press()
        await wait_for(pilot, lambda: len(app.cards) == 2 and not app.busy)
        second = list(app.cards.values())[1]
        assert len(second.novelty) >= 2 and second.query_one("Sparkline").has_class("shown")
        assert "make the music less conventional" in " ".join(texts(app, ".user"))


async def test_keymap_file_rebinds_and_a_bad_one_is_reported(tiny_weights, tmp_path):
    from agent.config import Config

    data = tmp_path / "data"
    data.mkdir()
    (data / "keymap.yaml").write_text("help: f3\n")  # the file from before settings.yaml: still read
    app = make_app(Config(data_dir=data, weights_dir=tiny_weights, threads=1))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
    (data / "keymap.yaml").write_text("hlep: f3\n")
    app = make_app(Config(data_dir=data, weights_dir=tiny_weights, threads=1))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert any("unknown binding 'hlep'" in str(n.message) for n in app._notifications)
        await pilot.press("f1")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"


async def test_palette_switches_the_planner(app_factory, tmp_path):
    from tests.tiny import make_tiny_chat_model

    model = make_tiny_chat_model(tmp_path / "qwen")
    app = app_factory()
    async with app.run_test(size=(110, 40)) as pilot:
        assert "Switch planner" in [c.title for c in app.get_system_commands(app.screen)]
        app.set_planner("nonsense")  # a bad spec: one error toast, the router stays
        await wait_for(pilot, lambda: any("unknown planner" in str(n.message) for n in app._notifications))
        assert app.planner_name == "router"
        app.set_planner(f"hf:{model}")
        await wait_for(pilot, lambda: app.planner_name == f"hf:{model}")
        assert f"planner: hf:{model}" in str(app.query_one("#status", Static).render())
        assert app.settings.planner == f"hf:{model}"
        assert app._get_agent().planners(app.settings.planner).name == f"hf:{model}"


async def test_settings_reach_the_tool_call_as_arguments(app_factory, monkeypatch):
    """Novelty target, threads and planner switched from the palette arrive in the tool call's
    context: passed down with the turn, not poked onto the agent."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    import tools.compose_music as tool
    from agent import planner as planners

    seen = []
    real = tool.run
    monkeypatch.setattr(tool, "run", lambda args, ctx: seen.append(ctx.settings) or real(args, ctx))
    real_make = planners.make_planner

    def make(spec, encoder, tools=None):  # "scripted": a planner that always asks for 4 bars in G
        if spec != "scripted":
            return real_make(spec, encoder, tools)
        call = AIMessage("", tool_calls=[{"name": "compose_music", "args": {"bars": 4, "key": "G major"}, "id": "x"}])
        return planners.Planner("scripted", GenericFakeChatModel(messages=iter([call] * 4)))

    monkeypatch.setattr(planners, "make_planner", make)
    app = app_factory()
    async with app.run_test(size=(110, 40)) as pilot:
        await submit(pilot, app, "4 bars of calm music in D minor")
        await wait_for(pilot, lambda: len(seen) == 1 and not app.busy)
        for title, answer in (("Toggle novelty target", None), ("Threads", "2")):
            await pilot.press("ctrl+p")
            await pilot.press(*title)
            await pilot.pause(0.3)
            await pilot.press("enter")
            if answer:
                await wait_for(pilot, lambda: type(app.screen).__name__ == "AskScreen")
                app.screen.query_one(Input).value = answer
                await pilot.press("enter")
            await pilot.pause(0.2)
        app.set_planner("scripted")
        await wait_for(pilot, lambda: app.settings.planner == "scripted")
        agent = app._get_agent()
        await submit(pilot, app, "something in G, please")
        await wait_for(pilot, lambda: len(seen) == 2 and not app.busy)
    assert (seen[0].novelty, seen[0].threads, seen[0].planner) == ("default", 1, "router")
    assert (seen[1].novelty, seen[1].threads, seen[1].planner) == ("bold", 2, "scripted")
    assert agent.settings.novelty == "default" and agent.settings.planner == "router"  # the agent's own: untouched


async def test_progress_shows_elapsed_and_eta(tmp_path):
    from textual.app import App

    class One(App):
        def compose(self):
            yield ToolCard("compose_music", {"bars": 8})

    app = One()
    async with app.run_test(size=(80, 20)) as pilot:
        card = app.query_one(ToolCard)
        card.started = time.monotonic() - 10.0
        card.progress(5, 10, "bars", "round 0")
        await pilot.pause()
        status = str(card.query_one(".status", Static).render())
        assert status.startswith("round 0: 5/10 bars · 10.") and "about 10s left" in status
        card.progress(0, 0, "", "loading the poet (first use)")  # a model loading: no count, no ETA
        await pilot.pause()
        assert str(card.query_one(".status", Static).render()) == "⠋ loading the poet (first use)…"  # spinning


async def test_planner_answers_are_markdown_and_hostile_markup_stays_text(app_factory):
    from textual.widgets import Markdown

    app = app_factory()
    async with app.run_test(size=(110, 40)) as pilot:
        await submit(pilot, app, "hello there [bold]x[/bold]")
        await wait_for(pilot, lambda: not app.busy and app.query(Markdown))
        md = app.query(Markdown).last()
        assert "I can write poems" in md.source and md.has_class("answer")
        assert app.is_running


async def test_palette_switches_the_poet_model(app_factory, tmp_path):
    from tests.tiny import make_tiny_chat_model

    model = make_tiny_chat_model(tmp_path / "qwen")
    app = app_factory()
    async with app.run_test(size=(110, 40)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Switch poet model" in titles and "Switch picture model" in titles
        app.set_model("poet", f"hf:{tmp_path}/nothing")  # one toast, the poet stays as it was
        await wait_for(pilot, lambda: any("cannot load poet" in str(n.message) for n in app._notifications))
        app.set_model("image", "sd:/no/such/model")
        await wait_for(pilot, lambda: len(app._notifications) >= 2)
        app.set_model("poet", f"hf:{model}")
        await wait_for(pilot, lambda: f"poet hf:{model}" in str(app.query_one("#status", Static).render()))
        await submit(pilot, app, "a haiku about rain")
        await wait_for(pilot, lambda: app.cards and not app.busy)
        assert "Wrote a haiku" in str(next(iter(app.cards.values())).query_one(".result", Static).render())


async def test_streamed_answer_is_drawn_on_a_timer_and_becomes_the_final_one(app_factory):
    """200 words arriving as fast as they can are drawn a handful of times, not 200; typing
    meanwhile is not held up; the final answer replaces the streamed text in the same widget."""
    from textual.widgets import Markdown

    from agent import events as ev
    from tui import AgentEvent

    app = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        app.busy = True
        for i in range(200):
            app.post_message(AgentEvent(ev.TextDelta(f"word{i} "), 7))
        await pilot.press("h", "i")
        await pilot.pause(0.3)
        assert app.query_one("#prompt", Input).value == "hi"
        md = app.query(Markdown).last()
        assert md.source.startswith("word0 word1") and md.source.rstrip().endswith("word199")
        assert 1 <= app.stream_repaints <= 10
        app.post_message(AgentEvent(ev.Final("All **done**.", ()), 7))
        app.post_message(AgentEvent(None, 7))
        await pilot.pause(0.2)
        assert app.query(Markdown).last() is md and md.source == "All **done**." and not app.busy


async def test_the_theme_and_keys_live_in_one_settings_file(tiny_weights, tmp_path):
    from agent.config import Config

    data = tmp_path / "data"
    data.mkdir()
    settings = data / "settings.yaml"
    settings.write_text("# my settings\nkeys:\n  help: f3\n")
    app = make_app(Config(data_dir=data, weights_dir=tiny_weights, threads=1))
    async with app.run_test(size=(100, 30)) as pilot:
        app.theme = "nord"  # what Ctrl+P -> Theme does
        await pilot.pause()
        await pilot.press("f3")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
    assert settings.read_text() == "# my settings\nkeys:\n  help: f3\ntheme: nord\n"  # the person's lines kept
    app = make_app(Config(data_dir=data, weights_dir=tiny_weights, threads=1))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "nord"  # remembered
    settings.write_text("theme: no-such-theme\n")
    app = make_app(Config(data_dir=data, weights_dir=tiny_weights, threads=1))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert any("unknown theme 'no-such-theme'" in str(n.message) for n in app._notifications)
        assert app.theme != "no-such-theme" and app.is_running
    assert settings.read_text() == "theme: no-such-theme\n"  # a bad file is reported, not rewritten


def test_piano_roll_parts_have_their_own_colours():
    from tui import roll_text

    text = roll_text("C4 │█▓▒░\x1b[2J│")
    assert text.plain == "C4 │█▓▒░│"  # escape sequences dropped
    colour = {text.plain[s.start]: str(s.style) for s in text.spans}
    assert len({colour[g] for g in "█▓▒░"}) == 4 and colour["│"] == "dim cyan"
