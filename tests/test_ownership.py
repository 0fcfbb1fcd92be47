"""What Ars Nova may replace: only what it wrote (issue 17, round two).

Each test builds a folder someone else owns, points a command at it, and compares every file's
hash (and every symlink's target) before and after: the command exits 2 with one line naming
the folder, and nothing of theirs is replaced, removed or written through a link.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from agent.cli import main
from tests.test_cli import BRIEF, brief  # noqa: F401 - the brief fixture

HAIKU = "title: Haiku\nseed: {seed}\nturns:\n  - Write a haiku about autumn rain.\n"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (itself included): a file's SHA-256, a link's target, or 'dir'."""
    root = Path(root)
    seen = {}
    for p in [root, *sorted(root.rglob("*"))]:
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            seen[rel] = "link -> " + os.readlink(p)
        elif p.is_dir():
            seen[rel] = "dir"
        else:
            seen[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return seen


def assert_refused(code: int, err: str, folder: Path, before: dict[str, str], *words: str,
                   named: Path | None = None) -> None:
    """Exit 2, one line naming the folder (or ``named``) and saying ``words``; ``folder`` unchanged."""
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.endswith("\n") and "Traceback" not in err, err
    assert str(named or folder) in err, err
    for w in words:
        assert w in err, err
    assert snapshot(folder) == before


def make_web_app(folder: Path) -> Path:
    """A browser extension's folder: its own manifest.json, code and a .git."""
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "manifest.json").write_text(json.dumps({"manifest_version": 3, "name": "my extension"}))
    (folder / "app.js").write_text("console.log('mine')\n")
    return folder


def foreign_variants(ours: Path, root: Path) -> dict[str, Path]:
    """Folders that hold a manifest.json but are not (only) a bundle Ars Nova wrote."""
    v = {"web app": make_web_app(root / "webapp")}

    def copy(name: str) -> Path:
        return Path(shutil.copytree(ours, root / name, symlinks=True))

    notes = copy("with-notes")
    (notes / "notes.txt").write_text("my notes on this bundle")
    v["our bundle plus a note"] = notes
    extra_dir = copy("with-dir")
    (extra_dir / "drafts").mkdir()
    v["our bundle plus an empty folder"] = extra_dir
    link = copy("with-link")
    (root / "victim.txt").write_text("keep me")
    (link / "poems" / "evil.md").symlink_to(root / "victim.txt")
    v["our bundle plus a symlink"] = link
    linked_manifest = copy("linked-manifest")
    (root / "elsewhere.json").write_bytes((ours / "manifest.json").read_bytes())
    (linked_manifest / "manifest.json").unlink()
    (linked_manifest / "manifest.json").symlink_to(root / "elsewhere.json")
    v["manifest is a symlink"] = linked_manifest
    other_format = copy("other-format")
    m = json.loads((ours / "manifest.json").read_text())
    (other_format / "manifest.json").write_text(json.dumps({**m, "format": "arsnova-bundle/0"}))
    v["another format"] = other_format
    return v


# ---- 1. run --out, a brief's export:, export --out replace only our bundles ------------------

def test_run_export_and_brief_export_replace_only_a_bundle_ars_nova_wrote(capsys, tmp_path, brief, tiny_weights):
    ours = tmp_path / "ours"
    code, _, err = run_cli(capsys, "--weights", tiny_weights, "run", brief, "--out", ours)
    assert code == 0, err
    sid = run_cli(capsys, "sessions")[1].split()[0]
    variants = foreign_variants(ours, tmp_path / "theirs")
    for what, folder in variants.items():
        before = snapshot(folder)
        code, _, err = run_cli(capsys, "--weights", tiny_weights, "run", brief, "--out", folder)
        assert_refused(code, err, folder, before, "not an Ars Nova bundle", "choose an empty or new folder")
        code, _, err = run_cli(capsys, "export", sid, "--out", folder)
        assert_refused(code, err, folder, before, "not an Ars Nova bundle")
        exporting = folder.parent / f"{folder.name}.yaml"  # a brief beside the folder, naming it in export:
        exporting.write_text(BRIEF + f"export: {folder.name}\n")
        code, _, err = run_cli(capsys, "--weights", tiny_weights, "run", exporting)
        assert_refused(code, err, folder, before, "not an Ars Nova bundle")
    # a bundle Ars Nova wrote is replaced, by run and by export
    assert run_cli(capsys, "--weights", tiny_weights, "run", brief, "--out", ours)[0] == 0
    assert run_cli(capsys, "export", sid, "--out", ours)[0] == 0
    assert json.loads((ours / "manifest.json").read_text())["session"] == sid


