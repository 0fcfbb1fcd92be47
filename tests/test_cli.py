"""The command line end to end on tiny real models: run, plan, models, export, errors."""

import errno
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


BRIEF = """title: Test set
seed: 3
turns:
  - Write a haiku about autumn rain.
  - Compose 4 bars of slow piano music in D minor.
  - Make the music less conventional.
"""


@pytest.fixture
def brief(tmp_path):
    p = tmp_path / "set.yaml"
    p.write_text(BRIEF)
    return p


def test_run_brief_makes_a_bundle(capsys, tmp_path, brief, tiny_weights):
    out = tmp_path / "bundle"
    code, stdout, err = run_cli(capsys, "--weights", str(tiny_weights), "run", str(brief), "--out", str(out))
    assert code == 0, err
    assert "Wrote a haiku" in stdout
    m = json.loads((out / "manifest.json").read_text())
    assert m["format"] == "arsnova-bundle/1" and m["seed"] == 3 and m["planner"] == "router"
    assert m["brief"]["turns"][1] == "Compose 4 bars of slow piano music in D minor."
    arts = m["artifacts"]
    assert [a["kind"] for a in arts] == ["poem", "music", "music"]
    assert arts[0]["path"].startswith("poems/") and arts[0]["path"].endswith(".md")
    assert (out / arts[0]["path"]).read_text().startswith("---\ntitle: ")
    a = arts[1]
    assert a["request"] == "Compose 4 bars of slow piano music in D minor." and a["tool"] == "compose_music"
    assert a["args"] == {"mood": "slow", "key": "D minor", "tempo": 72, "bars": 4, "instrument": "piano",
                         "form": "AABA", "accompaniment": "auto"}  # a slow piano piece: restated, accompanied
    for k in ("quality", "novelty", "adherence", "copy_rate", "pitch_in_scale", "scale_consistency"):
        assert k in a["scores"]
    assert a["trajectory"][0]["round"] == 0 and a["model"].startswith("arsnova/music-transformer")
    for f in a["files"].values():
        assert (out / f).is_file()
    assert (out / "index.html").read_text().count("<section>") == 3
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(out / a["files"]["midi"]))
    assert round(pm.get_tempo_changes()[1][0]) == 72 and pm.key_signature_changes[0].key_number == 14  # D minor
    # the revision turn re-ran the same request with a raised novelty target
    assert arts[2]["args"] == a["args"]


def test_same_brief_and_seed_give_the_same_bundle(capsys, tmp_path, brief, tiny_weights):
    hashes = []
    for name in ("a", "b"):
        code, _, err = run_cli(capsys, "--weights", str(tiny_weights), "run", str(brief), "--out", str(tmp_path / name))
        assert code == 0, err
        hashes.append(tree_hash(tmp_path / name))
    assert hashes[0] == hashes[1]
    code, _, _ = run_cli(capsys, "--weights", str(tiny_weights), "run", str(brief), "--seed", "4", "--out", str(tmp_path / "c"))
    assert tree_hash(tmp_path / "c") != hashes[0]


def test_json_events(capsys, tmp_path, brief, tiny_weights):
    code, out, _ = run_cli(capsys, "--weights", str(tiny_weights), "run", str(brief), "--json", "--out", str(tmp_path / "j"))
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds.count("PlanMade") == 3 and "Progress" in kinds and "Critique" in kinds and kinds[-1] == "Exported"
    finished = [e for e in events if e["event"] == "ToolFinished"]
    assert [f["artifact"]["kind"] for f in finished] == ["poem", "music", "music"]


def test_bad_brief_exits_2_with_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\nturns: 5\n")
    code, out, err = run_cli(capsys, "run", str(bad), "--out", str(tmp_path / "o"))
    assert code == 2 and err.count("\n") == 1 and "bad.yaml:2: field 'turns' must be a list" in err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_refuses_to_overwrite_a_foreign_directory(capsys, tmp_path, brief):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "thesis.txt").write_text("precious")
    code, _, err = run_cli(capsys, "run", str(brief), "--out", str(d))
    assert code == 2 and "not an Ars Nova bundle" in err
    assert (d / "thesis.txt").read_text() == "precious"


