"""Ars Nova's terminal studio (Textual) and the `arsnova` entry point.

The app renders agent events and nothing else: a worker thread iterates ``Agent.run`` and
posts each event to the UI thread; Escape sets the cancel flag the tools check between steps.
Text from models and files is shown as plain ``rich.text.Text`` (never parsed as markup) with
control characters stripped.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.app import SystemCommand
from textual.command import SimpleCommand
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, ListItem, ListView, Markdown, ProgressBar, Sparkline, Static

from agent.terminal import safe_text


def clean(text: str) -> str:
    """Remove escape sequences, control and bidi/zero-width characters (keeps newlines and tabs):
    agent/terminal.py's rule, which the command line's printers share."""
    return safe_text(text, multiline=True, visible=False)


def plain(text: str, style: str = "") -> Text:
    return Text(clean(text), style=style)


def read_small(path: Path, limit: int = 20000) -> str:
    """A settings file, bounded: more than ``limit`` bytes is an error, not a slow start."""
    from models.common.files import read_capped

    return read_capped(path, limit, "settings file").decode("utf-8")


@dataclass
class AgentEvent(Message):
    """An agent event crossing from the worker thread to the UI thread."""

    event: object
    turn_id: int


def _after_compose(method):
    """Run a ToolCard update now if the card is composed, else once it is, in arrival order:
    agent events can overtake the card's own mounting."""
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kw) -> None:
        self._when_ready(lambda: method(self, *args, **kw))

    return wrapper


