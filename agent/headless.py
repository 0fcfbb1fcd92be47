"""Running briefs without the TUI: progress on a terminal, or JSON lines with ``--json``."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import TextIO

from agent import events as ev
from agent.brief import Brief, export_dir
from agent.export import check_out_dir, export_session
from agent.loop import Agent
from agent.terminal import json_line, safe_text


def event_json(e: object) -> str:
    def default(o):
        if is_dataclass(o):
            return asdict(o)
        if isinstance(o, Path):
            return str(o)
        return str(o)

    return json_line({"event": type(e).__name__, **(asdict(e) if is_dataclass(e) else {})}, default=default)


class ProgressPrinter:
    """Human-readable progress: a rewritten line on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.s = stream
        self.tty = stream.isatty()

    def __call__(self, e: object) -> None:
        match e:
            case ev.PlanMade(calls=calls, planner=planner) if calls:
                self._line(f"plan ({planner}): " + ", ".join(c["name"] for c in calls))
            case ev.Progress(tool=tool, done=done, total=total, unit=unit, stage=stage):
                if self.tty:
                    count = f": {done}/{total} {unit}" if total else "…"  # total 0: a model loading
                    self.s.write(f"\r  {safe_text(f'{tool} {stage}{count}')}   ")
                    self.s.flush()
            case ev.Critique(record=r) | ev.Revision(record=r):
                s = r.scores
                # "improved": a revision beat the running best; a later one may beat it too, so
                # which round is kept is said once the tool finishes (the artifact's round)
                self._line(f"  round {r.round}: quality {s.quality:.2f} novelty {s.novelty:.2f} "
                           f"adherence {s.adherence:.2f}{' (improved)' if r.chosen and r.round > 0 else ''}")
            case ev.Preview(path=path):
                self._line(f"  preview: {path}")
            case ev.ToolFinished(artifact=a):
                kept = f" (kept round {a.round})" if len(a.trajectory) > 1 else ""
                self._line(f"  done: {a.summary}{kept}")
            case ev.ToolFailed(tool=tool, error=error):
                self._line(f"  {tool}: {error}")
            case ev.Notice(text=text):
                self._line(f"  note: {text}")
            case ev.Final(text=text, artifacts=arts) if not arts and text:
                self._line(text)
            case ev.Failed(error=error):
                self._line(f"failed: {error}")

    def _line(self, text: str) -> None:
        # one event's text may span lines (an answer, a summary); nothing in it may drive the terminal
        self.s.write(("\r\033[K" if self.tty else "") + safe_text(text, multiline=True) + "\n")
        self.s.flush()


def bundle_destination(brief: Brief, out: str | None) -> Path:
    """Where a brief's bundle goes, checked (agent/export.check_out_dir): ``--out`` when given
    (the person at the keyboard chose it), else the brief's ``export`` confined to the brief's
    folder (brief.export_dir), else ``out/<brief name>`` in the current directory."""
    if out:
        return check_out_dir(out)
    if brief.export:
        return check_out_dir(export_dir(brief))
    return check_out_dir(Path("out") / Path(brief.path).stem)


@dataclass(frozen=True)
class BriefResult:
    """A brief's run: its bundle (None when no turn made anything) and the turns that failed, as
    the manifest's ``failed`` list records them: turn, request, tool, error (one line), kind
    ("bad_input": the person can fix it; "internal": a bug, logged)."""

    bundle: Path | None
    failed: tuple[dict, ...] = ()

    @property
    def exit_code(self) -> int:
        """DESIGN.md's codes: 0 every turn worked, 2 a turn had bad input, 1 a turn hit a bug."""
        if not self.failed:
            return 0
        return 1 if any(f["kind"] == "internal" for f in self.failed) else 2

    @property
    def reason(self) -> str:
        """The failure that decides the exit code (the first bug, else the first bad input), one line."""
        if not self.failed:
            return ""
        f = next((f for f in self.failed if f["kind"] == "internal"), self.failed[0])
        return _failure_line(f)

    def report(self) -> list[str]:
        """One line per failed turn, in order, but the deciding one last: the line a script reads."""
        lines = [_failure_line(f) for f in self.failed]
        if lines:
            lines.remove(self.reason)
            lines.append(self.reason)
        return lines


def _failure_line(f: dict) -> str:
    tool = f" ({f['tool']})" if f["tool"] else ""
    return f"turn {f['turn']}{tool} failed: {f['error']}"


def _failure(turn: int, request: str, e: object) -> dict | None:
    """A failed turn's manifest entry, or None for an event that is not a failure."""
    match e:
        case ev.ToolFailed(tool=tool, error=error):
            kind = "bad_input" if e.user_fixable else "internal"
        case ev.Failed(error=error):  # the planner could not answer (a bad planner spec, a missing model)
            tool, kind = "", "bad_input"
        case _:
            return None
    first = (str(error).strip().splitlines() or [""])[0]
    return {"turn": turn, "request": request, "tool": tool, "error": first, "kind": kind}


def run_brief(brief: Brief, agent: Agent, out: str | None, as_json: bool, stream: TextIO | None = None) -> BriefResult:
    """Run every turn of ``brief`` in a new session and export the bundle of what worked. A turn
    that fails does not stop the others; it is listed in the manifest and in the result."""
    stream = stream or sys.stdout
    title = brief.title or Path(brief.path).stem
    session = agent.store.create(title=title, planner=agent.planner.name)
    show = (lambda e: stream.write(event_json(e) + "\n")) if as_json else ProgressPrinter(stream)
    planners = set()
    failed = []
    for i, turn in enumerate(brief.turns, 1):
        if not as_json:
            show_line = f"[{i}/{len(brief.turns)}] {turn}"
            stream.write(safe_text(show_line, multiline=True) + "\n")
        for e in agent.run(turn, session.id):
            if isinstance(e, ev.PlanMade):
                planners.add(e.planner)
            if (f := _failure(i, turn, e)) is not None:
                failed.append(f)
            show(e)
    if failed and not agent.store.artifacts(session.id):
        return BriefResult(None, tuple(failed))  # nothing worked: no bundle; the failures say why
    dest = bundle_destination(brief, out)
    meta = {"title": title, "planner": "+".join(sorted(planners)) or agent.planner.name, "seed": agent.seed,
            "brief": {"path": Path(brief.path).name, "title": brief.title, "turns": list(brief.turns)}}
    meta["session"] = None  # session ids carry the time: left out so the same brief gives the same bundle
    meta["failed"] = failed  # the turns that made nothing, so a bundle never looks complete when it is not
    bundle = export_session(agent.store, session.id, dest, meta)
    if as_json:
        stream.write(json_line({"event": "Exported", "path": str(bundle)}) + "\n")
    else:
        stream.write(safe_text(f"bundle: {bundle}") + "\n")
    return BriefResult(bundle, tuple(failed))
