"""The keyboard does everything (issue 23, items 4 and 6): input history, scrolling, a multi-line
request, copying text, and a spinner while the planner or a model loads."""

from langchain_core.messages import AIMessage, HumanMessage
from textual.widgets import Button, Static

from tests.test_tui import app_factory, submit, texts, wait_for  # noqa: F401 - fixtures
from tui import ComposeScreen, PromptInput, ToolCard


async def test_up_and_down_walk_the_sessions_requests(app_factory):  # noqa: F811
    app = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        prompt = app.query_one("#prompt", PromptInput)
        for text in ("hello", "how are you"):
            await submit(pilot, app, text)
            await wait_for(pilot, lambda: not app.busy)
        await pilot.press("up")
        assert prompt.value == "how are you"
        await pilot.press("up")
        assert prompt.value == "hello"
        await pilot.press("up")  # the oldest stays
        assert prompt.value == "hello"
        await pilot.press("down")
        assert prompt.value == "how are you"
        await pilot.press("down")
        assert prompt.value == ""
        prompt.value = "half a thought"
        await pilot.press("up")  # typed text is never replaced
        assert prompt.value == "half a thought"
        sid = app.session_id
    again = app_factory(sid)
    async with again.run_test(size=(100, 30)) as pilot:  # the history is the session's, kept
        await wait_for(pilot, lambda: any("Resumed" in t for t in texts(again)))
        await pilot.pause()
        await pilot.press("up")
        assert again.query_one("#prompt", PromptInput).value == "how are you"


async def test_page_keys_and_home_end_scroll_the_transcript(app_factory):  # noqa: F811
    app = app_factory()
    sid = app.store.create(title="Long").id
    for turn in range(1, 9):
        app.store.add_message(sid, turn, HumanMessage(f"question {turn}"))
        app.store.add_message(sid, turn, AIMessage("\n\n".join(f"answer {turn}, paragraph {i}" for i in range(6))))
    again = app_factory(sid)
    async with again.run_test(size=(80, 20)) as pilot:
        await wait_for(pilot, lambda: any("question 8" in t for t in texts(again)))
        log = again.query_one("#log")
        await pilot.pause(0.2)
        assert log.max_scroll_y > 20 and log.scroll_y == log.max_scroll_y  # opened at the end
        await pilot.press("pageup")
        await pilot.pause()
        assert log.scroll_y < log.max_scroll_y
        await pilot.press("home")  # the prompt is empty: Home goes to the top
        await pilot.pause()
        assert log.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert log.scroll_y > 0
        await pilot.press("end")
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y
        prompt = again.query_one("#prompt", PromptInput)
        prompt.value = "abc"
        await pilot.press("home")  # with text typed, Home moves the cursor and the transcript stays
        await pilot.pause()
        assert prompt.cursor_position == 0 and log.scroll_y == log.max_scroll_y
        assert again.focused is prompt


async def test_f2_sends_a_multi_line_request(app_factory):  # noqa: F811
    app = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, ComposeScreen)
        area = app.screen.query_one("#long")
        area.insert("hello\nand a second line")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ComposeScreen) and not app.busy)
        assert any(t.startswith("› hello\nand a second line") for t in texts(app))
        assert app.focused is app.query_one("#prompt")


async def test_copy_text_of_a_poem_and_of_an_answer(app_factory):  # noqa: F811
    app = app_factory()
    async with app.run_test(size=(110, 50)) as pilot:
        await submit(pilot, app, "a haiku about autumn rain")
        await wait_for(pilot, lambda: app.cards and not app.busy)
        card = next(iter(app.cards.values()))
        await pilot.pause()
        copied = app.store.data_dir / "copied.txt"
        next(b for b in card.query(Button) if b.name == "text").press()
        await wait_for(pilot, copied.exists)
        lines = copied.read_text().splitlines()
        assert lines[0] == card.view.title and lines[2:] == card.view.lines and len(card.view.lines) == 3
        assert app.focused is app.query_one("#prompt")
        await submit(pilot, app, "hello")
        await wait_for(pilot, lambda: not app.busy)
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert copied.read_text() == app.last_answer.strip() and app.last_answer.strip()


async def test_a_spinner_says_who_is_planning_until_the_plan_is_made(app_factory):  # noqa: F811
    app = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        app._request("2 bars of music in E minor")
        assert app.spinner is not None and "planning with router…" in str(app.spinner.render())
        frame = str(app.spinner.render())[0]
        await pilot.pause(0.35)
        assert app.spinner is None or str(app.spinner.render())[0] != frame  # it turns
        await wait_for(pilot, lambda: app.cards and not app.busy)
        assert app.spinner is None and any(t == "planned by router" for t in texts(app))
        card = next(iter(app.cards.values()))
        card.progress(0, 0, "", "loading music model (first use)")  # a model loading: the card spins
        app._spin()
        assert "loading music model (first use)…" in str(card.query_one(".status", Static).render())
        assert isinstance(card, ToolCard)


async def test_tab_from_the_prompt_reaches_the_newest_results_buttons(app_factory):  # noqa: F811
    app = app_factory()
    async with app.run_test(size=(110, 50)) as pilot:
        for text in ("2 bars of music in E minor", "2 bars of music in A minor"):
            await submit(pilot, app, text)
            await wait_for(pilot, lambda: not app.busy and all(c.artifact for c in app.cards.values()))
        await pilot.pause()
        newest = list(app.cards.values())[-1]
        await pilot.press("tab")
        assert isinstance(app.focused, Button) and newest in app.focused.ancestors
        assert app.focused.name == "open"
        await pilot.press("tab")
        assert app.focused.name == "copy" and newest in app.focused.ancestors
        await pilot.press("enter")  # Copy path: pressed, and the keys go back to the prompt
        await pilot.pause()
        assert app.focused is app.query_one("#prompt")
