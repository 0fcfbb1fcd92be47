"""Shared fixtures: tiny real models, isolated data dirs, and a guard against network use."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("ARSNOVA_THREADS", "1")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a non-local connection fails the test (models must never be fetched)."""
    real = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("/"):
            raise RuntimeError(f"test tried to reach the network: {address}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ARSNOVA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ARSNOVA_WEIGHTS", raising=False)
    monkeypatch.delenv("ARSNOVA_PLANNER", raising=False)
    return tmp_path / "home"


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """Random-init tiny transformer + LSTM saved as the real checkpoint files, and a corpus index;
    and a tiny poet made by the real poetry pipeline (prepare -> train -> install)."""
    from tests.tiny import make_tiny_poet, make_tiny_weights

    weights = make_tiny_weights(tmp_path_factory.mktemp("weights"))
    make_tiny_poet(weights, tmp_path_factory.mktemp("poet-work"))
    return weights


@pytest.fixture(scope="session")
def encoder():
    from models.common.encoder import load_encoder

    return load_encoder()