def test_corrupt_primer_is_reported_and_the_session_goes_on(capsys, tmp_path, tiny_weights):
    (tmp_path / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x10\x00\x90")
    brief = tmp_path / "p.yaml"
    brief.write_text(f"turns:\n  - continue {tmp_path}/broken.mid for 4 bars\n  - 4 bars of music in G major\n")
    code, out, err = run_cli(capsys, "--weights", str(tiny_weights), "run", str(brief), "--out", str(tmp_path / "o"))
    assert code == 2, err  # the bundle holds what worked; the exit code says a turn did not (test_exit_codes.py)
    assert "broken.mid: truncated MIDI file (track 1 is cut short)" in out
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert len(m["artifacts"]) == 1 and m["artifacts"][0]["args"]["key"] == "G major"


def test_plan_json(capsys):
    code, out, _ = run_cli(capsys, "plan", "a sonnet about the sea and a jig in D major", "--json")
    data = json.loads(out)
    assert code == 0 and data["planner"] == "router"
    assert [c["name"] for c in data["tool_calls"]] == ["write_poem", "compose_music"]
    assert data["tool_calls"][1]["args"]["key"] == "D major" and data["tool_calls"][1]["args"]["meter"] == "6/8"


def test_models_lists_what_is_there(capsys, tiny_weights):
    code, out, _ = run_cli(capsys, "--weights", str(tiny_weights), "models")
    assert code == 0
    assert "music-transformer" in out and "all-MiniLM-L6-v2" in out and "not trained yet" in out and "arsnova-poet" in out


def test_export_a_stored_session_and_a_disk_full_export_leaves_nothing(capsys, tmp_path, brief, tiny_weights,
                                                                       monkeypatch, isolated_home):
    code, _, _ = run_cli(capsys, "--weights", str(tiny_weights), "run", str(brief), "--out", str(tmp_path / "first"))
    code, out, _ = run_cli(capsys, "sessions")
    sid = out.split()[0]
    code, out, err = run_cli(capsys, "export", sid, "--out", str(tmp_path / "again"))
    assert code == 0, err
    assert json.loads((tmp_path / "again" / "manifest.json").read_text())["session"] == sid

    import shutil

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(shutil, "copyfile", full)
        code, _, err = run_cli(capsys, "export", sid, "--out", str(tmp_path / "full"))
    assert code == 1 and "No space left on device" in err
    assert not (tmp_path / "full").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".full")] == []
    code, out, _ = run_cli(capsys, "sessions")
    assert sid in out  # the store is intact


def test_unknown_session_and_absurd_arguments(capsys, tmp_path):
    code, _, err = run_cli(capsys, "export", "no-such-session", "--out", str(tmp_path / "x"))
    assert code == 2 and "no session 'no-such-session'" in err
    code, _, err = run_cli(capsys, "train", "music", "--steps", "-4")
    assert code == 2 and "--steps must be between" in err
    code, _, err = run_cli(capsys, "frobnicate")
    assert code == 2 and "invalid choice" in err
    code, _, err = run_cli(capsys, "train", "image", "--steps", "0")
    assert code == 2 and "--steps must be between" in err
    code, _, err = run_cli(capsys, "train", "poetry", "--max-seconds", "-1")
    assert code == 2 and "--max-seconds must be 0" in err
    code, _, err = run_cli(capsys, "train", "upscaler", "--max-seconds", "-5")
    assert code == 2 and "--max-seconds must be 0" in err


def test_console_script_help_is_fast_and_light():
    r = subprocess.run([sys.executable, "-c", "import sys, agent.cli; sys.exit(agent.cli.main(['--help']))"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "arsnova" in r.stdout
    r = subprocess.run([sys.executable, "-c", "import sys, agent.cli; agent.cli.main(['--help']); "
                        "print('torch' in sys.modules, 'textual' in sys.modules)"], capture_output=True, text=True)
    assert r.stdout.strip().splitlines()[-1] == "False False"  # heavy imports wait for the command that needs them


def test_output_names_that_cannot_be_bundles(capsys, tmp_path, brief):
    long = tmp_path / ("n" * 300)
    code, _, err = run_cli(capsys, "run", str(brief), "--out", str(long))
    assert code == 2 and "the limit is 255" in err and not any(p.name.startswith("nnn") for p in tmp_path.iterdir())
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    code, _, err = run_cli(capsys, "run", str(brief), "--out", str(tmp_path / "link"))
    assert code == 2 and "is a symbolic link" in err and not any((tmp_path / "elsewhere").iterdir())
    code, _, err = run_cli(capsys, "run", str(brief), "--out", str(tmp_path / "a\x00b"))
    assert code == 2 and "NUL byte" in err
    for reserved in ("CON", "nul", "com1.bundle", "Aux"):
        code, _, err = run_cli(capsys, "run", str(brief), "--out", str(tmp_path / reserved))
        assert code == 2 and "reserved device name" in err and not (tmp_path / reserved).exists()


def test_a_bundle_holding_a_symlink_out_is_refused_without_touching_the_target(capsys, tmp_path, brief, tiny_weights):
    """Re-exporting over a bundle that someone planted a symlink in: the folder is no longer only
    what Ars Nova wrote, so it is refused (exit 2); the links and the file they point at stay."""
    out = tmp_path / "bundle"
    assert run_cli(capsys, "--weights", str(tiny_weights), "run", str(brief), "--out", str(out))[0] == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / "poems" / "evil.md").symlink_to(victim)
    (out / "evil-dir").symlink_to(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run_cli(capsys, "--weights", str(tiny_weights), "run", str(brief), "--out", str(out))
    assert code == 2 and "not an Ars Nova bundle" in err
    assert victim.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == before
    assert (out / "poems" / "evil.md").is_symlink() and (out / "evil-dir").is_symlink()


def test_a_100k_character_prompt_is_cut_and_answered(tiny_weights, tmp_path):
    from agent.app import make_agent
    from agent.config import Config

    agent = make_agent(Config(data_dir=tmp_path / "d", weights_dir=tiny_weights, threads=1))
    sid = agent.store.create("t").id
    events = list(agent.run("4 bars of music in C major " + "\u200b\u202e\U0001F3B5" * 33_000, sid))
    assert type(events[-1]).__name__ == "Final" and events[-1].artifacts
    assert len(str(agent.store.messages(sid)[0].content)) <= 20_000
