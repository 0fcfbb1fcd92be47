"""Configuration, read once at the edge (CLI flags > environment > defaults) and passed in.

This is the one module that reads ARSNOVA_* variables, and it checks them as the command line
checks its flags: a bad value is one line naming the variable and the fix (exit 2), never a
traceback from deep inside the first command that trips over it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tools.revise import ReviseConfig
from models.common.errors import UserFixableError

MAX_THREADS = 256


def check_threads(value: object, source: str) -> int:
    """A torch thread count from ``--threads`` or ARSNOVA_THREADS: a whole number, 1..256."""
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_THREADS:
        raise UserFixableError(f"{_named(source, value)}: must be a whole number from 1 to {MAX_THREADS}; "
                               "give e.g. 4, or leave it unset for the default")
    return n


def check_model_name(value: str, source: str) -> str:
    """A learned model's name (``--composer`` / ARSNOVA_COMPOSER); whether it exists is checked on use."""
    from models.common.learned import check_name

    try:
        return check_name(value)
    except UserFixableError as e:
        raise UserFixableError(f"{_named(source, value)}: {e}") from None


def check_data_dir(path: Path, source: str) -> Path:
    """Where sessions go (``--data-dir`` / ARSNOVA_HOME): a folder, or a path one can be made at."""
    p = Path(path).expanduser()
    existing = next((a for a in (p, *p.parents) if os.path.lexists(a)), None)
    if existing is not None and not existing.is_dir():
        what = "is a file" if existing == p else f"is under {existing}, which is a file"
        raise UserFixableError(f"{_named(source, p)}: {what}, not a folder; point it at a folder (made if missing)")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise UserFixableError(f"{_named(source, p)}: cannot write in {existing}; point it at a folder you can write")
    return p


def check_weights_dir(path: Path, source: str, new: bool = False) -> Path:
    """A weights folder (``--weights`` / ARSNOVA_WEIGHTS): an existing folder this process can read;
    ``new`` (`arsnova train … --install` writes there): one that can also be made."""
    p = Path(path).expanduser()
    if new and not p.exists():
        return check_data_dir(p, source)
    if not p.exists():
        raise UserFixableError(f"{_named(source, p)}: no such folder; point it at a folder of model weights, "
                               "or leave it out for the shipped models")
    if not p.is_dir():
        raise UserFixableError(f"{_named(source, p)}: not a folder; point it at the folder that holds the weights")
    if not os.access(p, os.R_OK | os.X_OK):
        raise UserFixableError(f"{_named(source, p)}: cannot be read (permission denied); fix its permissions or "
                               "point it at another folder")
    return p


def _named(source: str, value: object) -> str:
    """How the person wrote it: ``ARSNOVA_THREADS='abc'`` for a variable, ``--weights /x`` for a flag."""
    return f"{source} {value}" if source.startswith("-") else f"{source}={str(value)!r}"


def config_from_args(args, **extra) -> "Config":
    """The Config of a command line: flags first (checked here, each error naming its flag), then
    the ARSNOVA_* variables (checked in ``Config.from_env``), then the defaults."""
    new = args.command == "train"  # training installs into the weights folder, which it may make
    return Config.from_env(new_weights=new,
                           data_dir=check_data_dir(Path(args.data_dir), "--data-dir") if args.data_dir else None,
                           weights_dir=check_weights_dir(Path(args.weights), "--weights", new) if args.weights else None,
                           poet=getattr(args, "poet", None), image_model=getattr(args, "image_model", None),
                           composer=check_model_name(args.composer, "--composer") if getattr(args, "composer", None) else None,
                           **extra)


def ray_address() -> str | None:
    """$RAY_ADDRESS: the cluster `arsnova batch --ray` joins when given no address."""
    return os.environ.get("RAY_ADDRESS") or None


def image_service_requested() -> bool:
    """$ARSNOVA_IMAGE_SERVICE=1: draw a batch's pictures in one Ray actor even without a GPU."""
    return os.environ.get("ARSNOVA_IMAGE_SERVICE") == "1"


def debug_requested() -> bool:
    """ARSNOVA_DEBUG=1: internal errors raise with their traceback instead of one line."""
    return bool(os.environ.get("ARSNOVA_DEBUG"))


def image_display() -> str:
    """ARSNOVA_IMAGES: "halfblock" / "off" / "text" turn off pixel graphics in the chat; "" = detect."""
    return os.environ.get("ARSNOVA_IMAGES", "").strip().lower()


def default_data_dir() -> Path:
    env = os.environ.get("ARSNOVA_HOME")
    if env:
        return check_data_dir(Path(env), "ARSNOVA_HOME")
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
    composer: str | None = None  # None: the shipped music models; or a composer learned with `arsnova learn music`
    soundfont: Path | None = None  # $ARSNOVA_SOUNDFONT: a General MIDI soundfont for the WAVs
    styles_dir: Path | None = None  # $ARSNOVA_STYLES: a folder of the person's own named styles

    @classmethod
    def from_env(cls, new_weights: bool = False, **overrides) -> "Config":
        """``new_weights``: the weights folder is where training installs, so it may not exist yet."""
        env = {}
        if os.environ.get("ARSNOVA_WEIGHTS") and overrides.get("weights_dir") is None:
            env["weights_dir"] = check_weights_dir(Path(os.environ["ARSNOVA_WEIGHTS"]), "ARSNOVA_WEIGHTS", new_weights)
        if os.environ.get("ARSNOVA_PLANNER"):
            env["planner"] = os.environ["ARSNOVA_PLANNER"]
        if os.environ.get("ARSNOVA_POET"):
            env["poet"] = os.environ["ARSNOVA_POET"]
        if os.environ.get("ARSNOVA_COMPOSER"):
            env["composer"] = check_model_name(os.environ["ARSNOVA_COMPOSER"], "ARSNOVA_COMPOSER")
        if os.environ.get("ARSNOVA_IMAGE_MODEL"):
            env["image_model"] = os.environ["ARSNOVA_IMAGE_MODEL"]
        if os.environ.get("ARSNOVA_SOUNDFONT"):
            env["soundfont"] = Path(os.environ["ARSNOVA_SOUNDFONT"]).expanduser()
        if os.environ.get("ARSNOVA_STYLES"):
            env["styles_dir"] = Path(os.environ["ARSNOVA_STYLES"]).expanduser()
        if os.environ.get("ARSNOVA_THREADS") and overrides.get("threads") is None:
            env["threads"] = check_threads(os.environ["ARSNOVA_THREADS"], "ARSNOVA_THREADS")
        env.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**env)
