"""Typed results the agent passes around: scores, revision rounds, artifacts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Scores:
    quality: float
    novelty: float
    adherence: float
    metrics: dict = field(default_factory=dict)  # named sub-metrics, raw values

    def to_dict(self) -> dict:
        return {"quality": round(self.quality, 4), "novelty": round(self.novelty, 4),
                "adherence": round(self.adherence, 4), **{k: _round(v) for k, v in self.metrics.items()}}


@dataclass(frozen=True)
class RoundRecord:
    round: int
    params: dict
    candidates: int
    scores: Scores
    chosen: bool  # this round's best replaced the running best

    def to_dict(self) -> dict:
        return {"round": self.round, "params": self.params, "candidates": self.candidates,
                "scores": self.scores.to_dict(), "chosen": self.chosen}


@dataclass(frozen=True)
class Artifact:
    kind: str  # poem | image | styled_image | music
    tool: str
    args: dict
    seed: int
    model: str
    round: int  # the round whose candidate was kept
    scores: Scores
    files: dict  # role -> path relative to the session's artifact dir ("midi", "piano_roll", "wav")
    summary: str  # the short text the planner sees
    trajectory: tuple[RoundRecord, ...] = ()
    limits_hit: tuple[str, ...] = ()
    revision: dict = field(default_factory=dict)  # direction, max_rounds, candidates, target, stopped
    id: str = ""
    turn: int = 0

    @property
    def path(self) -> str:
        return next(iter(self.files.values()))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scores"] = self.scores.to_dict()
        d["trajectory"] = [r.to_dict() for r in self.trajectory]
        d["limits_hit"] = list(self.limits_hit)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Artifact":
        def sc(x: dict) -> Scores:
            x = dict(x)
            return Scores(x.pop("quality"), x.pop("novelty"), x.pop("adherence"), x)

        return cls(
            kind=d["kind"], tool=d["tool"], args=d["args"], seed=d["seed"], model=d["model"], round=d["round"],
            scores=sc(d["scores"]), files=d["files"], summary=d["summary"],
            trajectory=tuple(RoundRecord(r["round"], r["params"], r["candidates"], sc(r["scores"]), r["chosen"])
                             for r in d.get("trajectory", [])),
            limits_hit=tuple(d.get("limits_hit", [])), revision=d.get("revision", {}), id=d.get("id", ""),
            turn=d.get("turn", 0),
        )


def _round(v):
    return round(v, 4) if isinstance(v, float) else v
