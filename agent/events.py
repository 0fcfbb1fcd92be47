"""What the agent loop yields. The TUI and the headless runner only render these."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.artifacts import Artifact, RoundRecord


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
class Progress:
    call_id: str
    tool: str
    done: int
    total: int  # 0: no count yet (a model loading on first use; the stage says which)
    unit: str  # "bars", "steps", "tokens", "iterations"
    stage: str = ""  # "round 0", "round 1 (4 candidates)"


@dataclass(frozen=True)
class Preview:
    """A low-resolution look at a result still being made (e.g. style transfer's first scale)."""

    call_id: str
    tool: str
    path: str


@dataclass(frozen=True)
class Critique:
    """The critics' scores of round 0: the plain sample, imitation of the corpus."""

    call_id: str
    record: RoundRecord


@dataclass(frozen=True)
class Revision:
    """A revision round: candidates sampled with adjusted parameters, the best one scored."""

    call_id: str
    record: RoundRecord


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
