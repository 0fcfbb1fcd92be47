"""Exit codes say what happened (issue 17, round two): failed turns, environment variables,
--seed, unwritable or full output, Ctrl-C, a closed stdout pipe, and a quiet stderr."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.cli import main

ARSNOVA = [sys.executable, "-c", "import sys, agent.cli; sys.exit(agent.cli.main())"]  # the console script

ROOT = Path(__file__).resolve().parent.parent
BROKEN_MIDI = b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x10\x00\x90"  # track 1 cut short
posix_only = pytest.mark.skipif(os.name != "posix", reason="signals and pipes as on POSIX")


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_brief(folder: Path, *turns: str, name: str = "b.yaml") -> Path:
    p = folder / name
    p.write_text("turns:\n" + "".join(f"  - {json.dumps(t)}\n" for t in turns))
    return p


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def no_models(monkeypatch):
    """Any attempt to build the agent (and so to load models) fails the test loudly."""
    import agent.app

    def refuse(*a, **k):
        raise AssertionError("the models were loaded before the input was checked")

    monkeypatch.setattr(agent.app, "make_agent", refuse)


# ---- 1. a failed turn is recorded, and the exit code says so --------------------------------

def test_a_failed_turn_is_in_the_manifest_and_exits_2(capsys, tmp_path, tiny_weights):
    (tmp_path / "broken.mid").write_bytes(BROKEN_MIDI)
    brief = write_brief(tmp_path, "4 bars of music in G major", f"continue {tmp_path}/broken.mid for 4 bars",
                        f"restyle {tmp_path}/photo.png like {tmp_path}/missing-style.png")
    out = tmp_path / "o"
    code, _, err = run_cli(capsys, "--weights", str(tiny_weights), "run", str(brief), "--out", str(out))
    assert code == 2, err
    m = json.loads((out / "manifest.json").read_text())
    assert len(m["artifacts"]) == 1 and m["artifacts"][0]["args"]["key"] == "G major"
    assert [(f["turn"], f["tool"], f["kind"]) for f in m["failed"]] == [(2, "compose_music", "bad_input"),
                                                                         (3, "style_transfer", "bad_input")]
    assert m["failed"][0]["request"] == f"continue {tmp_path}/broken.mid for 4 bars"
    assert "truncated MIDI file" in m["failed"][0]["error"] and "\n" not in m["failed"][0]["error"]
    assert "photo.png" in m["failed"][1]["error"]
    lines = err.strip().splitlines()
    assert lines[-1].startswith("arsnova: turn 2 (compose_music) failed: ") and "truncated MIDI file" in lines[-1]
    assert "Traceback" not in err


def test_a_brief_where_nothing_worked_exits_with_the_reason(capsys, tmp_path, tiny_weights):
    (tmp_path / "broken.mid").write_bytes(BROKEN_MIDI)
    brief = write_brief(tmp_path, f"continue {tmp_path}/broken.mid for 4 bars")
    code, _, err = run_cli(capsys, "--weights", str(tiny_weights), "run", str(brief), "--out", str(tmp_path / "o"))
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert "truncated MIDI file" in last and "no artifacts" not in err
    assert not (tmp_path / "o").exists()


def test_a_bug_in_a_turn_exits_1_and_keeps_the_other_turns(capsys, tmp_path, tiny_weights, monkeypatch):
    import tools.compose_music as tool

    real = tool.run

    def buggy(args, ctx):
        if args.get("key") == "G major":
            raise RuntimeError("boom")
        return real(args, ctx)

    monkeypatch.setattr(tool, "run", buggy)
    brief = write_brief(tmp_path, "4 bars of music in C major", "4 bars of music in G major")
    out = tmp_path / "o"
    code, _, err = run_cli(capsys, "--weights", str(tiny_weights), "run", str(brief), "--out", str(out))
    assert code == 1
    m = json.loads((out / "manifest.json").read_text())
    assert len(m["artifacts"]) == 1 and [(f["turn"], f["kind"]) for f in m["failed"]] == [(2, "internal")]
    assert "RuntimeError: boom" in err.strip().splitlines()[-1]


def test_batch_marks_partial_and_failed_briefs(capsys, tmp_path, tiny_weights):
    (tmp_path / "broken.mid").write_bytes(BROKEN_MIDI)
    half = write_brief(tmp_path, "4 bars of music in G major", f"continue {tmp_path}/broken.mid for 4 bars",
                       name="half.yaml")
    none = write_brief(tmp_path, f"continue {tmp_path}/broken.mid for 4 bars", name="none.yaml")
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "--weights", str(tiny_weights), "batch", str(half), str(none), "--out", str(out))
    assert code == 2, err
    rows = {o["name"]: o for o in json.loads((out / "summary.json").read_text())["outcomes"]}
    assert rows["half"]["status"] == "partial" and rows["half"]["artifacts"] == 1 and rows["half"]["exit_code"] == 2
    assert [f["turn"] for f in rows["half"]["failed_turns"]] == [2] and "truncated MIDI" in rows["half"]["error"]
    assert json.loads((out / "half" / "manifest.json").read_text())["failed"][0]["tool"] == "compose_music"
    assert rows["none"]["status"] == "failed" and rows["none"]["bundle"] is None
    assert "truncated MIDI" in rows["none"]["error"] and not (out / "none").exists()


# ---- 2. environment variables are checked like flags ------------------------------------------

@pytest.mark.parametrize("value", ["abc", "0", "99999", "-2"])
def test_a_bad_thread_count_in_the_environment_is_one_line(capsys, monkeypatch, value):
    monkeypatch.setenv("ARSNOVA_THREADS", value)
    code, _, err = run_cli(capsys, "sessions")
    assert code == 2 and err.count("\n") == 1
    assert f"ARSNOVA_THREADS={value!r}" in err and "from 1 to 256" in err and "Traceback" not in err


def test_bad_folders_in_the_environment_and_flags_are_one_line(capsys, tmp_path, monkeypatch):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    monkeypatch.setenv("ARSNOVA_HOME", str(a_file))
    code, _, err = run_cli(capsys, "sessions")
    assert code == 2 and "ARSNOVA_HOME=" in err and "is a file, not a folder" in err
    monkeypatch.setenv("ARSNOVA_HOME", str(a_file / "below"))
    code, _, err = run_cli(capsys, "sessions")
    assert code == 2 and "ARSNOVA_HOME=" in err and "which is a file" in err
    monkeypatch.setenv("ARSNOVA_HOME", str(tmp_path / "home"))
    code, _, err = run_cli(capsys, "--data-dir", str(a_file), "sessions")
    assert code == 2 and err.startswith(f"arsnova: --data-dir {a_file}: is a file")

    for value, says in ((a_file, "not a folder"), (tmp_path / "missing", "no such folder")):
        monkeypatch.setenv("ARSNOVA_WEIGHTS", str(value))
        code, _, err = run_cli(capsys, "models")
        assert code == 2 and f"ARSNOVA_WEIGHTS='{value}'" in err and says in err and err.count("\n") == 1
        monkeypatch.delenv("ARSNOVA_WEIGHTS")
        code, _, err = run_cli(capsys, "--weights", str(value), "models")
        assert code == 2 and f"--weights {value}: {says}" in err
    # unreadable: root reads anything, so the permission answer is simulated
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: Path(p) != locked and real_access(p, mode, **k))
    monkeypatch.setenv("ARSNOVA_WEIGHTS", str(locked))
    code, _, err = run_cli(capsys, "models")
    assert code == 2 and "ARSNOVA_WEIGHTS=" in err and "cannot be read" in err


# ---- 3. --seed has the brief's range ---------------------------------------------------------

def test_seed_on_the_command_line_has_the_range_of_a_brief_seed(capsys, tmp_path, no_models):
    brief = write_brief(tmp_path, "4 bars of music in C major")
    for bad in ("-1", "2147483648"):
        code, _, err = run_cli(capsys, "run", str(brief), "--seed", bad, "--out", str(tmp_path / "o"))
        assert code == 2 and err == f"arsnova: --seed {bad} must be a whole number from 0 to 2147483647\n"
    big = tmp_path / "big.yaml"
    big.write_text("seed: 2147483648\nturns: [x]\n")
    code, _, err = run_cli(capsys, "run", str(big), "--out", str(tmp_path / "o"))
    assert code == 2 and err.endswith("field 'seed' must be a whole number from 0 to 2147483647\n")
    assert not (tmp_path / "o").exists()


# ---- 4. an output that cannot be written fails before the models load; a full data disk -------

def test_an_unwritable_or_full_output_is_refused_before_any_work(capsys, tmp_path, monkeypatch, no_models):
    import tempfile

    brief = write_brief(tmp_path, "4 bars of music in C major")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code, _, err = run_cli(capsys, "run", str(brief), "--out", str(a_file / "bundle"))
    assert code == 2 and f"{a_file} is a file, not a folder" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "batch", str(brief), "--out", str(a_file / "batch"))
    assert code == 2 and f"{a_file} is a file, not a folder" in err

    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    with monkeypatch.context() as m:
        m.setattr(tempfile, "mkstemp", read_only)
        code, _, err = run_cli(capsys, "run", str(brief), "--out", str(tmp_path / "ro" / "bundle"))
    assert code == 2 and f"cannot write in {tmp_path} (Read-only file system)" in err

    class Full:
        f_bavail, f_frsize = 0, 4096

    with monkeypatch.context() as m:
        m.setattr(os, "statvfs", lambda p: Full())
        code, _, err = run_cli(capsys, "run", str(brief), "--out", str(tmp_path / "bundle"))
    assert code == 2 and f"the disk holding {tmp_path} is full" in err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # the probe file is gone


def test_a_full_disk_under_the_data_folder_is_named_as_such(capsys, tmp_path, monkeypatch, isolated_home):
    real_connect = sqlite3.connect

    def full(*a, **k):
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as m:
        m.setattr(sqlite3, "connect", full)
        code, _, err = run_cli(capsys, "sessions")
    assert code == 2 and f"the disk holding the data folder {isolated_home} is full" in err
    assert "unreadable" not in err

    def no_space(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(Path, "mkdir", no_space)
        code, _, err = run_cli(capsys, "--data-dir", str(tmp_path / "new-home"), "sessions")
    assert code == 2 and f"data folder {tmp_path / 'new-home'} is full" in err
    assert real_connect is sqlite3.connect


# ---- 5. Ctrl-C exits 130 after cleaning up ---------------------------------------------------

def _default_sigint() -> None:
    """A child started from a background job (``pytest &`` in a script) inherits SIGINT as
    ignored, as shells do for background jobs, and Python then keeps it ignored; a person
    pressing Ctrl-C has the default, so the child gets it back before it starts."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(stream, text: str, timeout: float = 120.0) -> None:
    seen, t = [], time.monotonic()
    while time.monotonic() - t < timeout:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"{text!r} never printed; got {seen[-5:]}")


