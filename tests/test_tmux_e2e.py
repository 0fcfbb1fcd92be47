"""The real app in a real terminal (tmux) on the shipped models, read back with capture-pane.
Slow (starts the app, loads the models): run with `pytest -m slow`."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-t", session, "-p"], capture_output=True, text=True).stdout


def wait_screen(session: str, text: str, timeout: float) -> str:
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        screen = capture(session)
        if text in screen:
            return screen
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not on screen after {timeout}s:\n{capture(session)}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
def test_chat_under_tmux(tmp_path):
    session = f"arsnova-test-{os.getpid()}"
    exe = Path(sys.executable).parent / "arsnova"
    cmd = f"ARSNOVA_HOME={tmp_path} {exe} chat"  # run through `exec env` in the session's shell
    # a shell first, at a known size, then the app: it reads the size when it starts
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "50"], check=True)
    subprocess.run(["tmux", "resize-window", "-t", session, "-x", "120", "-y", "50"], capture_output=True)
    subprocess.run(["tmux", "send-keys", "-t", session, f"exec env {cmd}", "Enter"], check=True)
    try:
        wait_screen(session, "Welcome to Ars Nova", 30)
        subprocess.run(["tmux", "send-keys", "-t", session, "a haiku about rain, and 8 bars of calm music in F major", "Enter"])
        wait_screen(session, "Wrote a haiku", 90)  # shown, then scrolled past
        screen = wait_screen(session, "Composed 8 bars in F major", 90)
        assert "round 0: quality" in screen and "planner: router" in screen and "│" in screen
        # a picture, drawn by the shipped image model, shown inline with its action buttons
        subprocess.run(["tmux", "send-keys", "-t", session, "a picture of a blue car", "Enter"])
        screen = wait_screen(session, "Drew", 120)
        assert "Copy path" in screen or "Revise" in wait_screen(session, "Revise", 10)
        assert "▀" in capture(session)  # half-block pixels (tmux has no Sixel/Kitty graphics)
        # cancel a long one with Escape
        subprocess.run(["tmux", "send-keys", "-t", session, "128 bars of a lively reel in D major", "Enter"])
        wait_screen(session, "128 bars", 30)
        time.sleep(1.0)
        subprocess.run(["tmux", "send-keys", "-t", session, "Escape"])
        wait_screen(session, "cancelled", 10)
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"])
        time.sleep(1.5)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    mids = list(tmp_path.glob("sessions/*/*.mid"))
    assert len(mids) == 1  # the cancelled piece left no file behind
    assert len(list(tmp_path.glob("sessions/*/*.png"))) >= 1