def test_is_our_bundle_reads_a_small_regular_manifest_and_lists_everything(tmp_path):
    from agent.export import BUNDLE_FORMAT, MAX_MANIFEST_BYTES, is_our_bundle

    def bundle(name: str, manifest: object) -> Path:
        b = tmp_path / name
        (b / "poems").mkdir(parents=True)
        (b / "poems" / "a.md").write_text("a poem")
        (b / "index.html").write_text("<html>")
        (b / "manifest.json").write_text(json.dumps(manifest))
        return b

    good = {"format": BUNDLE_FORMAT, "artifacts": [{"files": {"poem": "poems/a.md"}}]}
    assert is_our_bundle(bundle("good", good))
    gone = bundle("a-file-removed", good)
    (gone / "poems" / "a.md").unlink()
    assert is_our_bundle(gone)  # still ours: nothing in it is anyone else's
    assert not is_our_bundle(bundle("not-listed", {**good, "artifacts": []}))
    assert not is_our_bundle(bundle("list", [good]))
    assert not is_our_bundle(bundle("climbs", {**good, "artifacts": [{"files": {"p": "../poems/a.md"}}]}))
    assert not is_our_bundle(bundle("absolute", {**good, "artifacts": [{"files": {"p": "/poems/a.md"}}]}))
    big = bundle("big", good)
    (big / "manifest.json").write_text(json.dumps({**good, "pad": "x" * MAX_MANIFEST_BYTES}))
    assert not is_our_bundle(big)
    fifo = bundle("fifo", good)
    (fifo / "manifest.json").unlink()
    os.mkfifo(fifo / "manifest.json")
    assert not is_our_bundle(fifo)  # and it returned: a FIFO is never read
    odd = bundle("fifo-inside", good)
    (odd / "poems" / "a.md").unlink()
    os.mkfifo(odd / "poems" / "a.md")
    assert not is_our_bundle(odd)
    assert not is_our_bundle(tmp_path / "missing") and not is_our_bundle(tmp_path / "good" / "index.html")


def test_stale_work_folders_beside_a_bundle_are_removed_only_when_ours(tmp_path):
    """A killed export leaves `.NAME.tmp-XXXXXXXX` beside the bundle; the next export removes it,
    but a look-alike folder of someone else's stays."""
    from agent.export import write_bundle

    ours = tmp_path / ".b.tmp-k3j2h1g0"
    (ours / "poems").mkdir(parents=True)
    (ours / "poems" / "x.md").write_text("half a bundle")
    theirs = tmp_path / ".b.tmp-backup12"
    theirs.mkdir()
    (theirs / "diary.txt").write_text("mine")
    linked = tmp_path / ".b.tmp-linked00"
    (linked / "poems").mkdir(parents=True)
    (linked / "poems" / "x.md").symlink_to(theirs / "diary.txt")
    before = {p: snapshot(p) for p in (theirs, linked)}
    write_bundle([], tmp_path / "session", tmp_path / "b", {"title": "t"})
    assert (tmp_path / "b" / "manifest.json").is_file() and not ours.exists()
    assert {p: snapshot(p) for p in (theirs, linked)} == before


# ---- 2. a brief's export: is confined to the brief's folder; no system folders ----------------

def test_a_brief_export_stays_inside_the_brief_folder(capsys, tmp_path, tiny_weights, monkeypatch):
    briefs = tmp_path / "briefs"
    briefs.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    (briefs / "link").symlink_to(outside)
    before = snapshot(tmp_path)
    for export, words in [(str(outside / "x"), "absolute path"), ("~/x", "absolute path"),
                          ("../outside/x", "climbs out"), ("sub/../../outside/x", "climbs out"),
                          ("link/x", "leads outside"), ("link", "leads outside"), (".", "leads outside")]:
        b = briefs / "b.yaml"
        b.write_text(HAIKU.format(seed=1) + f"export: {json.dumps(export)}\n")
        code, _, err = run_cli(capsys, "--weights", tiny_weights, "run", b)
        assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert "b.yaml: field 'export'" in err and words in err, err
        b.unlink()
        assert snapshot(tmp_path) == before
    # relative export: from the brief's folder, whatever the current directory
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    b = briefs / "ok.yaml"
    b.write_text(HAIKU.format(seed=1) + "export: out/autumn\n")
    code, _, err = run_cli(capsys, "--weights", tiny_weights, "run", b)
    assert code == 0, err
    assert (briefs / "out" / "autumn" / "manifest.json").is_file() and not any(elsewhere.iterdir())
    # --out on the command line wins over an absolute export
    b.write_text(HAIKU.format(seed=1) + f"export: {outside / 'x'}\n")
    code, _, err = run_cli(capsys, "--weights", tiny_weights, "run", b, "--out", tmp_path / "chosen")
    assert code == 0, err
    assert (tmp_path / "chosen" / "manifest.json").is_file() and not (outside / "x").exists()


def test_system_folders_and_home_are_never_output_folders(capsys, tmp_path, brief, monkeypatch):
    from agent.export import check_out_dir
    from models.common.errors import UserFixableError

    home = tmp_path / "me"
    home.mkdir()
    (home / ".bashrc").write_text("# mine")
    monkeypatch.setenv("HOME", str(home))
    for folder in (Path("/"), home):
        before = snapshot(home)
        code, _, err = run_cli(capsys, "run", brief, "--out", folder)
        assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert f"{folder} is a system folder" in err and snapshot(home) == before
    for folder in ("/etc/arsnova-bundle", "/usr/local/share/arsnova", "/proc/self/x", "/var", "/opt", "~"):
        with pytest.raises(UserFixableError, match="is a system folder"):
            check_out_dir(folder)
        assert not Path(folder).expanduser().exists() or folder in ("/var", "/opt", "~")
    assert check_out_dir(tmp_path / "fine") == (tmp_path / "fine").resolve()
    assert check_out_dir(home / "art") == (home / "art").resolve()  # inside home is fine


