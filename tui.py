"""Ars Nova's terminal studio (Textual) and the `arsnova` entry point.

The app renders agent events and nothing else: a worker thread iterates ``Agent.run`` and
posts each event to the UI thread; Escape sets the cancel flag the tools check between steps.
Text from models and files is shown as plain ``rich.text.Text`` (never parsed as markup) with
control characters stripped.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Input, ProgressBar, Static

_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*(?:\x07|\x1b\\)|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Strip ANSI escape sequences and control characters (keeps newlines and tabs)."""
    return _CONTROL.sub("", str(text))


def plain(text: str, style: str = "") -> Text:
    return Text(clean(text), style=style)


@dataclass
class AgentEvent(Message):
    """An agent event crossing from the worker thread to the UI thread."""

    event: object
    turn_id: int


class ToolCard(Vertical):
    """One tool call: name and arguments, a progress bar, then its critique rounds and result."""

    DEFAULT_CSS = """
    ToolCard { border: round $accent; height: auto; padding: 0 1; margin: 0 0 1 0; }
    ToolCard .title { text-style: bold; }
    ToolCard ProgressBar { width: 100%; }
    ToolCard .rounds { color: $text-muted; }
    ToolCard .roll { margin: 1 0 0 0; }
    """

    def __init__(self, tool: str, args: dict, **kw) -> None:
        super().__init__(**kw)
        self.tool = tool
        self.args = args
        self.started = time.monotonic()
        self.rounds: list[str] = []

    def compose(self) -> ComposeResult:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        yield Static(plain(f"{self.tool}({args})"), classes="title")
        yield ProgressBar(total=100, show_eta=False, id="bar")
        yield Static("", classes="status")
        yield Static("", classes="rounds")
        yield Static("", classes="roll")
        yield Static("", classes="result")

    def progress(self, done: int, total: int, unit: str, stage: str) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(total=max(total, 1), progress=done)
        elapsed = time.monotonic() - self.started
        self.query_one(".status", Static).update(plain(f"{stage}: {done}/{total} {unit} · {elapsed:.1f}s"))

    def add_round(self, r) -> None:
        s = r.scores
        self.rounds.append(f"round {r.round}: quality {s.quality:.2f}  novelty {s.novelty:.2f}  "
                           f"adherence {s.adherence:.2f}{'  ← kept' if r.chosen else ''}")
        self.query_one(".rounds", Static).update(plain("\n".join(self.rounds)))

    def show_roll(self, text: str) -> None:
        self.query_one(".roll", Static).update(plain(text, "cyan"))

    def finish(self, text: str, style: str = "") -> None:
        self.query_one(ProgressBar).display = False
        elapsed = time.monotonic() - self.started
        self.query_one(".status", Static).update(plain(f"finished in {elapsed:.1f}s", "dim"))
        self.query_one(".result", Static).update(plain(text, style))


