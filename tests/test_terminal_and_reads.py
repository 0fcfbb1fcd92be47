"""Hardening, round two: nothing from a person or a file reaches the terminal raw (agent/terminal.py),
every read is bounded before it starts (models/common/files.py), and brief YAML is depth-capped with
no duplicate keys (agent/brief.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import unicodedata
from pathlib import Path

import pytest

from agent.brief import MAX_NESTING, BriefError, load_brief, parse_brief
from agent.cli import main
from agent.terminal import json_line, safe_json, safe_text
from models.common.errors import InputFileError, ModelFileError
from models.common.files import open_regular, read_capped

# what a terminal would act on or what would make text read as something else
OSC52 = "\x1b]52;c;SGVsbG8=\x07"  # write "Hello" to the clipboard
OSC8 = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # a link hidden behind "click"
CLEAR = "\x1b[2J"
C1_CSI = "\x9b31m"
RLO = "\u202e"
ZWSP = "\u200b"
HOSTILE = f"a{OSC52}b{OSC8}c{CLEAR}d{C1_CSI}e{RLO}f{ZWSP}g\x07h\x7fi\x85j\u2066k\ufeffl\U000e0041m"


def unsafe(text: str) -> list[str]:
    """The characters in ``text`` that no printer may let through."""
    return [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F
            or unicodedata.category(c) in ("Cf", "Cs", "Zl", "Zp")]


def strings(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    return [s for x in obj for s in strings(x)] if isinstance(obj, list) else []


def assert_clean(*texts: str) -> None:
    for t in texts:
        bad = unsafe(t)
        assert not bad, f"raw {[hex(ord(c)) for c in bad[:8]]} in {t[:300]!r}"


# ---- A. terminal output ----------------------------------------------------------------------

def test_safe_text_shows_escapes_bidi_and_zero_width():
    shown = safe_text(HOSTILE)
    assert_clean(shown)
    assert shown == ("a\\x1b]52;c;SGVsbG8=\\x07b\\x1b]8;;http://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\c\\x1b[2Jd"
                     "\\x9b31me<U+202E>f<U+200B>g\\x07h\\x7fi\\x85j<U+2066>k<U+FEFF>l<U+E0041>m")
    # one line unless asked: a newline or CR in a file name cannot fake a second line of output
    assert safe_text("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert safe_text("a\r\nb\n\tc\rd", multiline=True) == "a\nb\n\tc\\rd"
    # undecodable bytes of a file name (surrogateescape) show as the bytes, and print() cannot fail on them
    assert safe_text(os.fsdecode(b"caf\xe9.yaml")) == "caf\\xe9.yaml"
    # joiners inside non-Latin words and emoji sequences are spelling; between ASCII letters they hide
    family, persian = "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    assert safe_text(family) == family and safe_text(persian) == persian
    assert safe_text("ad\u200dmin") == "ad<U+200D>min" and safe_text("\u200d") == "<U+200D>"


def test_chat_clean_removes_sequences_whole_and_keeps_lines():
    from tui import clean

    assert clean(HOSTILE) == "abclickcdefghijklm"
    assert clean("poem\nline two\r\n\tindented") == "poem\nline two\n\tindented"
    assert clean("a\x1b]0;unterminated title") == "a0;unterminated title"  # ESC ] goes, the text stays
    assert clean("\U0001f468\u200d\U0001f469") == "\U0001f468\u200d\U0001f469"


def test_every_format_character_is_covered():
    """agent/terminal.py lists Unicode's format characters (Cf); this Python's tables must not know more."""
    cf = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf" and c not in (0x200C, 0x200D)]
    assert cf and not [c for c in cf if safe_text(c) == c]
    assert_clean(safe_text("".join(cf)), safe_json(json.dumps("".join(cf), ensure_ascii=False)))


def test_json_lines_escape_what_a_terminal_would_obey():
    obj = {"title": HOSTILE, "poem": "雪の朝\n二の字二の字の", "path": os.fsdecode(b"/tmp/\xff.png")}
    line = json_line(obj)
    assert_clean(line)
    assert "\n" not in line and "雪の朝" in line  # readable Unicode stays readable
    assert json.loads(line) == obj  # the same value for any JSON reader
    pretty = safe_json(json.dumps(obj, ensure_ascii=False, indent=1))  # whitespace between tokens stays whitespace
    assert json.loads(pretty) == obj


HOSTILE_BRIEF = r"""title: "Set \e]52;c;SGVsbG8=\a \e]8;;http://evil.example/\e\\click\e]8;;\e\\ \e[2J \x9b31m \u202eevil\u200b"
seed: 1
turns:
  - "Write a haiku about rain \e[2J\e]0;pwned\a \u202edesrever \x9b2J"
