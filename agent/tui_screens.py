"""The chat's prompt line and its modal screens (multi-line request, help, a question)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Markdown, Static

from agent.tui_cards import plain


class PromptInput(Input):
    """The prompt. Up/Down on an empty prompt (and while walking) recall this session's earlier
    requests; PageUp/PageDown, Ctrl+Home/Ctrl+End, and Home/End on an empty prompt scroll the
    transcript (with text typed, Home/End move the cursor as usual)."""

    BINDINGS = [
        Binding("up", "recall(-1)", "Earlier request", show=False),
        Binding("down", "recall(1)", "Later request", show=False),
        Binding("pageup", "scroll_log('page_up')", "Scroll up", show=False),
        Binding("pagedown", "scroll_log('page_down')", "Scroll down", show=False),
        Binding("ctrl+home", "scroll_log('home')", "Top", show=False),
        Binding("ctrl+end", "scroll_log('end')", "Bottom", show=False),
        Binding("tab", "into_cards", "Into the cards", show=False),
    ]

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.history: list[str] = []  # the session's requests, oldest first
        self._walk: int | None = None  # the recalled request's index while walking

    def action_recall(self, step: int) -> None:
        walking = self._walk is not None and self.value == self.history[self._walk]
        if not self.history or (self.value and not walking):
            return  # typed text is never replaced
        i = (len(self.history) if not walking else self._walk) + step
        if i >= len(self.history):
            self._walk, self.value = None, ""
            return
        self._walk = max(0, i)
        self.value = self.history[self._walk]
        self.cursor_position = len(self.value)

    def action_into_cards(self) -> None:
        """Tab from the prompt reaches the newest result's buttons (the ones just above it), not
        the oldest card's; from there Tab and Shift+Tab move as usual."""
        buttons = [b for b in self.app.query("ToolCard .actions Button") if b.display]
        if buttons:
            newest = buttons[-1].parent
            first = next(b for b in buttons if b.parent is newest)
            first.focus()
            first.scroll_visible(animate=False)
        else:
            self.app.action_focus_next()

    def action_scroll_log(self, where: str) -> None:
        log = self.app.query_one("#log", VerticalScroll)
        {"page_up": log.scroll_page_up, "page_down": log.scroll_page_down,
         "home": log.scroll_home, "end": log.scroll_end}[where](animate=False)

    def action_home(self, select: bool = False) -> None:
        if not self.value:
            self.action_scroll_log("home")
        else:
            super().action_home(select)

    def action_end(self, select: bool = False) -> None:
        if not self.value:
            self.action_scroll_log("end")
        else:
            super().action_end(select)


class ComposeScreen(ModalScreen[str]):
    """A multi-line request (a long brief, several requests at once): Ctrl+S sends, Esc cancels."""

    BINDINGS = [Binding("ctrl+s", "send", "Send"), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ComposeScreen { align: center middle; }
    ComposeScreen > Vertical { width: 90%; max-width: 100; height: auto; border: round $accent; background: $panel; padding: 0 1; }
    ComposeScreen TextArea { height: 12; }
    """

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        from textual.widgets import TextArea

        with Vertical():
            yield Label("A longer request — Ctrl+S sends, Esc cancels")
            yield TextArea(self.text, id="long", soft_wrap=True)

    def on_mount(self) -> None:
        self.query_one("#long").focus()

    def action_send(self) -> None:
        self.dismiss(self.query_one("#long").text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,f1,q", "app.pop_screen", "Close")]
    DEFAULT_CSS = "HelpScreen { align: center middle; } HelpScreen > Markdown { width: 80; height: auto; border: round $accent; padding: 1 2; background: $panel; }"

    def compose(self) -> ComposeResult:
        from agent.prompts import CHAT_HELP

        yield Markdown(CHAT_HELP)


class AskScreen(ModalScreen[str]):
    """One line of input (rename) or a yes/no question (delete); dismisses with the answer."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = "AskScreen { align: center middle; } AskScreen > Vertical { width: 70; height: auto; border: round $accent; padding: 1 2; background: $panel; }"

    def __init__(self, question: str, value: str | None = None) -> None:
        super().__init__()
        self.question, self.value = question, value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(self.question))
            yield Input(value=self.value or "", id="answer", placeholder="type y and Enter" if self.value is None else "")

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    @on(Input.Submitted, "#answer")
    def answered(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss("")