# ---- 3. batch: one bundle per brief; --out must be new, empty or an earlier batch's ----------

def test_batch_gives_every_brief_its_own_bundle(capsys, tmp_path, tiny_weights):
    from agent.batch import bundle_digest, plan_jobs

    paths = []
    for k, rel in enumerate(["d1/x.yaml", "d2/x.yaml", "x-2.yaml"]):
        p = tmp_path / "briefs" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(HAIKU.format(seed=k + 1))
        paths.append(p)
    assert [j.name for j in plan_jobs([str(p) for p in paths])] == ["x", "x-2", "x-2-2"]
    assert [j.name for j in plan_jobs(["summary.json.yaml", "a/b.yaml", "b.yaml", "b-2.yaml"])] == [
        "summary.json-2", "b", "b-2", "b-2-2"]
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "--weights", tiny_weights, "batch", *paths, "--out", out)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    bundles = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert bundles == ["x", "x-2", "x-2-2"] and sorted(summary["bundles"]) == bundles
    assert summary["format"] == "arsnova-batch/1" and summary["done"] == 3 == len(bundles)
    assert sorted(o["bundle"] for o in summary["outcomes"]) == [str((out / b).resolve()) for b in bundles]
    assert {o["brief"] for o in summary["outcomes"]} == {str(p.resolve()) for p in paths}
    for o in summary["outcomes"]:
        assert bundle_digest(Path(o["bundle"])) == o["digest"]
    # the folder is an earlier batch's now: a second batch into it is welcome, one brief is enough
    code, _, err = run_cli(capsys, "--weights", tiny_weights, "batch", paths[2], "--out", out)
    assert code == 0, err
    again = json.loads((out / "summary.json").read_text())
    assert sorted(again["bundles"]) == bundles and sorted(os.listdir(out)) == sorted([*bundles, "summary.json"])


def test_batch_refuses_an_out_folder_it_did_not_make(capsys, tmp_path):
    b = tmp_path / "x.yaml"
    b.write_text(HAIKU.format(seed=1))
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (project / "README.md").write_text("my project")
    work = tmp_path / "with-work"
    (work / ".work").mkdir(parents=True)
    (work / ".work" / "thesis.tex").write_text("years of work")
    foreign_summary = tmp_path / "foreign-summary"
    foreign_summary.mkdir()
    (foreign_summary / "summary.json").write_text(json.dumps({"bundles": ["x"], "mine": True}))
    extra = tmp_path / "earlier-batch-plus-notes"
    extra.mkdir()
    (extra / "summary.json").write_text(json.dumps({"format": "arsnova-batch/1", "bundles": ["x"]}))
    (extra / "notes.txt").write_text("notes")
    for folder in (project, work, foreign_summary, extra):
        before = snapshot(folder)
        code, _, err = run_cli(capsys, "batch", b, "--out", folder)
        assert_refused(code, err, folder, before, "Ars Nova did not write", "choose an empty or new --out")
    assert (work / ".work" / "thesis.tex").read_text() == "years of work"


# ---- 4. arsnova image --from-png writes a new file, never through a link -------------------

def test_image_rerun_never_replaces_or_follows_what_is_there(capsys, tmp_path, tiny_weights):
    from tests.tiny import make_tiny_image_model, run_tool
    from tools.host import make_host

    weights = Path(shutil.copytree(tiny_weights, tmp_path / "w"))
    make_tiny_image_model(weights)
    art = run_tool("generate_image", {"prompt": "a red boat", "seed": 2, "steps": 2, "width": 32, "height": 32},
                   tmp_path / "s", make_host(weights))
    png = tmp_path / "s" / art.files["image"]
    pics = tmp_path / "pics"
    pics.mkdir()
    (pics / "000-rerun-image.png").write_bytes(b"my own picture")
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"not yours")
    (pics / "000-rerun-2-image.png").symlink_to(victim)
    before = snapshot(pics)
    code, out, err = run_cli(capsys, "--weights", weights, "image", "--from-png", png, "--out", pics)
    assert code == 0, err
    assert Path(out.strip()) == pics / "000-rerun-3-image.png" and Path(out.strip()).read_bytes()[:4] == b"\x89PNG"
    assert {k: v for k, v in snapshot(pics).items() if k != "000-rerun-3-image.png"} == before
    assert victim.read_bytes() == b"not yours"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "link").symlink_to(elsewhere)
    before = snapshot(elsewhere)
    code, _, err = run_cli(capsys, "--weights", weights, "image", "--from-png", png, "--out", tmp_path / "link")
    assert_refused(code, err, elsewhere, before, "is a symbolic link", named=tmp_path / "link")