"""


def test_a_hostile_brief_reaches_no_terminal_raw(capfd, tmp_path, tiny_weights):
    brief = tmp_path / "hostile.yaml"
    brief.write_text(HOSTILE_BRIEF)
    assert RLO in load_brief(brief).title and "\x1b" in load_brief(brief).turns[0]
    w = ["--weights", str(tiny_weights)]

    assert main([*w, "run", str(brief), "--out", str(tmp_path / "plain")]) == 0
    out, err = capfd.readouterr()
    assert_clean(out, err)
    assert "[1/1] Write a haiku about rain \\x1b[2J\\x1b]0;pwned\\x07 <U+202E>desrever \\x9b2J" in out

    assert main([*w, "run", str(brief), "--out", str(tmp_path / "json"), "--json"]) == 0
    out, err = capfd.readouterr()
    assert_clean(out, err)
    events = [json.loads(line) for line in out.splitlines()]
    assert any(e["event"] == "ToolFinished" for e in events)
    assert any("\x1b]0;pwned\x07" in s for s in strings(events))  # escaped in the JSON text, not lost

    assert main(["sessions"]) == 0
    out, err = capfd.readouterr()
    assert_clean(out, err)
    assert out.count("Set \\x1b]52;c;SGVsbG8=\\x07 \\x1b]8;;http://evil.example/") == 2

    # error lines: the file name carries the escape, the message shows it
    missing = tmp_path / f"{CLEAR}{RLO}missing.yaml"
    assert main(["run", str(missing)]) == 2
    out, err = capfd.readouterr()
    assert_clean(out, err)
    assert err.count("\n") == 1 and "\\x1b[2J<U+202E>missing.yaml: cannot read: no such brief file" in err
    # argparse's own messages name what was typed
    assert main(["run", str(brief), f"{OSC52}extra"]) == 2
    out, err = capfd.readouterr()
    assert_clean(out, err)
    assert err.count("\n") == 1 and "unrecognized arguments: \\x1b]52;c;SGVsbG8=\\x07extra" in err


def test_plan_models_and_batch_print_nothing_raw(capfd, tmp_path, tiny_weights):
    (tmp_path / f"w{CLEAR}").mkdir()  # an empty weights folder: `models` lists what is missing, and where
    for argv in (["plan", f"a haiku about snow {CLEAR}{RLO}{OSC52}"], ["plan", f"a haiku about snow {OSC8}", "--json"],
                 ["--weights", str(tmp_path / f"w{CLEAR}"), "models"]):
        assert main(argv) == 0
        out, err = capfd.readouterr()
        assert_clean(out, err)
        assert out.strip()
    # a batch whose brief is bad: its name and error in the table, the progress and the JSON lines
    bad = tmp_path / f"{OSC52}{RLO}.yaml"
    bad.write_text("turns: [a]\nturns: [b]\n")
    for extra in ([], ["--json"]):
        assert main(["batch", str(bad), "--out", str(tmp_path / f"batch{len(extra)}"), *extra]) == 2
        out, err = capfd.readouterr()
        assert_clean(out, err)
        assert "field 'turns' appears twice" in out
        if not extra:
            assert "\\x1b]52;c;SGVsbG8=\\x07<U+202E>.yaml:2: field 'turns'" in out


class _Tty:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, s: str) -> int:
        self.parts.append(s)
        return len(s)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def test_progress_printers_escape_event_text():
    from agent import events as ev
    from agent.batch import BatchProgress, BatchReport, BriefOutcome
    from agent.headless import ProgressPrinter

    tty = _Tty()
    show = ProgressPrinter(tty)
    show(ev.Progress("c", f"tool{CLEAR}", 1, 2, "steps", f"round {RLO}"))
    show(ev.ToolFailed("c", "write_poem", f"bad {OSC52}\nsecond line"))
    show(ev.Notice(f"note {C1_CSI}"))
    show(ev.Final(f"answer {OSC8}\nline two"))
    written = "".join(tty.parts)
    # the printer's own "go to column 0 (and clear the line)"
    ours = written.replace("\r\x1b[K", "").replace("\r  tool", "  tool")
    assert_clean(ours)
    assert "bad \\x1b]52;c;SGVsbG8=\\x07\nsecond line" in ours and "tool\\x1b[2J round <U+202E>: 1/2 steps" in ours

    tty = _Tty()
    progress = BatchProgress(1, tty, as_json=False)
    progress.line(json.dumps({"event": "BriefStarted", "brief": f"b{CLEAR}", "worker": f"w{RLO}", "attempt": 1}))
    progress.line(json.dumps({"event": "BriefFinished", "name": "b", "status": "failed", "seconds": 0.1,
                              "error": f"x {OSC52}", "artifacts": 0, "bundle": None}))
    assert_clean("".join(tty.parts).replace("\r\x1b[K", ""))
    jtty = _Tty()
    BatchProgress(1, jtty, as_json=True).line(json.dumps({"event": "Text", "text": HOSTILE}, ensure_ascii=False))
    assert_clean("".join(jtty.parts)) and json.loads("".join(jtty.parts))["text"] == HOSTILE
    report = BatchReport([BriefOutcome(f"n{RLO}", "p", "failed", 1.0, error=f"e {CLEAR}", worker=f"w{OSC52}")])
    assert_clean(report.table())


# ---- B. bounded reads ------------------------------------------------------------------------

def bounded(fn, *args, seconds: float = 5.0) -> dict:
    """Run ``fn(*args)`` in a forked child that is killed after ``seconds`` and may allocate at
    most 1 GiB more: code that blocks on a FIFO (even inside safetensors' Rust) or reads
    /dev/zero for ever fails the test instead of hanging it or filling the memory.
    -> {"returned": value} | {"raised": type name, "message": str} | {"killed": wait status}."""
    import resource

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running any of pytest's cleanup
        try:
            os.close(r)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)  # kills even a process stuck in a system call
            signal.setitimer(signal.ITIMER_REAL, seconds)
            vm = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmSize:")) * 1024
            resource.setrlimit(resource.RLIMIT_AS, (vm + 2**30, resource.getrlimit(resource.RLIMIT_AS)[1]))
            try:
                result = {"returned": fn(*args)}
            except BaseException as e:  # noqa: BLE001 - reported to the parent
                result = {"raised": type(e).__name__, "message": str(e)}
            os.write(w, json.dumps(result, default=str).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    return json.loads(data) if data else {"killed": status}


@pytest.fixture
def odd_files(tmp_path):
    """A FIFO, a character device, a directory, a socket and a sparse 3 GB file (no disk used)."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    sock = tmp_path / "sock.yaml"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as f:
        f.truncate(3 * 2**30)
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    yield {"fifo": (fifo, "named pipe (FIFO)"), "device": (Path("/dev/zero"), "character device"),
           "directory": (folder, "directory"), "socket": (sock, "socket"), "huge": (huge, "byte limit")}
    s.close()


def refused(result: dict, error: type, *words: str) -> None:
    assert result.get("raised") == error.__name__, result
    assert all(w in result["message"] for w in words) and "\n" not in result["message"], result


def test_read_capped_refuses_what_is_not_a_small_regular_file(odd_files, tmp_path):
    for kind, (path, words) in odd_files.items():
        # a loader that waited on the FIFO or read /dev/zero on would be killed in the child and
        # report no error: refused() fails on that, with no clock in the test
        refused(bounded(read_capped, path, 1024, "brief"), InputFileError, words, str(path))
    ok = tmp_path / "ok.yaml"
    ok.write_bytes(b"x" * 1024)
    (tmp_path / "link.yaml").symlink_to(ok)  # a link to a regular file is the person's own file
    assert read_capped(tmp_path / "link.yaml", 1024, "brief") == b"x" * 1024
    ok.write_bytes(b"x" * 1025)
    with pytest.raises(InputFileError, match="1025 bytes is over the 1024 byte limit"):
        read_capped(ok, 1024, "brief")
    with pytest.raises(InputFileError, match="NUL byte"):
        read_capped("a\x00b", 10, "brief")
    f, size = open_regular(tmp_path / "link.yaml", 2048, "brief")
    with f:
        assert size == 1025 and f.read() == b"x" * 1025


def _loaders():
    import PIL.Image  # noqa: F401 - the loaders' own imports, done before any clock starts
    import pretty_midi  # noqa: F401
    import safetensors.torch  # noqa: F401
    import yaml  # noqa: F401

    from models.common.checkpoint import load_safetensors
    from models.image.image_io import load_rgb, png_params
    from models.music.midi_io import read_midi

    return {"brief": (load_brief, BriefError), "midi": (read_midi, InputFileError),
            "image": (load_rgb, InputFileError), "png_params": (png_params, InputFileError),
            "weights": (load_safetensors, ModelFileError)}


@pytest.mark.parametrize("loader", ["brief", "midi", "image", "png_params", "weights"])
def test_every_loader_refuses_fifos_devices_directories_and_huge_files(loader, odd_files, tmp_path):
    load, error = _loaders()[loader]
    cases = dict(odd_files)
    if loader == "weights":  # the weights cap is 8 GiB: a sparse 9 GiB file
        huge = tmp_path / "huge.safetensors"
        with open(huge, "wb") as f:
            f.truncate(9 * 2**30)
        cases["huge"] = (huge, "byte limit")
    for kind, (path, words) in cases.items():
        refused(bounded(load, path), error, words)  # a hang is killed in the child: no error, so it fails


def test_weights_metadata_of_a_fifo_or_device_is_empty_not_a_hang(odd_files):
    from models.common.checkpoint import read_metadata

    for path in (odd_files["fifo"][0], Path("/dev/zero")):
        assert bounded(read_metadata, path) == {"returned": {}}


def _cli(argv: list[str]) -> tuple[int, str]:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def test_cli_refuses_devices_and_fifos_with_one_line(odd_files, tmp_path):
    fifo = str(odd_files["fifo"][0])
    for argv in (["run", "/dev/zero"], ["run", fifo], ["run", str(odd_files["directory"][0])],
                 ["run", str(odd_files["huge"][0])], ["image", "--from-png", "/dev/zero", "--out", str(tmp_path / "x")],
                 ["image", "--from-png", fifo, "--out", str(tmp_path / "x")]):
        r = bounded(_cli, argv, seconds=30.0)
        code, err = r.get("returned", (None, repr(r)))
        assert code == 2 and err.count("\n") == 1 and err.startswith("arsnova: "), (argv, r)
        assert "give a regular" in err or "byte limit" in err, (argv, err)
        assert not (tmp_path / "x").exists()


# ---- C. brief YAML: nesting depth and duplicate keys -----------------------------------------

DEEP = {
    "flow list": "turns: " + "[" * 60000 + "]" * 60000,
    "flow mapping": "turns: " + "{a: " * 30000 + "1" + "}" * 30000,
    "block list": "turns:\n" + "- " * 60000 + "x\n",
    "block mapping": "turns:\n" + "".join("  " * i + "a:\n" for i in range(1, 400)) + "  " * 400 + "x\n",
}


@pytest.mark.parametrize("kind", list(DEEP))
def test_deep_nesting_is_refused_at_the_cap(kind, monkeypatch):
    """Refused at the first level past the cap, after a handful of parser events, not after reading
    the whole document (counted, not timed: a loaded machine once took 1.6 s for what is ~0.1 s)."""
    import yaml

    raw = DEEP[kind].encode()
    assert len(raw) > 1000
    seen = []
    real_parse = yaml.parse

    def counting(*a, **k):
        for ev in real_parse(*a, **k):
            seen.append(ev)
            yield ev

    monkeypatch.setattr(yaml, "parse", counting)
    with pytest.raises(BriefError, match=f"nested more than {MAX_NESTING} levels deep"):
        parse_brief(raw, "deep.yaml")
    assert MAX_NESTING < len(seen) <= 2 * MAX_NESTING + 6  # a level: its start event and, in a mapping, a key


def test_nesting_under_the_cap_is_judged_as_usual(capfd, tmp_path):
    shallow = "title: " + "[" * (MAX_NESTING - 1) + "]" * (MAX_NESTING - 1) + "\nturns: [a]\n"
    with pytest.raises(BriefError, match="field 'title' must be text"):
        parse_brief(shallow.encode(), "ok.yaml")
    deep = tmp_path / "deep.yaml"
    deep.write_text(DEEP["flow list"])
    assert main(["run", str(deep)]) == 2
    out, err = capfd.readouterr()
    assert err.count("\n") == 1 and "deep.yaml:1: lists and mappings nested more than 32 levels" in err
    assert sys.getrecursionlimit() <= 10_000  # nobody raised the limit to make this pass


@pytest.mark.parametrize("text, message", [
    ("title: a\nturns:\n  - hi\nturns:\n  - again\n", "brief.yaml:4: field 'turns' appears twice (first on line 2); keep one"),
    ("seed: 1\nturns: [a]\nseed: 2\n", "brief.yaml:3: field 'seed' appears twice (first on line 1); keep one"),
    ("{turns: [a], title: x, title: y}", "brief.yaml:1: field 'title' appears twice (first on line 1); keep one"),
    ("turns:\n  - {a: 1,\n     a: 2}\n", "brief.yaml:3: key 'a' appears twice (first on line 2); keep one"),
    ("turns: [a]\n1: x\n0x1: y\n", "brief.yaml:3: field '1' appears twice (first on line 2); keep one"),
])
def test_duplicate_keys_name_both_lines(text, message):
    with pytest.raises(BriefError) as e:
        parse_brief(text.encode(), "brief.yaml")
    assert str(e.value) == message
