"""SIGKILL during a turn and during an export: on restart every finished artifact is there, no
partial file or bundle is, and the session database passes SQLite's integrity check."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ARSNOVA = [sys.executable, "-c", "import sys, agent.cli; sys.exit(agent.cli.main())"]  # the console script

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")


def wait_for_line(proc, text: str, timeout: float = 120.0) -> list[str]:
    seen, t = [], time.monotonic()
    while time.monotonic() - t < timeout:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never printed; got {seen[-5:]}")


def test_kill_during_a_turn_keeps_finished_artifacts(tmp_path, tiny_weights):
    brief = tmp_path / "b.yaml"
    brief.write_text("turns:\n  - 4 bars of music in C major\n  - 128 bars of a lively reel in D major\n")
    env = {**os.environ, "ARSNOVA_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([*ARSNOVA, "--weights", str(tiny_weights), "run",
                             str(brief), "--out", str(tmp_path / "bundle")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        wait_for_line(proc, "done: Composed 4 bars")
        wait_for_line(proc, "[2/2]")
        time.sleep(1.0)  # inside the long second piece
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    from agent.session import SessionStore

    store = SessionStore(tmp_path / "home")
    (session,) = store.list()
    arts = store.artifacts(session.id)
    assert [a.args.get("bars") for a in arts] == [4]
    folder = store.session_dir(session.id)
    assert all((folder / f).is_file() for f in arts[0].files.values())
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == [] and len(list(folder.glob("*.mid"))) == 1
    assert not (tmp_path / "bundle").exists()
    db = tmp_path / "home" / "sessions.db"
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_kill_during_an_export_leaves_no_partial_bundle(tmp_path, tiny_weights):
    """The exporter is made slow (each copy sleeps) so the kill lands mid-copy, then export again."""
    from agent.app import make_agent
    from agent.config import Config

    agent = make_agent(Config(data_dir=tmp_path / "home", weights_dir=tiny_weights, threads=1))
    sid = agent.store.create("t").id
    list(agent.run("4 bars of music in C major and 4 bars in A minor", sid))
    out = tmp_path / "bundle"
    script = (
        "import shutil, sys, time\n"
        "from agent.export import export_session\n"
        "from agent.session import SessionStore\n"
        "real = shutil.copyfile\n"
        "def slow(a, b, **k):\n"
        "    print('copying', flush=True); time.sleep(30); return real(a, b, **k)\n"
        "shutil.copyfile = slow\n"
        f"export_session(SessionStore({str(tmp_path / 'home')!r}), {sid!r}, {str(out)!r})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    try:
        wait_for_line(proc, "copying", 60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    assert not out.exists()  # no partial bundle where the bundle goes
    assert [p.name.split(".tmp-")[0] for p in tmp_path.glob(".bundle.tmp-*")] == [".bundle"]  # the hidden work dir
    from agent.export import export_session

    export_session(agent.store, sid, out)  # the next export clears it and succeeds
    assert (out / "manifest.json").exists() and not list(tmp_path.glob(".bundle.tmp-*"))
