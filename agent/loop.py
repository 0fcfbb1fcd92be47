"""The agent loop: message → plan → tools (with live progress) → critique/revise → final.

``Agent.run`` is a generator of events (``agent.events``). Each tool runs in a worker thread
so its progress can be yielded while it works; the caller cancels through a
``threading.Event``. Everything finished is stored in the session before it is reported.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import ToolException

from agent.learned_refs import bind_learned
from agent.events import Failed, Final, Notice, PlanMade, TextDelta, ToolFailed, ToolFinished, ToolStarted
from agent.planner import Planner
from agent.session import SessionStore
from models.common.errors import UserFixableError
from tools import registry
from tools.base import RevisionAsk, ToolContext, TurnSettings, use_turn_threads
from tools.errors import ToolCancelled, ToolUnavailable
from tools.host import ModelHost

MAX_MESSAGE_CHARS = 20_000


@dataclass
class Agent:
    """Plans a message and runs its tool calls. ``planners(spec)`` builds (and caches) the planner
    a turn names; ``settings`` are the defaults a turn starts from (the CLI's flags), and every
    ``run`` may pass its own: the agent holds no setting that a caller changes between turns."""

    planners: Callable[[str], Planner]
    host: ModelHost
    store: SessionStore
    settings: TurnSettings = field(default_factory=TurnSettings)
    max_tool_calls: int = 8  # per message: a plan longer than this is cut, and the final event says so
    seed: int = 0

    @property
    def planner(self) -> Planner:
        """The planner of the default settings (headless runs plan with it)."""
        return self.planners(self.settings.planner)

    @property
    def tools(self) -> list:
        return registry.langchain_tools()

    def view(self, artifact, session_id: str):
        """What a screen shows of ``artifact`` (tools.views), its files found in the session."""
        from tools.views import view_of

        return view_of(artifact, self.store.session_dir(session_id))

    # ---- one message -------------------------------------------------------------------
    def _plan_streaming(self, planner: Planner, messages):
        """Plan in a thread and yield the answer's text as TextDelta events while it is written."""
        pieces: queue.Queue = queue.Queue()
        box: dict = {}
        done = object()

        def work() -> None:
            try:
                box["plan"] = planner.plan(messages, on_text=pieces.put)
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                box["error"] = e
            finally:
                pieces.put(done)

        threading.Thread(target=work, name="planner-stream", daemon=True).start()
        while (item := pieces.get()) is not done:
            yield TextDelta(item)
        if "error" in box:
            raise box["error"]
        return box["plan"]

    def run(self, message: str, session_id: str, cancel: threading.Event | None = None,
            settings: TurnSettings | None = None) -> Iterator[object]:
        cancel = cancel or threading.Event()
        settings = settings or self.settings
        message = message[:MAX_MESSAGE_CHARS]
        turn = self.store.next_turn(session_id)
        history = self.store.messages(session_id)
        human = HumanMessage(message)
        self.store.add_message(session_id, turn, human)
        use_turn_threads(settings)
        try:
            planner = self.planners(settings.planner)
            if getattr(planner, "streams", False):
                plan = yield from self._plan_streaming(planner, [*history, human])
            else:
                plan = planner.plan([*history, human])
        except UserFixableError as e:
            yield Failed(str(e))
            return
        for note in plan.notices:
            yield Notice(note)
        calls = bind_learned(list(plan.message.tool_calls), message, self.store.data_dir)
        limits = []
        if len(calls) > self.max_tool_calls:
            limits.append(f"plan cut to {self.max_tool_calls} tool calls")
            calls = calls[: self.max_tool_calls]
        ai = AIMessage(content=plan.message.content, tool_calls=calls,
                       additional_kwargs=plan.message.additional_kwargs)
        self.store.add_message(session_id, turn, ai)
        yield PlanMade(tuple({"id": c["id"], "name": c["name"], "args": c["args"]} for c in calls),
                       plan.answered_by, "" if calls else str(plan.message.content))
        if not calls:
            yield Final(str(plan.message.content), (), plan.answered_by)
            return
        asks = {r["tool"]: RevisionAsk.from_dict(r) for r in plan.message.additional_kwargs.get("arsnova_revisions", [])}
        done, lines = [], []
        for call in calls:
            if cancel.is_set():
                yield ToolFailed(call["id"], call["name"], "cancelled before it started", "cancelled")
                self.store.add_message(session_id, turn, ToolMessage("cancelled", tool_call_id=call["id"], status="error"))
                continue
            ctx = ToolContext(call["id"], self.store.session_dir(session_id), turn, emit=None, should_stop=cancel.is_set,
                              host=self.host, settings=settings, ask=asks.get(call["name"], RevisionAsk()),
                              earlier=self.store.artifacts(session_id), base_seed=self.seed + turn)
            yield ToolStarted(call["id"], call["name"], call["args"])
            outcome = yield from self._run_tool(call, ctx)
            if isinstance(outcome, ToolFinished):
                art = outcome.artifact
                self.store.add_artifact(session_id, art)
                self.store.add_message(session_id, turn, ToolMessage(art.summary, tool_call_id=call["id"]))
                done.append(art)
                lines.append(art.summary)
            else:
                self.store.add_message(session_id, turn, ToolMessage(outcome.error, tool_call_id=call["id"], status="error"))
                lines.append(f"{call['name']}: {outcome.error}")
            yield outcome
        yield Final("\n".join(lines), tuple(done), plan.answered_by, tuple(limits))

    def _run_tool(self, call: dict, ctx: ToolContext):
        """Run one tool in a thread, yielding its progress events; returns the outcome event."""
        events: queue.Queue = queue.Queue()
        ctx.emit = events.put
        result: dict = {}

        def work() -> None:
            try:
                result["msg"] = registry.spec(call["name"]).tool.invoke(
                    {**call, "type": "tool_call"}, config={"configurable": {"arsnova_ctx": ctx}})
            except BaseException as e:  # reported below, in the generator's thread
                result["error"] = e
            finally:
                events.put(_DONE)

        # the tool also stops when this generator does (Ctrl-C here, or the caller closing it):
        # a thread left running inside torch when the interpreter exits aborts the process
        stop = threading.Event()
        asked = ctx.should_stop
        ctx.should_stop = lambda: stop.is_set() or asked()
        t = threading.Thread(target=work, name=f"tool-{call['name']}", daemon=True)
        t.start()
        try:
            while True:
                ev = events.get()
                if ev is _DONE:
                    break
                yield ev
        except BaseException:  # KeyboardInterrupt, GeneratorExit: stop the tool, wait for it, go on raising
            stop.set()
            _join_quietly(t, STOP_WAIT_S)
            raise
        t.join()
        err = result.get("error")
        if err is None:
            return ToolFinished(call["id"], call["name"], result["msg"].artifact)
        if isinstance(err, ToolUnavailable):
            return ToolFailed(call["id"], call["name"], str(err), "unavailable")
        if isinstance(err, ToolCancelled):
            return ToolFailed(call["id"], call["name"], "cancelled", "cancelled")
        if isinstance(err, ToolException):
            return ToolFailed(call["id"], call["name"], str(err))
        if not isinstance(err, Exception):
            raise err  # KeyboardInterrupt, SystemExit: not ours to swallow
        # a bug: the other tools' results stand; the traceback goes to the log, the event names it
        log_path = self.store.error_log
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(f"--- {call['name']} {call['args']}\n")
            f.write("".join(traceback.format_exception(err)))
        return ToolFailed(call["id"], call["name"], f"internal error in {call['name']}: {type(err).__name__}: {err} "
                          f"(details in {log_path})", "internal")


_DONE = object()
STOP_WAIT_S = 30.0  # how long an interrupted tool gets to reach its next step and stop


def _join_quietly(t: threading.Thread, timeout: float) -> None:
    """Wait for ``t``; a second Ctrl-C while waiting ends the wait, not the clean-up above it."""
    deadline = time.monotonic() + timeout
    while t.is_alive() and time.monotonic() < deadline:
        try:
            t.join(0.1)
        except KeyboardInterrupt:
            return