@posix_only
@pytest.mark.parametrize("command", ["run", "batch"])
def test_ctrl_c_exits_130_and_leaves_store_and_bundle_intact(capsys, tmp_path, tiny_weights, command):
    home = tmp_path / "home"
    out = tmp_path / "out"
    # a finished bundle where the interrupted command would write: it must stay as it is
    quick = write_brief(tmp_path, "4 bars of music in C major", name="quick.yaml")
    if command == "run":
        assert main(["--data-dir", str(tmp_path / "h0"), "--weights", str(tiny_weights), "run", str(quick),
                     "--out", str(out)]) == 0
        before = tree_hash(out)
    capsys.readouterr()
    brief = write_brief(tmp_path, "4 bars of music in C major", "128 bars of a lively reel in D major", name="long.yaml")
    env = {**os.environ, "ARSNOVA_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    argv = [command, str(brief), "--out", str(out)] + (["--json"] if command == "batch" else [])
    proc = subprocess.Popen([*ARSNOVA, "--weights", str(tiny_weights), *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                            preexec_fn=_default_sigint)
    try:
        _wait_for(proc.stdout, "[2/2]" if command == "run" else '"ToolFinished"')  # turn 1 is done
        time.sleep(0.5)  # inside turn 2
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "terminate called" not in err and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "arsnova: interrupted"
    if command == "run":
        assert tree_hash(out) == before
        db = home / "sessions.db"
        assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        from agent.session import SessionStore

        store = SessionStore(home)
        (session,) = store.list()
        assert [a.args.get("key") for a in store.artifacts(session.id)] == ["C major"]  # turn 1 kept
    else:
        assert not (out / ".work").exists()
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


@posix_only
def test_sigint_in_the_chat_exits_130_without_an_abort(tmp_path, tiny_weights):
    """The chat in a real pseudo-terminal, a tool running, then SIGINT: exit 130, the store intact."""
    import pty
    import select

    master, slave = pty.openpty()
    env = {**os.environ, "ARSNOVA_HOME": str(tmp_path / "home"), "TERM": "xterm-256color",
           "ARSNOVA_IMAGES": "halfblock"}
    proc = subprocess.Popen([*ARSNOVA, "--weights", str(tiny_weights), "chat"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True,
                            preexec_fn=_default_sigint)
    os.close(slave)
    screen = bytearray()

    def read_until(predicate, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            if select.select([master], [], [], 0.1)[0]:
                try:
                    screen.extend(os.read(master, 65536))
                except OSError:  # the child closed the terminal
                    return predicate()
        return predicate()

    try:
        assert read_until(lambda: b"Welcome" in screen, 60), bytes(screen[-500:])
        os.write(master, b"128 bars of a lively reel in D major\r")
        assert read_until(lambda: b"compose_music" in screen, 60), bytes(screen[-500:])
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        read_until(lambda: proc.poll() is not None, 60)
    finally:
        proc.kill()
        proc.wait(10)
        os.close(master)
    text = bytes(screen).decode("utf-8", "replace")
    assert proc.returncode == 130 and "terminate called" not in text and "Traceback" not in text
    db = tmp_path / "home" / "sessions.db"
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---- 6. a closed stdout pipe does not stop the bundle --------------------------------------

@posix_only
def test_a_closed_stdout_pipe_still_writes_the_whole_bundle(tmp_path, tiny_weights):
    brief = write_brief(tmp_path, "4 bars of music in C major", "4 bars of music in G major")
    out = tmp_path / "bundle"
    env = {**os.environ, "ARSNOVA_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([*ARSNOVA, "--weights", str(tiny_weights), "run",
                             str(brief), "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=ROOT)
    try:
        assert proc.stdout.readline().startswith(b"[1/2]")  # `| head -1`
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.wait(120)
    finally:
        proc.kill()
    assert proc.returncode in (0, 141), err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
    m = json.loads((out / "manifest.json").read_text())
    assert [a["args"]["key"] for a in m["artifacts"]] == ["C major", "G major"] and m["failed"] == []
    assert all((out / f).is_file() for a in m["artifacts"] for f in a["files"].values())


# ---- 7. a poem prints no warnings ------------------------------------------------------------

def test_a_poem_prints_no_warnings(tmp_path, tiny_weights):
    brief = write_brief(tmp_path, "Write a haiku about rain")
    r = subprocess.run([*ARSNOVA, "--weights", str(tiny_weights), "run",
                        str(brief), "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "ARSNOVA_HOME": str(tmp_path / "home")}, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Wrote a haiku" in r.stdout
    assert "Warning" not in r.stderr and "deprecated" not in r.stderr, r.stderr