class StudioApp(App):
    """The chat. Build it with ``make_app``."""

    TITLE = "Ars Nova"
    AUTO_FOCUS = "#prompt"
    CSS = """
    #log { height: 1fr; padding: 0 1; }
    .user { color: $text; text-style: bold; margin: 1 0 0 0; }
    .answer { margin: 0 0 1 0; }
    .notice { color: $warning; }
    .error { color: $error; }
    #status { height: 1; background: $boost; color: $text-muted; padding: 0 1; }
    #prompt { dock: bottom; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+q", "quit", "Quit"),
    ]

    def __init__(self, agent_factory, session_id: str | None = None, data_dir: str = "", planner_name: str = "router"):
        super().__init__()
        self._agent_factory = agent_factory
        self._agent = None
        self.session_id = session_id
        self.data_dir = data_dir
        self.planner_name = planner_name
        self.cancel_flag = threading.Event()
        self.busy = False
        self.queue: list[str] = []
        self._turn = 0
        self.cards: dict[str, ToolCard] = {}

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="log")
        yield Static(self._status_text(), id="status")
        yield Input(placeholder="Ask for a poem, a picture or music…  (Esc cancels)", id="prompt")
        yield Footer()

    def _status_text(self) -> Text:
        sid = self.session_id or "new session"
        return plain(f"planner: {self.planner_name} · session: {sid} · data: {self.data_dir}")

    def on_mount(self) -> None:
        self._say("Welcome to Ars Nova. Try: “16 bars of slow piano music in D minor”.", "answer")
        if self.session_id:
            self.call_after_refresh(self._load_history)

    @work(thread=True, exclusive=False, group="history")
    def _load_history(self) -> None:
        agent = self._get_agent()
        info = agent.store.get(self.session_id)
        arts = agent.store.artifacts(self.session_id)
        turns = agent.store.user_turns(self.session_id)
        self.call_from_thread(self._show_history, info.title, turns, arts)

    def _show_history(self, title: str, turns: list[str], arts: list) -> None:
        self._say(f"Resumed “{title}”: {len(turns)} messages, {len(arts)} artifacts.", "notice")
        for a in arts:
            self._say(a.summary, "answer")

    def _get_agent(self):
        if self._agent is None:
            self._agent = self._agent_factory()
            if self.session_id is None:
                self.session_id = self._agent.store.create(planner=self._agent.planner.name).id
            self.call_from_thread(self._refresh_status)
        return self._agent

    def _refresh_status(self) -> None:
        self.query_one("#status", Static).update(self._status_text())

    def _say(self, text: str, classes: str) -> Static:
        w = Static(plain(text), classes=classes)
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
        self._say(f"› {text}", "user")
        if self.busy:
            self.queue.append(text)
            self._say(f"queued ({len(self.queue)} waiting)", "notice")
            return
        self._start(text)

    def _start(self, text: str) -> None:
        self.busy = True
        self.cancel_flag.clear()
        self._turn += 1
        self.run_turn(text, self._turn)

    @work(thread=True, exclusive=False, group="turns")
    def run_turn(self, text: str, turn_id: int) -> None:
        try:
            agent = self._get_agent()
            for e in agent.run(text, self.session_id, self.cancel_flag):
                self.post_message(AgentEvent(e, turn_id))
        except Exception as e:  # shown, never a crash of the UI
            from agent.events import Failed

            self.post_message(AgentEvent(Failed(f"{type(e).__name__}: {e}"), turn_id))
        finally:
            self.post_message(AgentEvent(None, turn_id))

    def on_agent_event(self, message: AgentEvent) -> None:
        from agent import events as ev

        e = message.event
        match e:
            case None:
                self.busy = False
                if self.queue:
                    self._start(self.queue.pop(0))
            case ev.PlanMade(calls=calls, planner=planner):
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
            case ev.Critique(call_id=cid, record=record) | ev.Revision(call_id=cid, record=record):
                if card := self.cards.get(f"{message.turn_id}:{cid}"):
                    card.add_round(record)
            case ev.ToolFinished(call_id=cid, artifact=a):
                if card := self.cards.get(f"{message.turn_id}:{cid}"):
                    folder = Path(self.data_dir) / "sessions" / self.session_id
                    files = "\n".join(f"{role}: {folder / p}" for role, p in a.files.items())
                    if a.kind == "music":
                        card.show_roll(_roll_text(folder / a.files["midi"], self.size.width - 8))
                    card.finish(f"{a.summary}\n{files}")
            case ev.ToolFailed(call_id=cid, error=error, kind=kind):
                if card := self.cards.get(f"{message.turn_id}:{cid}"):
                    card.finish(("cancelled" if kind == "cancelled" else error),
                                "bold red" if kind in ("error", "internal") else "yellow")
                if kind in ("error", "internal"):
                    self.notify(clean(error), severity="error", markup=False)
            case ev.Final(text=text, artifacts=arts) if not arts:
                self._say(text, "answer")
            case ev.Failed(error=error):
                self._say(f"failed: {error}", "error")
                self.notify(clean(error), severity="error", markup=False)

    def action_cancel(self) -> None:
        if self.busy:
            self.cancel_flag.set()
            self.queue.clear()
            self._say("cancelling…", "notice")


def _roll_text(midi: Path, width: int) -> str:
    from models.errors import InputFileError
    from models.midi_io import piano_roll_text, read_midi

    try:
        return piano_roll_text(read_midi(midi), width)
    except InputFileError as e:
        return str(e)


def make_app(config=None, session_id: str | None = None, agent_factory=None) -> StudioApp:
    """The app for a Config; ``agent_factory`` lets tests supply a scripted agent."""
    from agent.config import Config

    config = config or Config.from_env()
    if agent_factory is None:
        def agent_factory():
            from agent.app import make_agent

            return make_agent(config)

    return StudioApp(agent_factory, session_id, str(config.data_dir), config.planner)


def _chat(args) -> int:
    from agent.cli import _config
    from agent.session import SessionStore

    cfg = _config(args, planner=getattr(args, "planner", None))
    session = getattr(args, "session", None)
    if session:
        SessionStore(cfg.data_dir).get(session)  # a clear error before the UI opens
    make_app(cfg, session).run()
    return 0


def main(argv: list[str] | None = None) -> None:
    from agent.cli import main as cli_main

    raise SystemExit(cli_main(argv, chat=_chat))


if __name__ == "__main__":
    main()