class ToolCard(Vertical):
    """One tool call: name and arguments, a progress bar, then its critique rounds and result."""

    DEFAULT_CSS = """
    ToolCard { border: round $accent; height: auto; padding: 0 1; margin: 0 0 1 0; }
    ToolCard .title { text-style: bold; }
    ToolCard ProgressBar { width: 100%; }
    ToolCard .rounds { color: $text-muted; }
    ToolCard .roll { margin: 1 0 0 0; }
    ToolCard Sparkline { height: 1; width: 24; display: none; }
    ToolCard Sparkline.shown { display: block; }
    ToolCard .actions { height: auto; margin: 1 0 0 0; layout: grid; grid-size: 7; grid-gutter: 0 1; grid-rows: 1; }
    ToolCard .actions Button { min-width: 0; width: 100%; }
    ToolCard .roll.rows { text-wrap: nowrap; text-overflow: clip; }
    ToolCard .result, ToolCard .title { text-overflow: ellipsis; }
    ToolCard .actions Button:focus { background: $accent; color: $text; text-style: bold; }
    """
    ACTIONS = {"open": "Open", "copy": "Copy path", "text": "Copy text", "play": "Play", "revise": "Revise",
               "export": "Export"}

    def __init__(self, tool: str, args: dict, **kw) -> None:
        super().__init__(**kw)
        self.tool = tool
        self.args = args
        self.started = time.monotonic()
        self.rounds: list = []  # the RoundRecords so far
        self.kept: int | None = None  # the round whose result the artifact is (known when it finishes)
        self.novelty: list[float] = []
        self.artifact = None  # the finished Artifact, for the action buttons
        self.view = None  # what the tools say a screen shows of it (tools.views.ArtifactView)
        self._pending: list = []  # updates that arrived before the card was composed
        self._ready = False
        self.loading: str | None = None  # "loading poet (first use)" while a model loads: the app spins it
        self._rows = None  # width -> the piano roll / half-block picture drawn to fit it (redrawn on resize)

    def on_mount(self) -> None:
        self._ready = True
        pending, self._pending = self._pending, []
        for fn in pending:
            fn()

    def _when_ready(self, fn) -> None:
        if self._ready and not self._pending:
            fn()
        else:
            self._pending.append(fn)

    def compose(self) -> ComposeResult:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        yield Static(plain(f"{self.tool}({args})"), classes="title")
        yield ProgressBar(total=100, show_eta=False, id="bar")
        yield Static("", classes="status")
        yield Static("", classes="rounds")
        yield Sparkline([], summary_function=max)
        yield Static("", classes="roll")
        yield Static("", classes="result")

    @_after_compose
    def progress(self, done: int, total: int, unit: str, stage: str) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(total=max(total, 1), progress=done)
        if total == 0:  # no count yet: a model loading
            self.loading = stage
            self.spin(SPINNER[0])
            return
        self.loading = None
        elapsed = time.monotonic() - self.started
        eta = f" · about {elapsed / done * (total - done):.0f}s left" if 0 < done < total and elapsed > 1 else ""
        self.query_one(".status", Static).update(plain(f"{stage}: {done}/{total} {unit} · {elapsed:.1f}s{eta}"))

    def spin(self, frame: str) -> None:
        if self.loading is None or not self._ready:
            return
        # a card being removed (a cleared chat) has lost its children before the app's spinner
        # tick stops visiting it: nothing to update then
        for status in self.query(".status").results(Static):
            status.update(plain(f"{frame} {self.loading}…"))

    @_after_compose
    def add_round(self, r) -> None:
        self.rounds.append(r)
        self._show_rounds()
        self.novelty.append(r.scores.novelty)
        if len(self.novelty) >= 2:  # the novelty trajectory over the rounds
            spark = self.query_one(Sparkline)
            spark.data = list(self.novelty)
            spark.add_class("shown")

    def _show_rounds(self) -> None:
        """One line per round. A revision that beat the running best is "improved"; only the round
        the artifact kept is "kept" (a later round may beat an improved one)."""
        def mark(r) -> str:
            if r.round == self.kept:
                return "  ← kept"
            return "  ↑ improved" if r.chosen and r.round > 0 else ""

        self.query_one(".rounds", Static).update(plain("\n".join(
            f"round {r.round}: quality {r.scores.quality:.2f}  novelty {r.scores.novelty:.2f}  "
            f"adherence {r.scores.adherence:.2f}{mark(r)}" for r in self.rounds)))

    @_after_compose
    def show_roll(self, text: str) -> None:
        self.query_one(".roll", Static).update(plain(text, "cyan"))

    @_after_compose
    def show_rows(self, draw) -> None:
        """Rows that must stay rows (a piano roll, a half-block picture): ``draw(width)`` makes them
        for the room the card has, again whenever the card is resized."""
        self._rows = draw
        self.query_one(".roll", Static).add_class("rows")
        self._redraw_rows()

    def _redraw_rows(self) -> None:
        if self._rows is None or not self._ready:
            return
        roll = self.query_one(".roll", Static)
        room = roll.content_region.width or self.content_region.width or (self.app.size.width - 8)
        roll.update(self._rows(max(8, room)))

    def on_resize(self, event) -> None:
        self._redraw_rows()
        self._fit_actions()

    def _fit_actions(self) -> None:
        """As many button columns as the card has room for (the labels whole), so no button
        falls off a narrow window."""
        for row in self.query(".actions"):
            buttons = list(row.query(Button))
            if not buttons:
                continue
            cell = max(len(str(b.label)) for b in buttons) + 2
            room = self.content_region.width or self.app.size.width - 8
            row.styles.grid_size_columns = max(1, min(len(buttons), (room + 1) // (cell + 1)))

    @_after_compose
    def show_image(self, path: Path, cells: int) -> None:
        """The picture as real pixels where the terminal speaks Sixel or the Kitty graphics
        protocol (textual-image), else in half-block cells (two pixels per cell: ▀ with fore- and
        background colours), which work in any colour terminal."""
        widget_cls = getattr(self.app, "graphics_image", None)
        if widget_cls is not None:
            try:
                img = widget_cls(str(path), classes="picture")
                img.styles.width, img.styles.height = cells, "auto"
                self.mount(img, before=self.query_one(".result"))
                return
            except Exception:  # noqa: BLE001 - a graphics failure must never lose the result; fall back
                pass
        self.show_rows(lambda room: half_blocks(path, min(cells, room)))

    @_after_compose
    def show_poem(self, title: str, scansion) -> None:
        """The poem with its scansion gutter: syllables and rhyme letter per line."""
        out = Text(clean(title) + "\n", style="bold")
        for n, letter, _stress, line in scansion:
            out.append(f"{n:>2} {letter} │ ", style="dim")
            out.append(clean(line) + "\n")
        self.query_one(".roll", Static).update(out)

    @_after_compose
    def add_actions(self, artifact, view) -> None:
        """Open, copy path, play (music), revise, export: buttons under a finished artifact
        (Tab to reach them, Enter to press)."""
        self.artifact, self.view = artifact, view
        self.kept = artifact.round
        self._show_rounds()
        names = (["open", "copy"] + (["text"] if view.scansion else []) + (["play"] if artifact.kind == "music" else [])
                 + ["revise", "export"])
        row = Horizontal(*[Button(self.ACTIONS[n], name=n, compact=True) for n in names], classes="actions")
        self.mount(row)
        self.call_after_refresh(self._fit_actions)

    def show_result(self, artifact, view, width: int, restored: bool = False) -> None:
        """The finished artifact: its poem, picture or piano roll, the rounds, files and buttons
        (live, or ``restored`` from the session store when a session is reopened)."""
        if restored:
            for r in artifact.trajectory:
                self.add_round(r)
        # file names only (Copy path gives the whole path): a long path would break mid-word
        files = "\n".join(f"{role}: {Path(p).name}" for role, p in view.files.items())
        if view.midi is not None:
            self.show_rows(lambda room: roll_text(view.piano_roll(room)))
        elif view.image is not None:
            self.show_image(view.image, min(48, width - 8))
        elif view.scansion:
            self.show_poem(view.title, view.scansion)
        self.finish(f"{artifact.summary}\n{files}", outcome="" if restored else "finished in")
        self.add_actions(artifact, view)

    def show_failure(self, error: str, kind: str, restored: bool = False) -> None:
        cancelled = kind == "cancelled"
        outcome = "" if restored else "cancelled after" if cancelled else "failed after"
        self.finish("cancelled" if cancelled else error, "bold red" if kind in ("error", "internal") else "yellow",
                    outcome)

    def main_file(self) -> Path | None:
        return self.view.main if self.view is not None else None

    @_after_compose
    def finish(self, text: str, style: str = "", outcome: str = "finished in", elapsed: float | None = None) -> None:
        """The result line; ``outcome`` says how it ended: "finished in", "cancelled after", "failed after";
        ``elapsed`` defaults to the time since the card started."""
        self.query_one(ProgressBar).display = False
        self.loading = None
        elapsed = time.monotonic() - self.started if elapsed is None else elapsed
        status = self.query_one(".status", Static)
        status.update(plain(f"{outcome} {elapsed:.1f}s", "dim"))
        status.display = bool(outcome)  # a restored card has no run time to tell
        self.query_one(".result", Static).update(plain(text, style))


PART_COLOURS = {"█": "bold cyan", "▓": "yellow", "▒": "magenta", "░": "green"}  # melody, then parts under it


def roll_text(roll: str) -> Text:
    """A piano roll in text cells, each part in its own colour (the melody cyan, then yellow,
    magenta, green for the parts under it); bar lines and pitch names dim."""
    out = Text()
    for ch in clean(roll):
        out.append(ch, style=PART_COLOURS.get(ch, "dim cyan"))
    return out


def half_blocks(path: Path, cells: int) -> Text:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        w = max(4, min(cells, im.width))
        h = max(2, round(im.height * w / im.width / 2) * 2)
        a = im.resize((w, h), Image.Resampling.LANCZOS).load()
    out = Text()
    for y in range(0, h, 2):
        for x in range(w):
            top, bottom = a[x, y], a[x, y + 1]
            out.append("▀", style=f"rgb({top[0]},{top[1]},{top[2]}) on rgb({bottom[0]},{bottom[1]},{bottom[2]})")
        out.append("\n")
    return out


SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def learn_status(step: int, total: int, seconds: float, max_seconds: float = 0.0) -> str:
    """'step 8/800 · 7 s · about 23 s left (time limit 30 s)': the ETA from the pace so far,
    bounded by the run's wall-time cap (0: none)."""
    eta = seconds / max(step, 1) * (total - step)
    why = "less if it stops early"
    if max_seconds and seconds + eta > max_seconds:
        eta, why = max(max_seconds - seconds, 0.0), f"time limit {max_seconds:.0f} s"
    return f"step {step}/{total} · {seconds:.0f} s · about {eta:.0f} s left ({why})"


class LearnCard(Vertical):
    """A /learn running in the background: what it reads, a progress bar with elapsed time and
    ETA, its last log line, and Cancel (the run stays resumable: the same /learn goes on)."""

    DEFAULT_CSS = """
    LearnCard { border: round $secondary; height: auto; padding: 0 1; margin: 0 0 1 0; }
    LearnCard .title { text-style: bold; }
    LearnCard ProgressBar { width: 100%; }
    LearnCard .status, LearnCard .line { color: $text-muted; }
    LearnCard Button { min-width: 10; }
    """

    def __init__(self, what: str, name: str, source: str, max_seconds: float = 0.0, **kw) -> None:
        super().__init__(**kw)
        self.what, self.model_name, self.source = what, name, source
        self.max_seconds = max_seconds  # the run's wall-time cap (0: none) bounds the ETA
        self.cancel = threading.Event()
        self.done = False
        self.started = time.monotonic()

    def compose(self) -> ComposeResult:
        yield Static(plain(f"learn {self.what} → {self.model_name}  ({clean(self.source)})"), classes="title")
        yield ProgressBar(total=100, show_eta=False)
        yield Static(plain("reading the files…"), classes="status")
        yield Static("", classes="line")
        yield Button("Cancel", id="learn-cancel", variant="warning")

    def progress(self, step: int, total: int, seconds: float) -> None:
        self.query_one(ProgressBar).update(total=max(total, 1), progress=step)
        self.query_one(".status", Static).update(plain(learn_status(step, total, seconds, self.max_seconds)))

    def log_line(self, line: str) -> None:
        self.query_one(".line", Static).update(plain(clean(line)[:200]))

    def finish(self, message: str, style: str) -> None:
        self.done = True
        self.query_one(".status", Static).update(plain(clean(message), style if style != "answer" else ""))
        self.query_one(Button).display = False
        if style == "answer":
            self.query_one(ProgressBar).update(progress=self.query_one(ProgressBar).total)

    @on(Button.Pressed, "#learn-cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.cancel.set()
        self.query_one(".status", Static).update(plain("cancelling at the next step…"))


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


class StudioApp(App):
    """The chat. Build it with ``make_app``."""

    TITLE = "Ars Nova"
    AUTO_FOCUS = "#prompt"
    CSS = """
    #main { height: 1fr; }
    #sessions { width: 30; max-width: 35%; border-right: vkey $accent; display: none; }
    #sessions.shown { display: block; }
    #log { height: 1fr; padding: 0 1; }
    #log > .turn { height: auto; }
    .user { color: $text; text-style: bold; margin: 1 0 0 0; }
    .answer { margin: 0 0 1 0; }
    .notice { color: $warning; }
    .error { color: $error; }
    #status { height: 1; background: $boost; color: $text-muted; padding: 0 1; }
    Toast { max-width: 90%; text-overflow: ellipsis; }  /* a path in an error stays whole on narrow screens */
    """
    BINDINGS = [  # ids: what <data dir>/keymap.yaml rebinds, e.g. `cancel: ctrl+c,escape`
        Binding("escape", "cancel", "Cancel", id="cancel"),
        Binding("ctrl+b", "toggle_sessions", "Sessions", id="sessions"),
        Binding("f1", "help", "Help", id="help"),
        Binding("ctrl+p", "command_palette", "palette", show=False, id="palette"),
        Binding("ctrl+q", "quit", "Quit", id="quit"),
        Binding("f2", "compose_long", "Multi-line", id="multiline"),
        Binding("ctrl+y", "copy_answer", "Copy answer", show=False, id="copy"),
    ]

    def load_settings(self) -> None:
        """The chat's settings from <data dir>/settings.yaml, one file: ``theme: NAME`` and
        ``keys:`` (binding id -> comma-separated keys, e.g. ``help: f3``). A keymap.yaml from
        before is still read for keys. A bad file is reported and ignored; the defaults stay."""
        import yaml

        from models.common.errors import UserFixableError

        path, old = self.store.settings_file, self.store.keymap_file
        data: dict = {}
        try:
            if path.exists():
                data = yaml.safe_load(read_small(path)) or {}
                if not isinstance(data, dict) or set(data) - {"theme", "keys"}:
                    raise ValueError("write `theme: NAME` and a `keys:` section of `id: keys` lines")
            elif old.exists():
                data = {"keys": yaml.safe_load(read_small(old)) or {}}
                path = old
            keys = data.get("keys") or {}
            ids = {b.id for b in self.BINDINGS if b.id}
            if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
                raise ValueError("write one `id: keys` line per binding")
            unknown = sorted(set(keys) - ids)
            if unknown:
                raise ValueError(f"unknown binding {unknown[0]!r}; known: {', '.join(sorted(ids))}")
            theme = data.get("theme")
            if theme is not None and theme not in self.available_themes:
                raise ValueError(f"unknown theme {str(theme)[:40]!r}; Ctrl+P → Theme lists them")
        except (yaml.YAMLError, ValueError, OSError, UnicodeDecodeError, UserFixableError) as e:
            self.notify(f"{path}: {clean(str(e)).splitlines()[0]}; using the default settings", severity="error",
                        markup=False)
            return
        if keys:
            self.set_keymap(keys)
        if theme:
            self.theme = theme

    def save_theme(self, theme) -> None:
        """Remember the theme picked (Ctrl+P → Theme) in settings.yaml: only its ``theme:`` line is
        written, so the person's keys and comments stay as they wrote them."""
        import re

        from models.common.errors import UserFixableError
        from models.common.files import write_atomic

        path = self.store.settings_file
        try:
            text = read_small(path) if path.exists() else ""
            line = f"theme: {theme.name}"
            text, n = re.subn(r"(?m)^theme:.*$", line, text)
            if not n:
                text = (text.rstrip("\n") + "\n" if text.strip() else "") + line + "\n"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, text.encode("utf-8"))
        except (OSError, UnicodeDecodeError, UserFixableError) as e:
            self.notify(f"could not save the theme in {path}: {e}", severity="warning", markup=False)

    def __init__(self, agent_factory, store, session_id: str | None = None, settings=None):
        super().__init__()
        self._agent_factory = agent_factory  # store -> Agent; called once, in a worker thread
        self._agent = None
        self._agent_lock = threading.Lock()
        self.store = store
        self.session_id = session_id
        self.data_dir = str(store.data_dir)
        from tools.base import TurnSettings

        self.settings = settings or TurnSettings()  # what the palette sets; handed to every turn
        self.planner_name = self.settings.planner  # who answered last (a fallback may answer)
        self.machine_load = _machine_load  # replaceable, so snapshots do not depend on the machine
        self.cursor_blink = True  # the prompt's cursor; snapshots turn it off (a blink is a timer, not a look)
        self.graphics_image = None  # textual-image's widget class where the terminal shows pixels
        self.streams: dict[int, dict] = {}  # turn -> the answer being written: text, widget, dirty
        self.stream_repaints = 0  # how many times streamed text was drawn (batched on a timer)
        self.cancel_flag = threading.Event()
        self.busy = False
        self.queue: list[tuple[str, Static | None]] = []  # waiting requests, each with its "queued" label
        self.quitting = False
        self._turn = 0
        self.cards: dict[str, ToolCard] = {}
        self.spinner: Static | None = None  # "⠋ planning with router…" until the plan is made
        self._spin_text = ""
        self._frame = 0
        self.last_answer = ""  # the latest answer in words, for Ctrl+Y
        self.weights_dir: str | None = None  # where /learn finds the models it starts from (None: shipped)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ListView(id="sessions")
            yield VerticalScroll(id="log")
        yield Static(self._status_text(), id="status")
        prompt = PromptInput(placeholder=self._placeholder(), id="prompt")
        prompt.cursor_blink = self.cursor_blink
        yield prompt
        yield Footer()

    def _key_name(self, binding_id: str) -> str:
        """The first key bound to ``binding_id`` once the keymap is read, as help writes keys: "F1",
        "Esc", "Ctrl+Q"."""
        keys = self._keymap.get(binding_id) or next(b.key for b in self.BINDINGS if b.id == binding_id)
        parts = keys.split(",")[0].strip().split("+")
        return "+".join("Esc" if p == "escape" else p.upper() if len(p) == 1 or p[1:].isdigit() else p.capitalize()
                        for p in parts)

    def _placeholder(self) -> str:
        return (f"Ask for a poem, a picture or music…  ({self._key_name('cancel')} cancels, "
                f"{self._key_name('help')} help)")

    def _status_text(self) -> Text:
        """The status line, its least needed parts left out until it fits the window (the data
        directory first, then load, session, novelty; planner and models stay)."""
        sid = self.session_id or "new session"
        parts = [f"planner: {self.planner_name}", f"models: {self._models_in_use()}", f"novelty: {self.settings.novelty}",
                 f"session: {sid}", self.machine_load(), f"data: {self.data_dir}"]
        room = (self.size.width or 200) - 2
        while len(parts) > 2 and len(" · ".join(parts)) > room:
            parts.pop()
        text = " · ".join(parts)
        return plain(text if len(text) <= room else text[: max(0, room - 1)] + "…")

    def on_resize(self, event) -> None:
        self._refresh_status()

    def _models_in_use(self) -> str:
        """The generators loaded so far (they load on first use)."""
        host = getattr(self._agent, "host", None)
        names = host.loaded_models() if host is not None else []
        if self.settings.composer:
            names = [*names, f"composer {self.settings.composer}"]
        return "; ".join(names) or "none loaded"

    def on_mount(self) -> None:
        self.load_settings()
        self.theme_changed_signal.subscribe(self, self.save_theme)  # after loading: loading is no change to save
        self.query_one("#prompt", Input).placeholder = self._placeholder()  # the keys the keymap chose
        self.set_interval(2.0, self._refresh_status)  # load and memory in the status bar
        self.set_interval(0.1, self._flush_streams)  # streamed text is drawn at most 10 times a second
        self.set_interval(0.1, self._spin)  # the planning / model-loading spinners
        self._say("Welcome to Ars Nova. Try: “16 bars of slow piano music in D minor” or "
                  f"“restyle photo.jpg like starry night”. {self._key_name('help')} for help.", "answer")
        self._fill_sessions()
        if self.session_id:
            self.call_after_refresh(self._show_history)  # after the first layout: cards need the width
        self._catch_sigint()

    def _catch_sigint(self) -> None:
        """SIGINT (``kill -INT``; the keyboard's Ctrl-C is a key here) ends the chat after stopping
        the running tool, and `arsnova chat` exits 130 like the other commands. Without this,
        asyncio's own handler cancels the app's task, which Textual takes as a normal quit (0)."""
        import asyncio
        import signal

        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._interrupted)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows; or a loop outside the main thread
            pass

    def _interrupted(self) -> None:
        self._quit(130)  # the turn's worker stops at the tool's next step; the app waits for it

    def on_unmount(self) -> None:
        import asyncio
        import signal

        self.cancel_flag.set()  # quitting mid-turn: the running tool stops instead of finishing
        try:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError, ValueError):
            pass

    # ---- sessions -------------------------------------------------------------------------
    def _fill_sessions(self) -> None:
        view = self.query_one("#sessions", ListView)
        view.clear()
        for info in self.store.list():
            mark = "▸ " if info.id == self.session_id else "  "
            item = ListItem(Label(plain(f"{mark}{info.title}\n  {info.id}")))
            item.session_id = info.id
            view.append(item)

    RESUME_TURNS = 8  # turns drawn when a session opens; "earlier" draws this many more each time

    def _show_history(self) -> None:
        """The conversation as it was: every turn in order, with the same cards (poem and its
        scansion, picture, piano roll, rounds, buttons). Only the last turns are drawn at first;
        a button above them draws earlier ones, so a 200-turn session opens at once."""
        info = self.store.get(self.session_id)
        turns: dict[int, list] = {}
        for turn, msg in self.store.transcript(self.session_id):
            turns.setdefault(turn, []).append(msg)
        arts: dict[int, list] = {}
        for a in self.store.artifacts(self.session_id):
            arts.setdefault(a.turn, []).append(a)
        self._past = [(t, turns[t], arts.get(t, [])) for t in sorted(turns)]
        self.query_one("#prompt", PromptInput).history = self.store.user_turns(self.session_id)
        self._say(f"Resumed “{info.title}”: {len(self._past)} turns, {sum(map(len, arts.values()))} artifacts.",
                  "notice")
        self._earlier_button = None
        self._show_earlier()
        self.query_one("#log", VerticalScroll).scroll_end(animate=False)

    def _show_earlier(self) -> None:
        """Draw the next RESUME_TURNS turns before the ones on screen."""
        log = self.query_one("#log", VerticalScroll)
        chunk, self._past = self._past[-self.RESUME_TURNS:], self._past[:-self.RESUME_TURNS]
        anchor = self._earlier_button
        groups = [self._turn_widget(*t) for t in chunk]
        if anchor is not None:
            log.mount_all(groups, after=anchor)
        else:
            log.mount_all(groups)
        if self._past and anchor is None:
            anchor = Button("", id="earlier", compact=True)
            log.mount(anchor, before=groups[0] if groups else None)
            self._earlier_button = anchor
        if anchor is not None:
            if self._past:
                anchor.label = f"↑ show {min(self.RESUME_TURNS, len(self._past))} earlier turns ({len(self._past)} more)"
            else:
                anchor.remove()
                self._earlier_button = None

    @on(Button.Pressed, "#earlier")
    def earlier_pressed(self, event: Button.Pressed) -> None:
        self._show_earlier()
        self._focus_prompt()

    def _turn_widget(self, turn: int, messages: list, artifacts: list) -> Vertical:
        """One stored turn: the request, the answer in words or a card per tool call."""
        from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

        from tools.base import stem_id
        from tools.views import view_of

        outcomes = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
        parts: list = []
        for m in messages:
            if isinstance(m, HumanMessage):
                parts.append(Static(plain(f"› {m.content}"), classes="user"))
            elif isinstance(m, AIMessage) and not m.tool_calls and str(m.content).strip():
                parts.append(Markdown(clean(str(m.content)), classes="answer"))
            elif isinstance(m, AIMessage):
                for c in m.tool_calls:
                    card = ToolCard(c["name"], c.get("args", {}))
                    self.cards[f"past{turn}:{c['id']}"] = card
                    stem = "-" + stem_id(c["id"]) + "-"
                    art = next((a for a in artifacts if stem in f"-{a.id}-"), None)
                    out = outcomes.get(c["id"])
                    if art is not None:
                        card.show_result(art, view_of(art, self.store.session_dir(self.session_id)),
                                         self.size.width, restored=True)
                    elif out is not None:
                        cancelled = str(out.content).startswith("cancelled")
                        card.show_failure(str(out.content), "cancelled" if cancelled else "error", restored=True)
                    else:
                        card.show_failure("no result was recorded (the app stopped during this call)", "error",
                                          restored=True)
                    parts.append(card)
        return Vertical(*parts, classes="turn")

    def switch_session(self, sid: str | None) -> None:
        if self._busy_refusal():
            return
        self.session_id = sid
        self.cards.clear()
        self.query_one("#prompt", PromptInput).history = []
        self.query_one("#log", VerticalScroll).remove_children()
        self._say("New session." if sid is None else "", "notice")
        if sid:
            self._show_history()
        self._fill_sessions()
        self._refresh_status()

    @on(ListView.Selected, "#sessions")
    def session_picked(self, event: ListView.Selected) -> None:
        self.switch_session(getattr(event.item, "session_id", None))
        self._focus_prompt()

    def _focus_prompt(self) -> None:
        """The prompt owns the keyboard: after a card's button, a session picked or a palette
        action, keys go back to it, so Enter sends what was typed instead of pressing the button again."""
        base = self.screen_stack[0]
        base.set_focus(base.query_one("#prompt", Input))

    def action_command_palette(self) -> None:
        """The palette; whatever it does, the prompt has the keys when it closes (the screen gives
        focus back to what had it before the palette opened)."""
        if self.screen is self.screen_stack[0]:
            self._focus_prompt()
        super().action_command_palette()

    def action_toggle_sessions(self) -> None:
        self.query_one("#sessions").toggle_class("shown")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        yield SystemCommand("New session", "Start an empty session", lambda: self.switch_session(None))
        yield SystemCommand("Switch session", "Resume a stored session", self._pick_session)
        yield SystemCommand("Rename session", "Give this session a title", self._rename)
        yield SystemCommand("Delete session", "Delete this session and its files (asks first)", self._delete)
        yield SystemCommand("Export bundle", "Write this session's artifacts as a bundle", self._export)
        yield SystemCommand("Toggle novelty target", "Default ↔ bold: more revision rounds, higher novelty",
                            self._toggle_novelty)
        yield SystemCommand("Switch planner", "router, gguf:FILE, hf:PATH, openai:URL#MODEL, ollama:MODEL or hybrid:<one of those>", self._switch_planner)
        yield SystemCommand("Threads", "How many CPU threads the generators compute on", self._ask_threads)
        yield SystemCommand("Switch poet model", "embedded, a poet you taught (/learn poems), gguf:FILE, hf:ID, "
                            "hf:/dir[#file.gguf] or openai:URL#MODEL", lambda: self._switch_model("poet"))
        yield SystemCommand("Switch composer", "the shipped models, or a composer you taught (/learn music)",
                            lambda: self._switch_model("composer"))
        yield SystemCommand("Learn from your own work", "Fine-tune the composer or the poet on your MIDI files or poems",
                            self._ask_learn)
        yield SystemCommand("Switch picture model", "embedded, sd:ID, sd:/dir or sd:/file.safetensors#/config",
                            lambda: self._switch_model("image"))
        yield SystemCommand("Show logs", "Show the error log of this data directory", self._show_logs)
        yield SystemCommand("Help", "Keys and examples", self.action_help)

    def _pick_session(self) -> None:
        """A second palette listing the stored sessions: ``search_commands`` takes SimpleCommand
        (a SystemCommand there raised ValueError and ended the app). It reads names as markup,
        so a title's brackets are escaped."""
        from textual.markup import escape

        self.search_commands([SimpleCommand(escape(clean(f"{i.title} ({i.id})")), lambda sid=i.id: self.switch_session(sid),
                                            "resume this session") for i in self.store.list()],
                             placeholder="Switch to session…")

    def _rename(self) -> None:
        if not self.session_id:
            self.notify("Nothing to rename yet: this session has no messages.", severity="warning")
            return

        def done(title: str | None) -> None:
            if title and title.strip():
                self.store.rename(self.session_id, clean(title.strip()))
                self._fill_sessions()
                self.notify(f"Renamed to “{clean(title.strip())}”.", markup=False)

        self.push_screen(AskScreen("New title for this session:", self.store.get(self.session_id).title), done)

    def _delete(self) -> None:
        if not self.session_id or self.busy:
            self.notify("No finished session to delete here.", severity="warning")
            return
        sid = self.session_id

        def done(answer: str | None) -> None:
            if (answer or "").strip().lower() in ("y", "yes"):
                self.store.delete(sid)
                self.switch_session(None)
                self.notify(f"Deleted session {sid}.", markup=False)

        self.push_screen(AskScreen(f"Delete session {sid} and all its files? (y/N)"), done)

    def _export(self) -> None:
        if not self.session_id:
            self.notify("Nothing to export yet.", severity="warning")
            return
        self.export_bundle(self.session_id, self.store.export_dir(self.session_id))

    @work(thread=True, group="export")
    def export_bundle(self, sid: str, out: Path) -> None:
        from agent.export import export_session
        from models.common.errors import UserFixableError

        try:
            path = export_session(self.store, sid, out)
            self.call_from_thread(self.notify, f"Bundle written to {path}", markup=False)
        except (UserFixableError, OSError) as e:
            self.call_from_thread(self.notify, clean(str(e)), severity="error", markup=False)

    def _busy_refusal(self) -> bool:
        """True (and a toast) while a request runs: sessions, planners and models switch between requests."""
        if self.busy:
            self.notify("Wait for the running request (or press Escape) before switching.", severity="warning")
        return self.busy

    def _switch_planner(self) -> None:
        if self._busy_refusal():
            return

        def done(spec: str | None) -> None:
            spec = (spec or "").strip()
            if spec and spec != self.settings.planner:
                self.set_planner(spec)

        self.push_screen(AskScreen("Planner (router | gguf:FILE | hf:PATH | openai:URL#MODEL | ollama:MODEL | hybrid:...):", self.settings.planner),
                         done)

    @work(thread=True, group="planner")
    def set_planner(self, spec: str) -> None:
        """Build the new planner off the UI thread (a local LLM takes a while to load); the next
        turns name it in their settings."""
        from models.common.errors import UserFixableError

        try:
            self._get_agent().planners(spec)
        except (UserFixableError, OSError) as e:
            self.call_from_thread(self.notify, clean(str(e)), severity="error", markup=False)
            return
        self.call_from_thread(self._planner_switched, spec)

    def _planner_switched(self, spec: str) -> None:
        """On the UI thread: the setting, the name and the status bar change together."""
        from dataclasses import replace

        self.settings = replace(self.settings, planner=spec)
        self.planner_name = spec
        self._refresh_status()
        self.notify(f"Planner: {spec}", markup=False)

    def _switch_model(self, kind: str) -> None:
        if self._busy_refusal():
            return

        def done(spec: str | None) -> None:
            if (spec or "").strip():
                self.set_model(kind, spec.strip())

        from models.common.learned import list_learned

        taught = [m.name for m in list_learned(self.store.data_dir, "music" if kind == "composer" else kind)]
        known = f" (yours: {', '.join(taught)})" if taught else ""
        label = {"poet": "Poet model", "image": "Picture model", "composer": "Composer: shipped or a learned name"}[kind]
        current = {"poet": self.settings.poet, "image": self.settings.image_model, "composer": self.settings.composer}[kind]
        self.push_screen(AskScreen(clean(f"{label}{known}:"), current or ("shipped" if kind == "composer" else "embedded")),
                         done)

    @work(thread=True, group="models")
    def set_model(self, kind: str, spec: str) -> None:
        """Load the new poet or picture model now (off the UI thread), so a bad one is one toast
        and the current one stays; the next turns name it in their settings."""
        from models.common.errors import UserFixableError

        spec = None if spec in ("embedded", "shipped", "transformer", "rnn") else spec
        try:
            kit = self._get_agent().host.preload("music" if kind == "composer" else kind, spec)
            model_id = kit.model_id(kit.default_kind()) if kind == "composer" else kit.model_id
        except (UserFixableError, OSError, ValueError) as e:
            self.call_from_thread(self.notify, clean(str(e)).splitlines()[0], severity="error", markup=False)
            return
        self.call_from_thread(self._model_switched, kind, spec, model_id)

    def _model_switched(self, kind: str, spec: str | None, model_id: str) -> None:
        from dataclasses import replace

        self.settings = replace(self.settings, **{{"poet": "poet", "composer": "composer"}.get(kind, "image_model"): spec})
        self._refresh_status()
        self.notify(f"{kind} model: {model_id}", markup=False)

    def _toggle_novelty(self) -> None:
        from dataclasses import replace

        self.settings = replace(self.settings, novelty="bold" if self.settings.novelty == "default" else "default")
        self._refresh_status()
        self.notify(f"Novelty target: {self.settings.novelty}.")

    def _ask_threads(self) -> None:
        def done(value: str | None) -> None:
            from dataclasses import replace

            try:
                self.settings = replace(self.settings, threads=int((value or "").strip()))
            except ValueError:
                self.notify("Threads: a whole number from 1 to 256.", severity="error")
                return
            self.notify(f"Generators compute on {self.settings.threads} thread(s).")

        self.push_screen(AskScreen("Threads for the generators (1-256):", str(self.settings.threads)), done)

    def _show_logs(self) -> None:
        log = self.store.error_log
        text = log.read_text(encoding="utf-8", errors="replace")[-3000:] if log.exists() else "No errors logged."
        self._say(text, "notice")

    # ---- turns ----------------------------------------------------------------------------
    def _get_agent(self):
        with self._agent_lock:
            if self._agent is None:
                self._agent = self._agent_factory(self.store)
            return self._agent

    def _refresh_status(self) -> None:
        from textual.css.query import NoMatches

        try:  # a timer can fire while the app is closing
            self.query_one("#status", Static).update(self._status_text())
        except NoMatches:
            pass

    def _say(self, text: str, classes: str) -> Static:
        w = Static(plain(text), classes=classes)
        log = self.query_one("#log", VerticalScroll)
        log.mount(w)
        log.scroll_end(animate=False)
        return w

    def _flush_streams(self) -> None:
        """Draw the streamed answers that grew since the last tick: however fast the words come,
        the Markdown is re-rendered at most every 0.1 s, so typing never waits for it."""
        for st in self.streams.values():
            if st["dirty"] and st["widget"] is not None:
                st["widget"].update(clean(st["text"]))
                st["dirty"] = False
                self.stream_repaints += 1

    def _say_markdown(self, text: str) -> Markdown:
        """A planner's answer as Markdown (lists, emphasis, code). Markdown has no Rich markup, so
        a `[` in it is only a bracket; control characters are stripped first."""
        w = Markdown(clean(text), classes="answer")
        log = self.query_one("#log", VerticalScroll)
        log.mount(w)
        log.scroll_end(animate=False)
        return w

    @on(Input.Submitted, "#prompt")
    def submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""
        if not text:
            return
        prompt = self.query_one("#prompt", PromptInput)
        prompt.history.append(text)
        prompt._walk = None
        if text.startswith(("/brief ", "/save-brief ")):
            self._slash(text)
            return
        if text == "/learn" or text.startswith("/learn "):
            self._say(f"› {text}", "user")
            self.start_learn(text[len("/learn"):])
            return
        self._request(text)

    def _request(self, text: str) -> None:
        """Run ``text`` now, or queue it behind the running request with a label that says so."""
        self._say(f"› {text}", "user")
        if not self.busy:
            self._start(text)
            return
        self.queue.append((text, self._say("", "notice")))
        self._relabel_queue()

    def _relabel_queue(self) -> None:
        for i, (_, label) in enumerate(self.queue, 1):
            if label is not None:
                label.update(plain(f"queued ({i} waiting)"))

    def _start_next(self) -> None:
        text, label = self.queue.pop(0)
        if label is not None:
            label.update(plain("queued, then started", "dim"))
        self._relabel_queue()
        self._start(text)

    def _drop_queue(self, why: str) -> int:
        """Forget the waiting requests, saying so on each one's label; how many there were."""
        for _, label in self.queue:
            if label is not None:
                label.update(plain(f"not run: {why}", "dim"))
        n, self.queue = len(self.queue), []
        return n

    def _slash(self, text: str) -> None:
        """/brief FILE runs a brief's turns here; /save-brief FILE writes this session's turns as one."""
        from agent.brief import load_brief, save_session_brief
        from models.common.errors import UserFixableError

        command, _, arg = text.partition(" ")
        path = Path(arg.strip()).expanduser()
        try:
            if command == "/brief":
                turns = list(load_brief(path).turns)
                self._say(f"running brief {path}: {len(turns)} messages", "notice")
                for t in turns:
                    self._say(f"› {t}", "user")
                self.queue.extend((t, None) for t in turns)
                if not self.busy:
                    self._start_next()
            else:
                n = save_session_brief(self.store, self.session_id, path)
                self.notify(f"Saved {n} messages as a brief: {path}", markup=False)
        except UserFixableError as e:
            self.notify(clean(str(e)), severity="error", markup=False)

    def _ask_learn(self) -> None:
        def done(value: str | None) -> None:
            if (value or "").strip():
                self.start_learn(value.strip())

        self.push_screen(AskScreen("Learn: music FOLDER --name NAME, or poems FILE_OR_FOLDER --name NAME", ""), done)

    def start_learn(self, command: str) -> None:
        """/learn music FOLDER --name NAME: a card with progress, ETA and Cancel while it trains
        (in a thread; the chat goes on); the model is registered only when it is complete."""
        from agent.train_cli import parse_learn
        from models.common.errors import UserFixableError

        try:
            args = parse_learn(command)
        except UserFixableError as e:
            self.notify(clean(str(e)), severity="error", markup=False)
            return
        if any(not c.done for c in self.query(LearnCard)):
            self.notify("A /learn is running; cancel it or wait for it before starting another.", severity="warning")
            return
        card = LearnCard(args.what, args.name, args.source, max_seconds=args.max_seconds)
        log = self.query_one("#log", VerticalScroll)
        log.mount(card)
        log.scroll_end(animate=False)
        self.run_learn(args, card)

    @work(thread=True, group="learn")
    def run_learn(self, args, card: "LearnCard") -> None:
        from agent.train_cli import run_learn
        from models.common.errors import Cancelled, UserFixableError
        from models.common.runtime import default_weights_dir

        weights = Path(self.weights_dir) if self.weights_dir else default_weights_dir()
        say = lambda line: self.call_from_thread(card.log_line, line)  # noqa: E731
        progress = lambda step, total, secs: self.call_from_thread(card.progress, step, total, secs)  # noqa: E731
        try:
            model = run_learn(args, self.store.data_dir, weights, say, progress, card.cancel.is_set)
        except Cancelled as e:
            self.call_from_thread(card.finish, str(e), "notice")
        except (UserFixableError, OSError, ValueError) as e:
            self.call_from_thread(card.finish, str(e), "error")
        else:
            c = model.card
            use = "in the style of" if args.what == "music" else "like"
            self.call_from_thread(card.finish, f"Learned {model.name}: {c['files_used']} files, held-out NLL "
                                  f"{c['val_nll_before']} → {c['val_nll_after']} in {c['seconds']:.0f} s. Ask for "
                                  f"\"… {use} {model.name}\" or switch to it in the palette.", "answer")

    def _start(self, text: str) -> None:
        if self.quitting:  # a request queued behind the one that was running when the person quit
            return
        self.busy = True
        self.cancel_flag.clear()
        self._turn += 1
        self._spin_text = f"planning with {self.settings.planner}"
        self.spinner = self._say(f"{SPINNER[0]} {self._spin_text}…", "notice")
        if self.session_id is None:
            self.session_id = self.store.create(title=text[:60], planner=self.settings.planner).id
            self._fill_sessions()
            self._refresh_status()
        self.run_turn(text, self._turn, self.session_id, self.settings)

    @work(thread=True, exclusive=False, group="turns")
    def run_turn(self, text: str, turn_id: int, session_id: str, settings) -> None:
        try:
            agent = self._get_agent()
            for e in agent.run(text, session_id, self.cancel_flag, settings=settings):
                self.post_message(AgentEvent(e, turn_id))
        except Exception as e:  # shown, never a crash of the UI
            from agent.events import Failed

            self.post_message(AgentEvent(Failed(f"{type(e).__name__}: {e}"), turn_id))
        finally:
            self.post_message(AgentEvent(None, turn_id))

    def on_agent_event(self, message: AgentEvent) -> None:
        from agent import events as ev

        e = message.event
        if e is not None and not isinstance(e, ev.Progress):
            self._follow()
        match e:
            case None:
                self._stop_spinner()
                self._flush_streams()
                self.streams.pop(message.turn_id, None)
                self.busy = False
                self._refresh_status()  # the models the turn loaded
                if self.queue:
                    self._start_next()
            case ev.PlanMade(planner=planner):
                self._stop_spinner(f"planned by {planner}")
                if planner != self.planner_name:
                    self.planner_name = planner
                    self._refresh_status()
            case ev.Notice(text=text):
                self._say(f"note: {text}", "notice")
            case ev.ToolStarted(call_id=cid, tool=tool, args=args):
                card = ToolCard(tool, args)
                self.cards[f"{message.turn_id}:{cid}"] = card
                log = self.query_one("#log", VerticalScroll)
                log.mount(card)
                log.scroll_end(animate=False)
            case ev.Progress(call_id=cid, done=done, total=total, unit=unit, stage=stage):
                if card := self.cards.get(f"{message.turn_id}:{cid}"):
                    card.progress(done, total, unit, stage)
            case ev.Preview(call_id=cid, path=path):
                if card := self.cards.get(f"{message.turn_id}:{cid}"):
                    card.show_roll(f"preview: {path}")
            case ev.Critique(call_id=cid, record=record) | ev.Revision(call_id=cid, record=record):
                if card := self.cards.get(f"{message.turn_id}:{cid}"):
                    card.add_round(record)
            case ev.ToolFinished(call_id=cid, artifact=a):
                if card := self.cards.get(f"{message.turn_id}:{cid}"):
                    card.show_result(a, self._get_agent().view(a, self.session_id), self.size.width)
            case ev.ToolFailed(call_id=cid, error=error, kind=kind):
                if card := self.cards.get(f"{message.turn_id}:{cid}"):
                    card.show_failure(error, kind)
                if kind in ("error", "internal"):
                    self.notify(clean(error), severity="error", markup=False)
            case ev.TextDelta(text=text):
                st = self.streams.setdefault(message.turn_id, {"text": "", "widget": None, "dirty": False})
                st["text"] += text
                st["dirty"] = True
                if st["widget"] is None:
                    st["widget"] = self._say_markdown("")
            case ev.Final(text=text, artifacts=arts) if not arts:
                self.last_answer = text
                st = self.streams.pop(message.turn_id, None)
                if st and st["widget"] is not None:  # the streamed answer becomes the final one
                    st["widget"].update(clean(text))
                else:
                    self._say_markdown(text)
            case ev.Failed(error=error):
                self._say(f"failed: {error}", "error")
                self.notify(clean(error), severity="error", markup=False)

    @on(Button.Pressed, "ToolCard .actions Button")
    def artifact_action(self, event: Button.Pressed) -> None:
        card = next((a for a in event.button.ancestors if isinstance(a, ToolCard)), None)
        if card is None or card.artifact is None:
            return
        path = card.main_file()
        match event.button.name:
            case "open":
                self._open_file(path)
            case "copy":
                self.copy_to_clipboard(str(path))
                self.notify(f"Copied {path}", markup=False)
            case "text":
                self._copy_text("\n".join([card.view.title, "", *card.view.lines]).strip(), "poem")
            case "play":
                self._play(card)
            case "revise":
                self._request(f"make the {card.view.revise_noun} less conventional")
            case "export":
                self._export()
        self._focus_prompt()

    def _open_file(self, path: Path | None) -> None:
        import shutil
        import subprocess

        opener = shutil.which("xdg-open") or shutil.which("open")
        if path is None or not path.exists():
            self.notify("The file is gone from the session folder.", severity="error")
        elif opener is None:
            self.notify(f"No file opener here (xdg-open); the file is {path}", markup=False)
        else:
            subprocess.Popen([opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
            self.notify(f"Opened {path.name}", markup=False)

    def _play(self, card: "ToolCard") -> None:
        """Play the piece's WAV with the first audio player found; FluidSynth renders the WAV."""
        import shutil
        import subprocess

        wav = card.view.wav
        if wav is None or not wav.exists():
            why = card.view.no_audio_reason(self._get_agent().host.resources.soundfont)
            self.notify(f"No audio for this piece: {why}", severity="warning", markup=False)
            return
        for player in (["aplay", "-q"], ["paplay"], ["afplay"], ["ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"]):
            if shutil.which(player[0]):
                subprocess.Popen([*player, str(wav)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
                self.notify(f"Playing {wav.name} ({player[0]})", markup=False)
                return
        self.notify(f"No audio player found (aplay, paplay, afplay, ffplay); the WAV is {wav}", markup=False)

    def _spin(self) -> None:
        self._frame = (self._frame + 1) % len(SPINNER)
        frame = SPINNER[self._frame]
        if self.spinner is not None:
            self.spinner.update(plain(f"{frame} {self._spin_text}…"))
        for card in self.cards.values():
            if card.loading is not None:
                card.spin(frame)

    def _stop_spinner(self, said: str = "") -> None:
        """The planning line becomes what happened ("planned by router"), or goes."""
        if self.spinner is None:
            return
        if said:
            self.spinner.update(plain(said, "dim"))
        else:
            self.spinner.remove()
        self.spinner = None

    def _copy_text(self, text: str, what: str) -> None:
        """To the clipboard where the terminal allows it (OSC 52), and always to a file in the
        data directory, since a terminal may drop OSC 52 without saying so."""
        from models.common.files import write_atomic

        self.copy_to_clipboard(text)
        path = self.store.data_dir / "copied.txt"
        try:
            write_atomic(path, text.encode("utf-8"))
            where = f"; also in {path}"
        except OSError as e:
            where = f"; could not write {path}: {e.strerror}"
        n = len(text.splitlines())
        self.notify(f"Copied the {what} ({n} line{'s' if n != 1 else ''}) to the clipboard{where}", markup=False)

    def action_copy_answer(self) -> None:
        if self.last_answer.strip():
            self._copy_text(clean(self.last_answer), "answer")
        else:
            self.notify("No answer in words to copy yet (a poem's card has Copy text)", markup=False)

    def action_compose_long(self) -> None:
        """F2: a multi-line request; what is in the prompt comes along."""
        prompt = self.query_one("#prompt", PromptInput)

        def done(text: str | None) -> None:
            self._focus_prompt()
            if text and text.strip():
                prompt.value = ""
                prompt.history.append(text.strip())
                self._request(text.strip())

        self.push_screen(ComposeScreen(prompt.value), done)

    def _follow(self) -> None:
        """Keep the newest output in view after a card grows (after the layout settles)."""
        log = self.query_one("#log", VerticalScroll)
        self.call_after_refresh(log.scroll_end, animate=False)

    def action_cancel(self) -> None:
        """Stop the running request at its tool's next step; the waiting ones are dropped, and the
        log says how many (each one's label says it was not run)."""
        if not self.busy:
            return
        self.cancel_flag.set()
        n = self._drop_queue(f"{self._key_name('cancel')} cancelled the request before it")
        dropped = f"; {n} queued request{'s' if n != 1 else ''} dropped (send again to run)" if n else ""
        self._say(f"cancelling the running request (it stops at its next step){dropped}", "notice")

    def action_quit(self) -> None:
        """Quit: stop the running request first, drop the queue, then exit. The process waits for
        the turn's worker thread on its way out, so the tool must stop at its next step now,
        not when the screens are gone (and no queued request may start meanwhile)."""
        self._quit()

    def _quit(self, return_code: int = 0) -> None:
        self.quitting = True
        self.cancel_flag.set()
        for card in self.query(LearnCard):  # a /learn stops at its next step (and resumes next time)
            card.cancel.set()
        self.queue.clear()
        self.exit(return_code=return_code)


def _machine_load() -> str:
    """'load 1.2 · mem 640 MB': the 1-minute load average and this process's resident memory."""
    import os

    try:
        load = f"load {os.getloadavg()[0]:.1f}"
    except OSError:
        load = "load ?"
    try:
        pages = int(open("/proc/self/statm").read().split()[1])
        mem = pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        import resource

        mem = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return f"{load} · mem {mem:.0f} MB"


def make_app(config=None, session_id: str | None = None, agent_factory=None) -> StudioApp:
    """The app for a Config; ``agent_factory(store)`` lets tests supply their own agent."""
    from agent.config import Config
    from agent.session import SessionStore

    config = config or Config.from_env()
    store = SessionStore(config.data_dir)
    if session_id:
        store.get(session_id)  # a clear error before the UI opens
    if agent_factory is None:
        def agent_factory(store):
            from agent.app import make_agent

            return make_agent(config, store=store)

    from agent.app import settings_of

    app = StudioApp(agent_factory, store, session_id, settings_of(config))
    app.weights_dir = str(config.weights_dir) if config.weights_dir else None
    return app


def graphics_image_widget():
    """textual-image's widget when this terminal shows real pixels (Sixel or Kitty graphics),
    else None (half-blocks are drawn by the card). The terminal can only be asked before Textual
    takes it over, so this runs before the app starts; ARSNOVA_IMAGES=halfblock turns it off."""
    import sys

    from agent.config import image_display

    if image_display() in ("halfblock", "off", "text") or not sys.__stdout__.isatty():
        return None
    try:
        from textual_image.renderable import SixelImage, TGPImage
        from textual_image.widget import AutoRenderable, Image
    except Exception:  # noqa: BLE001 - optional: not installed, or the terminal query failed
        return None
    return Image if AutoRenderable in (SixelImage, TGPImage) else None


def run_chat(config, session_id: str | None = None) -> int:
    """Open the studio on ``config`` (``arsnova chat``); the exit code (130 after SIGINT)."""
    graphics = graphics_image_widget()
    app = make_app(config, session_id)
    app.graphics_image = graphics
    app.run()
    return app.return_code or 0  # 130 after SIGINT (StudioApp._interrupted)
