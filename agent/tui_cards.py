"""The chat's cards: one tool call (ToolCard, with its piano roll and picture preview) and one
learning run (LearnCard), plus the plain-text helpers every widget uses: text from models and
files is shown as ``rich.text.Text`` (never parsed as markup) with control characters stripped."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, ProgressBar, Sparkline, Static

from agent.terminal import safe_text


def clean(text: str) -> str:
    """Remove escape sequences, control and bidi/zero-width characters (keeps newlines and tabs):
    agent/terminal.py's rule, which the command line's printers share."""
    return safe_text(text, multiline=True, visible=False)


def plain(text: str, style: str = "") -> Text:
    return Text(clean(text), style=style)


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
