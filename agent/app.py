"""Assemble an Agent from a Config: the one place that wires planner, studio and store."""

from __future__ import annotations

import threading
from collections.abc import Callable

from agent.config import Config
from agent.loop import Agent
from agent.planner import make_planner
from agent.session import SessionStore
from agent.studio import make_studio


def encoder_factory(config: Config) -> Callable:
    """A loader that reads the sentence encoder once, on first use, from any thread."""
    box: dict = {}
    lock = threading.Lock()

    def get():
        with lock:
            if "enc" not in box:
                from models.encoder import load_encoder

                box["enc"] = load_encoder(config.encoder_path)
            return box["enc"]

    return get


def make_agent(config: Config, store: SessionStore | None = None, planner=None, studio=None,
               encoder: Callable | None = None) -> Agent:
    """``studio``/``encoder``: share already-loaded models between agents (batch workers)."""
    enc = encoder or encoder_factory(config)
    store = store or SessionStore(config.data_dir)
    studio = studio or make_studio(config.weights_dir, config.threads, config.revise, enc, poet=config.poet,
                                   cache_dir=config.data_dir / "cache", image_model=config.image_model)
    agent = Agent(planner=None, studio=studio, store=store, seed=config.seed)  # type: ignore[arg-type]
    agent.planner = planner or make_planner(config.planner, enc, agent.tools)
    return agent
