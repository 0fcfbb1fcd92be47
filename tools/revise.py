"""Bounded critique-and-revise: from imitation toward novelty, above a quality floor.

Round 0 is the plain sample (the model imitating its corpus). Each later round proposes a
batch of candidates with adjusted sampling parameters; the most novel candidate that keeps
quality and adherence above their floors replaces the running best when it is more novel.
Stops at ``max_rounds`` or once novelty reaches ``target`` — and says which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tools.artifacts import RoundRecord, Scores

T = TypeVar("T")


@dataclass(frozen=True)
class ReviseConfig:
    max_rounds: int = 2  # revision rounds after round 0
    candidates: int = 4  # per revision round
    quality_floor: float = 0.6
    adherence_floor: float = 0.75
    target: float = 0.9  # stop when the best's novelty reaches this


@dataclass(frozen=True)
class Revised(Generic[T]):
    best: T
    best_scores: Scores
    best_round: int
    trajectory: tuple[RoundRecord, ...]
    stopped: str  # "target reached" | "round limit" | "no revision"


def admissible(s: Scores, cfg: ReviseConfig) -> bool:
    return s.quality >= cfg.quality_floor and s.adherence >= cfg.adherence_floor


def revise(
    first: list[T],
    first_params: dict,
    propose: Callable[[int, int], tuple[list[T], dict]],
    critic: Callable[[T], Scores],
    cfg: ReviseConfig,
    on_round: Callable[[RoundRecord], None] | None = None,
    keeps: Callable[[Scores, Scores], bool] | None = None,
) -> Revised[T]:
    """``propose(round, n)`` -> (n candidates, the parameters used); ``critic`` scores one.
    ``keeps(candidate, round 0)``: a tool's own guard, e.g. "never worse than round 0 on sense
    and form"; a revised candidate that fails it is never kept."""

    def best_of(cands: list[T], first: Scores | None = None) -> tuple[T, Scores]:
        scored = [(c, critic(c)) for c in cands]
        ok = [x for x in scored if admissible(x[1], cfg) and (first is None or keeps is None or keeps(x[1], first))]
        pool = ok or scored  # when nothing clears the floors, keep the best-quality one
        key = (lambda x: x[1].novelty) if ok else (lambda x: x[1].quality + x[1].adherence)
        return max(pool, key=key)

    best, best_s = best_of(first)
    rec = RoundRecord(0, first_params, len(first), best_s, True)
    trajectory = [rec]
    if on_round:
        on_round(rec)
    best_round, stopped = 0, "round limit" if cfg.max_rounds else "no revision"
    for r in range(1, cfg.max_rounds + 1):
        if admissible(best_s, cfg) and best_s.novelty >= cfg.target:
            stopped = "target reached"
            break
        cands, params = propose(r, cfg.candidates)
        cand, cand_s = best_of(cands, trajectory[0].scores)
        better = admissible(cand_s, cfg) and (not admissible(best_s, cfg) or cand_s.novelty > best_s.novelty)
        better = better and (keeps is None or keeps(cand_s, trajectory[0].scores))
        if better:
            best, best_s, best_round = cand, cand_s, r
        rec = RoundRecord(r, params, len(cands), cand_s, better)
        trajectory.append(rec)
        if on_round:
            on_round(rec)
    else:
        if cfg.max_rounds and admissible(best_s, cfg) and best_s.novelty >= cfg.target:
            stopped = "target reached"
    return Revised(best, best_s, best_round, tuple(trajectory), stopped)
