"""Assemble an Agent from a Config: the one place that wires planner, model host and store."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import replace

from agent.config import Config
from agent.loop import Agent
from agent.planner import planner_cache
from agent.session import SessionStore
from tools.base import TurnSettings
from tools.host import ModelHost, Resources, make_host


def encoder_factory(config: Config) -> Callable:
    """A loader that reads the sentence encoder once, on first use, from any thread."""
    box: dict = {}
    lock = threading.Lock()

    def get():
        with lock:
            if "enc" not in box:
                from models.common.encoder import load_encoder

                box["enc"] = load_encoder(config.encoder_path)
            return box["enc"]

    return get


def settings_of(config: Config) -> TurnSettings:
    """The turn settings a configuration starts from (the chat's palette changes them per turn)."""
    return TurnSettings(planner=config.planner or "router", poet=config.poet, composer=config.composer,
                        image_model=config.image_model,
                        threads=config.threads or default_threads(), revise=config.revise)


def default_threads() -> int:
    """One thread per core but one: a core is left for the UI and the planner (DESIGN.md)."""
    return max(1, (os.cpu_count() or 2) - 1)


def make_agent(config: Config, store: SessionStore | None = None, planner=None, host: ModelHost | None = None,
               encoder: Callable | None = None, image_loader: Callable | None = None) -> Agent:
    """``host``/``encoder``: share already-loaded models between agents (batch workers);
    ``image_loader``: where pictures come from instead of the configured model (a Ray service)."""
    enc = encoder or encoder_factory(config)
    store = store or SessionStore(config.data_dir)
    host = host or make_host(config.weights_dir, enc, cache_dir=config.data_dir / "cache", image_loader=image_loader,
                             resources=Resources(config.soundfont, config.styles_dir), data_dir=config.data_dir)
    settings = settings_of(config)
    if planner is not None:
        settings = replace(settings, planner=planner.name)
    return Agent(planners=planner_cache(enc, planner), host=host, store=store, settings=settings, seed=config.seed)
