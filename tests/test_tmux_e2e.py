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


def send(session: str, *keys: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, *keys], check=True)


def start(session: str, home: Path, args: str = "") -> None:
    exe = Path(sys.executable).parent / "arsnova"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "110", "-y", "45"], check=True)
    subprocess.run(["tmux", "resize-window", "-t", session, "-x", "110", "-y", "45"], capture_output=True)
    send(session, f"exec env ARSNOVA_HOME={home} {exe} chat {args}", "Enter")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
def test_a_conversation_survives_buttons_sessions_and_a_restart(tmp_path):
    """Issue 23's walk-through: two requests; a card button pressed, then a third request typed
    (it runs: the prompt has the keys again); Ctrl+P -> new session and Ctrl+P -> switch back;
    quit; `arsnova chat --session ID` shows the poem's lines and the piano roll; PageUp scrolls."""
    session = f"arsnova-walk-{os.getpid()}"
    start(session, tmp_path)
    try:
        wait_screen(session, "Welcome to Ars Nova", 30)
        send(session, "a haiku about rain", "Enter")
        wait_screen(session, "Wrote a haiku", 90)
        send(session, "8 bars of calm music in F major", "Enter")
        wait_screen(session, "Composed 8 bars in F major", 90)
        wait_screen(session, "Copy path", 10)
        send(session, "Tab")
        send(session, "Tab")
        send(session, "Enter")  # whatever the focused control is, the keys go back to the prompt
        time.sleep(1.0)
        send(session, "2 bars of music in A minor", "Enter")
        wait_screen(session, "Composed 2 bars in A minor", 90)
        send(session, "C-p")
        time.sleep(0.5)
        send(session, "New session")
        time.sleep(0.5)
        send(session, "Enter")
        wait_screen(session, "New session.", 10)
        send(session, "C-p")
        time.sleep(0.5)
        send(session, "Switch session")
        time.sleep(0.5)
        send(session, "Enter")
        time.sleep(0.8)
        send(session, "haiku")
        time.sleep(0.5)
        send(session, "Enter")
        wait_screen(session, "Resumed", 20)
        send(session, "C-q")
        time.sleep(2.0)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    sid = subprocess.run([str(Path(sys.executable).parent / "arsnova"), "sessions"], capture_output=True, text=True,
                         env={**os.environ, "ARSNOVA_HOME": str(tmp_path)}).stdout
    sid = next(line.split()[0] for line in sid.splitlines() if "haiku" in line)
    start(session, tmp_path, f"--session {sid}")
    try:
        screen = wait_screen(session, "Composed 2 bars in A minor", 60)
        before = capture(session)
        assert "│" in screen  # the piano roll's rows (and the poem's gutter further up)
        send(session, "PageUp")
        send(session, "PageUp")
        time.sleep(1.0)
        after = capture(session)
        assert after != before
        assert "Wrote a haiku" in after or " │ " in after  # the poem, scrolled back into view
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
