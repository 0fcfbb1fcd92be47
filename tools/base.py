"""What every tool shares, written once: the settings of a turn, the context a call runs in,
the registry entry (``ToolSpec``) and the steps common to all four pipelines.

A tool module (``tools/<name>.py``) holds its schema, its thin ``@tool`` face and its pipeline
``run(args, ctx) -> Artifact``. The face calls ``call_tool``, which sets the threads, maps the
model layer's errors onto the three kinds the planner and the person see (STYLE.md, habit 7)
and runs the pipeline. Settings travel down as the frozen ``TurnSettings`` inside the
``ToolContext``; nothing is assigned onto a shared object to steer the next call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.tools import ToolException

from tools.artifacts import Artifact
from tools.errors import ToolCancelled, ToolUnavailable
from tools.events import Critique, Progress, Revision
from tools.revise import ReviseConfig

if TYPE_CHECKING:  # the host is handed in; tools never build one
    from tools.host import ModelHost

NOVELTY_TARGETS = ("default", "bold")


@dataclass(frozen=True)
class TurnSettings:
    """What the person set for this turn (CLI flags, the chat's palette), passed to every call.

    ``novelty`` "bold" revises every request as if asked to be less conventional; ``poet`` and
    ``image_model`` are model specs (None: the embedded ones), ``composer`` a learned composer's name; ``threads`` is the torch thread
    count the tools compute with; ``planner`` names who plans (recorded, and shown)."""

    novelty: str = "default"
    planner: str = "router"
    poet: str | None = None
    image_model: str | None = None
    threads: int = 1
    composer: str | None = None  # a composer learned with `arsnova learn music` (None: the shipped models)
    revise: ReviseConfig = field(default_factory=ReviseConfig)

    def __post_init__(self) -> None:
        if self.novelty not in NOVELTY_TARGETS:
            raise ValueError(f"novelty must be one of {NOVELTY_TARGETS}, got {self.novelty!r}")
        if not 1 <= self.threads <= 256:
            raise ValueError(f"threads must be between 1 and 256, got {self.threads}")


@dataclass(frozen=True)
class RevisionAsk:
    """A revision asked for in words: "less conventional" (more_novel), "more conventional"
    (less_novel), or "more like Dickinson" (``like`` = "Dickinson")."""

    direction: str = ""  # "" | "more_novel" | "less_novel"
    like: str | None = None

    @classmethod
    def from_dict(cls, d: dict | None) -> "RevisionAsk":
        d = d or {}
        direction = str(d.get("direction") or "")
        if direction.startswith("style:"):  # sessions stored before `like` had its own field
            return cls("", direction[len("style:"):])
        return cls(direction, d.get("like"))


def stem_id(call_id: str) -> str:
    """A call id as it may appear in a file name (letters, digits, _ and - only)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", call_id)[:48] or "call"


@dataclass
class ToolContext:
    """One tool call: where its files go, how it reports, when it stops, what it was asked."""

    call_id: str
    out_dir: Path  # the session's artifact directory
    turn: int
    emit: Callable[[object], None]
    should_stop: Callable[[], bool]
    host: "ModelHost"
    settings: TurnSettings = field(default_factory=TurnSettings)
    ask: RevisionAsk = field(default_factory=RevisionAsk)
    earlier: list[Artifact] = field(default_factory=list)  # the session's earlier artifacts
    base_seed: int = 0
    tool_name: str = ""  # set by call_tool: the name progress events carry

    @property
    def stem_id(self) -> str:
        return stem_id(self.call_id)

    def stem(self, suffix: str) -> str:
        """The file stem of this call's outputs: ``003-call_0_write_poem-poem``."""
        return f"{self.turn:03d}-{self.stem_id}-{suffix}"

    def seed(self, args: dict) -> int:
        return int(args["seed"]) if args.get("seed") is not None else self.base_seed

    def direction(self) -> str:
        """The revision direction: asked for in words, else the turn's novelty setting."""
        if self.ask.like:
            return f"style:{self.ask.like}"  # the manifest's word for it
        return self.ask.direction or ("more_novel" if self.settings.novelty == "bold" else "default")

    def revise_config(self) -> ReviseConfig:
        cfg = self.settings.revise
        direction = self.ask.direction or ("more_novel" if self.settings.novelty == "bold" else "default")
        if direction == "more_novel":  # "make it less conventional": more rounds, higher target
            return replace(cfg, max_rounds=cfg.max_rounds + 1, target=min(0.99, cfg.target + 0.05))
        if direction == "less_novel":
            return replace(cfg, max_rounds=0)
        return cfg

    def earlier_files(self, kind: str | tuple[str, ...], role: str) -> list[Path]:
        """The files of the session's earlier artifacts of ``kind`` that are still on disk."""
        kinds = (kind,) if isinstance(kind, str) else kind
        paths = [self.out_dir / a.files[role] for a in self.earlier if a.kind in kinds and role in a.files]
        return [p for p in paths if p.is_file()]

    def model(self, kind: str, label: str, spec: str | None = None):
        """The host's ``kind`` model, saying so on the card while it loads on first use."""
        if not self.host.is_loaded(kind, spec):
            self.emit(Progress(self.call_id, self.tool_name, 0, 0, "", f"loading {label} (first use)"))
        return self.host.get(kind, spec)

    def progress(self, unit: str, stage: str) -> Callable[[int, int], None]:
        return lambda done, total: self.emit(Progress(self.call_id, self.tool_name, done, total, unit, stage))

    def report_round(self, record) -> None:
        """Round 0 is the critique of the plain sample; later rounds are revisions."""
        self.emit((Revision if record.round else Critique)(self.call_id, record))


@dataclass(frozen=True)
class ToolSpec:
    """The one place the program learns a tool: its name, arguments, what it makes, where the
    bundle files it, how it is revised, and the words the router knows it by."""

    name: str
    tool: object  # the langchain-core tool (its docstring is the planner's description)
    schema: type
    kind: str  # the artifact kind it makes: poem | image | styled_image | music
    bundle_dir: str  # its folder inside a bundle
    main_file: str  # the role of the file that is the result ("poem", "image", "midi")
    router_examples: tuple[str, ...]  # phrasings the semantic router learns the tool from
    revise_words: tuple[str, ...]  # words that name its results in "make the X less conventional"
    fill_args: Callable[[str, str, dict], dict]  # router slot filling: (segment, message, history) -> args
    # (the seed, which every tool takes, the router adds itself)


def use_turn_threads(settings: TurnSettings) -> None:
    """The turn's CPU threads for everything it computes, the planner's encoder included (on a
    busy 2-core machine torch's default of one thread per core spins: 0.5 s a plan, measured)."""
    from models.common.runtime import use_threads

    use_threads(settings.threads)


def call_tool(name: str, run: Callable[[dict, ToolContext], Artifact], kwargs: dict, config) -> tuple[str, Artifact]:
    """The body of every ``@tool`` face: run the pipeline with the call's context and return
    (the planner's short text, the artifact). Errors leave as the three kinds: what the planner
    can fix (ToolException), cancelled / unavailable (their ToolException subclasses); a bug
    propagates."""
    from models.common.errors import Cancelled, ModelMissing, UserFixableError
    from models.common.runtime import use_threads

    ctx: ToolContext = config["configurable"]["arsnova_ctx"]
    ctx.tool_name = name
    use_threads(ctx.settings.threads)
    try:
        art = run({k: v for k, v in kwargs.items() if v is not None}, ctx)
    except Cancelled as e:
        raise ToolCancelled(str(e)) from None
    except ModelMissing as e:
        raise ToolUnavailable(str(e)) from None
    except (UserFixableError, ValueError) as e:
        raise ToolException(str(e)) from None
    return art.summary, art


# ---- what every summary and manifest says about revision ------------------------------------
def limits_of(result) -> tuple[str, ...]:
    return ("revision round limit",) if result.stopped == "round limit" else ()


def novelty_trail(result) -> str:
    """'0.83 → 1.00': the kept candidate's novelty, round by round."""
    return " → ".join(f"{r.scores.novelty:.2f}" for r in result.trajectory)


def revision_record(direction: str, cfg: ReviseConfig, result) -> dict:
    """What the manifest says about revision: the settings used and why it stopped."""
    return {"direction": direction, "max_rounds": cfg.max_rounds, "candidates": cfg.candidates, "target": cfg.target,
            "quality_floor": cfg.quality_floor, "stopped": result.stopped}
