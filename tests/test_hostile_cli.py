"""The README's promise for bad input, case by case: exit 2, one line on stderr, no traceback, no
ESC byte on either stream, and every file and folder is byte-for-byte as it was: nothing is written.

Each case builds its hostile input in ``tmp_path`` beside a "foreign" folder (someone's project
with a manifest.json and a .git), runs the real CLI in-process, and compares hashes of the
whole tree outside the places the case may write. Cases that load no model run in well under a
second each; the two that need a picture use the tiny models.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from agent.cli import main

ESC = "\x1b"
HOSTILE = "\x1b]52;c;SGVsbG8=\x07\x1b[2J\u202e"


def tree(root: Path) -> dict[str, str]:
    """Every file and link under ``root`` (but the session store's home) with its content hash."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.relative_to(root).parts[:1] == ("home",):
            continue
        if p.is_symlink():
            out[str(p.relative_to(root))] = "link:" + os.readlink(p)
        elif p.is_file() and p.stat().st_size > 2**26:  # the sparse 3 GB brief: its size and time will do
            out[str(p.relative_to(root))] = f"{p.stat().st_size}:{p.stat().st_mtime_ns}"
        elif p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def foreign(root: Path) -> Path:
    """Someone's web extension: a manifest.json, code and a .git, which nothing may touch."""
    d = root / "extension"
    (d / ".git").mkdir(parents=True)
    (d / "manifest.json").write_text('{"name": "my extension", "manifest_version": 3}')
    (d / "background.js").write_text("console.log('hi')\n")
    (d / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return d


def brief(folder: Path, body: str, name: str = "b.yaml") -> Path:
    p = folder / name
    p.write_bytes(body.encode("utf-8") if isinstance(body, str) else body)
    return p


def png_with(folder: Path, params: dict) -> Path:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("arsnova", json.dumps(params))
    p = folder / "drawn.png"
    Image.new("RGB", (32, 32), "red").save(p, pnginfo=info)
    return p


# name -> f(tmp_path, foreign_dir) -> argv (the foreign dir must come out untouched)
CASES = {
    "run --out a foreign folder with a manifest": lambda t, f: ["run", str(brief(t, "turns: [a haiku]")), "--out", str(f)],
    "a brief exporting into a foreign folder": lambda t, f: [
        "run", str(brief(t, f"turns: [a haiku]\nexport: {foreign(t).name}\n"))],
    "a brief exporting out of its folder": lambda t, f: ["run", str(brief(t, "turns: [a haiku]\nexport: ../x\n"))],
    "a brief exporting to an absolute path": lambda t, f: ["run", str(brief(t, f"turns: [a haiku]\nexport: {f}\n"))],
    "batch --out a foreign folder": lambda t, f: ["batch", str(brief(t, "turns: [a haiku]")), "--out", str(f)],
    "the brief is /dev/zero": lambda t, f: ["run", "/dev/zero", "--out", str(t / "o")],
    "the brief is a FIFO": lambda t, f: (os.mkfifo(t / "pipe.yaml"), ["run", str(t / "pipe.yaml"), "--out", str(t / "o")])[1],
    "the brief is a folder": lambda t, f: ["run", str(t), "--out", str(t / "o")],
    "a 3 GB brief": lambda t, f: (open(t / "big.yaml", "wb").truncate(3 * 2**30),
                                   ["run", str(t / "big.yaml"), "--out", str(t / "o")])[1],
    "a brief 60,000 levels deep": lambda t, f: ["run", str(brief(t, "turns: " + "[" * 60000 + "]" * 60000))],
    "duplicate keys in a brief": lambda t, f: ["run", str(brief(t, "turns: [a]\nturns: [b]\n"))],
    "a brief with control characters and a bad field": lambda t, f: [
        "run", str(brief(t, json.dumps({"title": HOSTILE, "turns": ["a haiku"], "colour": HOSTILE})))],
    "a missing brief named with escapes": lambda t, f: ["run", str(t / f"{HOSTILE}.yaml")],
    "a brief that is not UTF-8": lambda t, f: ["run", str(brief(t, b"turns: [\xff\xfe]\n"))],
    "a seed out of range": lambda t, f: ["run", str(brief(t, "turns: [a haiku]")), "--seed", str(2**31)],
    "absurd threads for a batch": lambda t, f: ["batch", str(brief(t, "turns: [a]")), "--out", str(t / "o"),
                                                "--threads", "100000"],
    "weights that are a file": lambda t, f: ["--weights", str(f / "background.js"), "models"],
    "a data folder that is a file": lambda t, f: ["--data-dir", str(f / "background.js"), "sessions"],
    "export of an unknown session": lambda t, f: ["export", "20260101-000000-dead", "--out", str(t / "o")],
    "re-draw /dev/zero": lambda t, f: ["image", "--from-png", "/dev/zero", "--out", str(t / "o")],
    "re-draw a PNG that is not ours": lambda t, f: ["image", "--from-png", str(png_with(t, {})), "--out", str(t / "o")],
    "re-draw a PNG asking for 10^9 steps": lambda t, f: [
        "image", "--from-png", str(png_with(t, {"tool": "generate_image", "prompt": "x", "seed": 1, "steps": 10**9,
                                                "guidance": 3.0})), "--out", str(t / "o")],
    "re-draw a PNG with infinite guidance": lambda t, f: [
        "image", "--from-png", str(png_with(t, {"tool": "generate_image", "prompt": "x", "seed": 1, "steps": 2,
                                                "guidance": float("inf")})), "--out", str(t / "o")],
    "re-draw into a symlink": lambda t, f: (os.symlink(f, t / "link"), [
        "image", "--from-png", str(png_with(t, {"tool": "generate_image", "prompt": "x", "seed": 1, "steps": 2,
                                                "guidance": 3.0})), "--out", str(t / "link")])[1],
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_input_is_one_line_exit_2_and_touches_nothing_foreign(case, tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("ARSNOVA_THREADS", "1")
    work = tmp_path / "work"
    work.mkdir()
    f = foreign(tmp_path)
    argv = CASES[case](work, f)
    before = tree(tmp_path)  # the foreign folder, the hostile inputs, everything: nothing may change
    code = main(argv)
    out, err = capfd.readouterr()
    assert code == 2, (case, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arsnova: "), (case, err)
    assert "Traceback" not in out + err
    assert ESC not in out + err and "\x9b" not in out + err and "\u202e" not in out + err
    assert tree(tmp_path) == before, case


@pytest.mark.parametrize("variable,value", [("ARSNOVA_THREADS", "abc"), ("ARSNOVA_THREADS", "0"),
                                            ("ARSNOVA_HOME", "FILE"), ("ARSNOVA_WEIGHTS", "FILE")])
def test_bad_environment_is_one_line_exit_2(variable, value, tmp_path, capfd, monkeypatch):
    f = foreign(tmp_path)
    monkeypatch.setenv(variable, str(f / "background.js") if value == "FILE" else value)
    before = tree(f)
    code = main(["sessions"] if variable != "ARSNOVA_WEIGHTS" else ["models"])
    out, err = capfd.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1 and variable in err and "Traceback" not in err
    assert tree(f) == before


def test_a_png_naming_another_model_is_never_opened_as_a_path(tmp_path, capfd, tiny_weights):
    """The model inside a PNG is compared with the configured one's name, never loaded from."""
    import shutil

    from tests.tiny import make_tiny_image_model

    weights = Path(shutil.copytree(tiny_weights, tmp_path / "w"))
    make_tiny_image_model(weights)
    bait = tmp_path / "evil-model"
    bait.mkdir()
    png = png_with(tmp_path, {"tool": "generate_image", "prompt": "a red boat", "seed": 1, "steps": 2,
                              "guidance": 3.0, "model": f"sd:{bait}"})
    code = main(["--weights", str(weights), "image", "--from-png", str(png), "--out", str(tmp_path / "o")])
    out, err = capfd.readouterr()
    assert code == 2 and "was drawn by the model" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() and list(bait.iterdir()) == []


@pytest.mark.parametrize("name", ["music-rnn", "Music-Transformer", "arsnova-poet", "shakespeare"])
def test_a_learned_model_may_not_take_a_shipped_models_name(name, tmp_path, capfd):
    """`arsnova models` names these; a learned one of the same name would pass for the shipped one."""
    folder = tmp_path / "tunes"
    folder.mkdir()
    before = tree(tmp_path)
    assert main(["--data-dir", str(tmp_path / "home"), "learn", "music", str(folder), "--name", name]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "taken by a shipped model" in err[0] and ESC not in err[0], err
    assert tree(tmp_path) == before and not (tmp_path / "home" / "models").exists()


def test_learn_clears_only_a_staging_folder_it_marked(tmp_path):
    """A `.staging-NAME` folder Ars Nova did not make (no mark) is never emptied; one it made is."""
    from models.common import learned
    from models.common.errors import UserFixableError

    theirs = tmp_path / "models" / "music" / ".staging-tunes"
    theirs.mkdir(parents=True)
    (theirs / "precious.mid").write_bytes(b"MThd mine")
    with pytest.raises(UserFixableError, match="Ars Nova did not make it"):
        learned.staging_dir(tmp_path, "music", "tunes")
    assert (theirs / "precious.mid").read_bytes() == b"MThd mine"
    ours = learned.staging_dir(tmp_path, "music", "other")
    (ours / "half-written.safetensors").write_bytes(b"x")
    again = learned.staging_dir(tmp_path, "music", "other")  # an interrupted learn of ours starts clean
    assert again == ours and sorted(p.name for p in again.iterdir()) == [learned.STAGING_MARK]
