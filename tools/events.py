"""What a tool reports while it runs: progress, a preview, and each critique or revision round.
The agent passes these on with its own events (``agent.events``); the TUI renders them."""

from __future__ import annotations

from dataclasses import dataclass

from tools.artifacts import RoundRecord


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
