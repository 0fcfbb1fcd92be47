"""The model host: loads the generators lazily and keeps them across turns.

Tools ask it for a model by kind and spec (``host.get("poet", "hf:gpt2")``; None is the
embedded one); the first ask loads, later asks reuse. A spec is an argument of the turn
(``TurnSettings.poet``/``image_model``), so switching the poet in the chat is just the next
turn asking for another spec; ``preload`` loads one ahead (the palette does, off the UI
thread) and raises, leaving nothing changed, when it cannot. Several specs of one kind stay loaded (at most ``keep`` each, oldest dropped).
The agent sees only ``preload`` and ``loaded_models``; tools see ``get`` and ``is_loaded``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("music", "poet", "image", "vgg")


@dataclass(frozen=True)
class Resources:
    """Files the person points the models at ($ARSNOVA_SOUNDFONT, $ARSNOVA_STYLES): read once by
    agent/config.py, handed down here, never looked up in the environment by a model."""

    soundfont: Path | None = None
    styles: Path | None = None


@dataclass
class ModelHost:
    """``loaders[kind](spec) -> model``; ``resources``: the person's soundfont and styles folder."""

    loaders: dict[str, Callable[[str | None], object]]
    resources: Resources = field(default_factory=Resources)
    keep: int = 2
    data_dir: Path | None = None  # where the models learned from the person's work are
    weights_dir: Path | None = None  # the shipped weights (and the poets shipped in weights/authors)
    _loaded: dict[str, OrderedDict] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def is_loaded(self, kind: str, spec: str | None = None) -> bool:
        return spec in self._loaded.get(kind, {})

    def get(self, kind: str, spec: str | None = None):
        if kind not in self.loaders:
            from models.common.errors import ModelFileError

            raise ModelFileError(f"no {kind} model configured")
        with self._lock:
            cache = self._loaded.setdefault(kind, OrderedDict())
            if spec not in cache:
                model = self.loaders[kind](spec)  # raises: nothing is cached
                cache[spec] = model
                while len(cache) > self.keep:
                    cache.popitem(last=False)
            cache.move_to_end(spec)
            return cache[spec]

    def preload(self, kind: str, spec: str | None) -> object:
        """Load ``kind`` for ``spec`` now (a palette switch); raises when it cannot."""
        return self.get(kind, spec)

    def loaded_models(self) -> list[str]:
        """What has been loaded so far (models load on first use), for the status bar."""
        names = []
        for kind in KINDS:
            for model in self._loaded.get(kind, {}).values():
                names.append(describe(kind, model))
        return names


def describe(kind: str, model) -> str:
    if kind == "music":
        name = f" ({model.name})" if getattr(model, "name", None) else ""
        return "music " + ",".join(sorted(getattr(model, "_meta", {})) or ["ready"]) + name
    if kind == "vgg":
        return "vgg19"
    return f"{kind} {getattr(model, 'model_id', '?')}"


def make_host(weights_dir: Path | None = None, encoder: Callable | None = None, vgg_factory: Callable | None = None,
              cache_dir: Path | None = None, image_loader: Callable | None = None,
              resources: Resources | None = None, data_dir: Path | None = None) -> ModelHost:
    """The host for the shipped weights (or ``weights_dir``); ``image_loader(spec)`` replaces the
    picture model's loader (a batch worker drawing through a Ray image service); ``data_dir``
    holds the composers and poets learned from a person's work (a spec that is their name)."""
    from models.music.generator import MusicGenerator
    from models.common.runtime import default_weights_dir

    wd = weights_dir or default_weights_dir()

    def load_encoder():
        from models.common.encoder import load_encoder as load

        return (encoder or load)()

    def load_poet(spec: str | None):
        from models.poetry.kit import load_poet_kit

        # a learned poet shares the embedded poet's kit: the one this host already holds
        return load_poet_kit(wd, spec, load_encoder(), cache_dir, data_dir, embedded=lambda: host.get("poet", None))

    def load_music(spec: str | None):
        if spec in (None, "", "embedded"):
            return MusicGenerator.from_dir(weights_dir)
        from models.common.learned import find_learned

        return MusicGenerator.from_learned(find_learned(data_dir, "music", spec), weights_dir)

    def load_image(spec: str | None):
        from models.image.generator import load_image_kit

        return load_image_kit(spec, wd, encoder or load_encoder)

    def load_vgg(spec: str | None):
        from models.style.vgg19 import default_vgg

        return (vgg_factory or default_vgg)()

    host = ModelHost(
        loaders={"music": load_music, "poet": load_poet,
                 "image": image_loader or load_image, "vgg": load_vgg},
        resources=resources or Resources(), data_dir=data_dir, weights_dir=wd,
    )
    return host
