"""What the agent loop yields. The TUI and the headless runner only render these."""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.artifacts import Artifact
from tools.events import Critique, Preview, Progress, Revision


@dataclass(frozen=True)
class PlanMade:
    calls: tuple[dict, ...]  # {"id", "name", "args"}
    planner: str
    text: str = ""  # a words-only answer when there are no calls


@dataclass(frozen=True)
class Notice:
    text: str  # e.g. "the LLM planner failed twice; the router answered"


@dataclass(frozen=True)
class ToolStarted:
    call_id: str
    tool: str
    args: dict


@dataclass(frozen=True)
class TextDelta:
    """A piece of the planner's answer as it is written (LLM planners only)."""

    text: str


@dataclass(frozen=True)
class ToolFinished:
    call_id: str
    tool: str
    artifact: Artifact


@dataclass(frozen=True)
class ToolFailed:
    call_id: str
    tool: str
    error: str
    kind: str = "error"  # "error" (bad input) | "unavailable" | "cancelled" | "internal" (a bug, logged)

    @property
    def user_fixable(self) -> bool:
        """Bad input or a model not installed: the person can fix it (exit 2); else a bug or a cancel (exit 1)."""
        return self.kind in ("error", "unavailable")


@dataclass(frozen=True)
class Final:
    text: str
    artifacts: tuple[Artifact, ...] = ()
    planner: str = ""
    limits_hit: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Failed:
    error: str


Event = PlanMade | Notice | ToolStarted | Progress | Preview | Critique | Revision | ToolFinished | ToolFailed | Final | Failed
