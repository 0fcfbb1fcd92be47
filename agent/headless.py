"""Running briefs without the TUI: progress on a terminal, or JSON lines with ``--json``."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TextIO

from agent import events as ev
from agent.brief import Brief
from agent.export import export_session
from agent.loop import Agent


def event_json(e: object) -> str:
    def default(o):
        if is_dataclass(o):
            return asdict(o)
        if isinstance(o, Path):
            return str(o)
        return str(o)

    return json.dumps({"event": type(e).__name__, **(asdict(e) if is_dataclass(e) else {})}, default=default,
                      ensure_ascii=False)


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
                    self.s.write(f"\r  {tool} {stage}{count}   ")
                    self.s.flush()
            case ev.Critique(record=r) | ev.Revision(record=r):
                s = r.scores
                self._line(f"  round {r.round}: quality {s.quality:.2f} novelty {s.novelty:.2f} "
                           f"adherence {s.adherence:.2f}{' (kept)' if r.chosen else ''}")
            case ev.Preview(path=path):
                self._line(f"  preview: {path}")
            case ev.ToolFinished(artifact=a):
                self._line(f"  done: {a.summary}")
            case ev.ToolFailed(tool=tool, error=error):
                self._line(f"  {tool}: {error}")
            case ev.Notice(text=text):
                self._line(f"  note: {text}")
            case ev.Final(text=text, artifacts=arts) if not arts and text:
                self._line(text)
            case ev.Failed(error=error):
                self._line(f"failed: {error}")

    def _line(self, text: str) -> None:
        self.s.write(("\r\033[K" if self.tty else "") + text + "\n")
        self.s.flush()


def run_brief(brief: Brief, agent: Agent, out: str | None, as_json: bool, stream: TextIO | None = None) -> Path:
    """Run every turn of ``brief`` in a new session and export the bundle; returns its path."""
    stream = stream or sys.stdout
    title = brief.title or Path(brief.path).stem
    session = agent.store.create(title=title, planner=agent.planner.name)
    show = (lambda e: stream.write(event_json(e) + "\n")) if as_json else ProgressPrinter(stream)
    planners = set()
    for i, turn in enumerate(brief.turns, 1):
        if not as_json:
            show_line = f"[{i}/{len(brief.turns)}] {turn}"
            stream.write(show_line + "\n")
        for e in agent.run(turn, session.id):
            if isinstance(e, ev.PlanMade):
                planners.add(e.planner)
            show(e)
    dest = out or brief.export or str(Path("out") / Path(brief.path).stem)
    meta = {"title": title, "planner": "+".join(sorted(planners)) or agent.planner.name, "seed": agent.seed,
            "brief": {"path": Path(brief.path).name, "title": brief.title, "turns": list(brief.turns)}}
    meta["session"] = None  # session ids carry the time: left out so the same brief gives the same bundle
    bundle = export_session(agent.store, session.id, dest, meta)
    if as_json:
        stream.write(json.dumps({"event": "Exported", "path": str(bundle)}) + "\n")
    else:
        stream.write(f"bundle: {bundle}\n")
    return bundle
