"""Configuration, read once at the edge (CLI flags > environment > defaults) and passed in."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from agent.revise import ReviseConfig


def default_data_dir() -> Path:
    env = os.environ.get("ARSNOVA_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("arsnova", appauthor=False))


@dataclass(frozen=True)
class Config:
    data_dir: Path = field(default_factory=default_data_dir)
    weights_dir: Path | None = None  # None: the shipped models/weights
    planner: str = "router"
    seed: int = 0
    threads: int | None = None
    revise: ReviseConfig = field(default_factory=ReviseConfig)
    encoder_path: Path | None = None
    poet: str | None = None  # None: the embedded poet; or hf:ID / hf:/dir[#file.gguf]
    image_model: str | None = None  # None: the embedded image model; or sd:ID / sd:/dir / sd:/file.safetensors#config

    @classmethod
    def from_env(cls, **overrides) -> "Config":
        env = {}
        if os.environ.get("ARSNOVA_WEIGHTS"):
            env["weights_dir"] = Path(os.environ["ARSNOVA_WEIGHTS"])
        if os.environ.get("ARSNOVA_PLANNER"):
            env["planner"] = os.environ["ARSNOVA_PLANNER"]
        if os.environ.get("ARSNOVA_POET"):
            env["poet"] = os.environ["ARSNOVA_POET"]
        if os.environ.get("ARSNOVA_IMAGE_MODEL"):
            env["image_model"] = os.environ["ARSNOVA_IMAGE_MODEL"]
        if os.environ.get("ARSNOVA_THREADS"):
            env["threads"] = int(os.environ["ARSNOVA_THREADS"])
        env.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**env)
