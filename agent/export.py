"""Bundles: a session's artifacts with ``manifest.json`` and ``index.html``, written atomically.

The bundle is assembled in a temporary directory beside the destination and renamed into
place, so a crash or a full disk leaves either the previous bundle or the new one, never a
half-written one. The manifest holds no time stamps: the same brief and seed give the same
bundle, byte for byte.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from pathlib import Path

from agent.artifacts import Artifact
from models.errors import UserFixableError

BUNDLE_FORMAT = "arsnova-bundle/1"
KIND_DIRS = {"music": "music", "poem": "poems", "image": "images", "styled_image": "images"}


def app_version() -> str:
    try:
        from importlib.metadata import version

        return version("arsnova")
    except Exception:
        return "0+unknown"


RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def is_reserved_name(name: str) -> bool:
    """A Windows device name (``CON``, ``nul.txt``, ``Com1.x``…): no file or folder may be called that there."""
    return name.split(".")[0].upper() in RESERVED_NAMES


def check_out_dir(out: str | Path) -> Path:
    """A destination the user named: reject NUL bytes, files, non-bundle directories."""
    s = str(out)
    if "\x00" in s:
        raise UserFixableError("the output path contains a NUL byte; give a plain directory path")
    if len(Path(s).name) > 255:
        raise UserFixableError(f"the output directory name is {len(Path(s).name)} characters; the limit is 255")
    if is_reserved_name(Path(s).name):
        raise UserFixableError(f"{Path(s).name!r} is a reserved device name on Windows, where the bundle could not be "
                               "copied; choose another --out name")
    p = Path(s).expanduser()
    if p.is_symlink():
        raise UserFixableError(f"{p} is a symbolic link; give a real directory path for the bundle")
    if p.exists() and not p.is_dir():
        raise UserFixableError(f"{p} exists and is not a directory; choose another --out")
    if p.is_dir() and any(p.iterdir()) and not (p / "manifest.json").exists():
        raise UserFixableError(f"{p} is a non-empty directory that is not an Ars Nova bundle; choose an empty or new --out")
    return p.resolve()


def write_bundle(artifacts: list[Artifact], source_dir: Path, out: str | Path, meta: dict,
                 turn_texts: dict[int, str] | None = None) -> Path:
    """Copy artifact files from ``source_dir`` into a new bundle at ``out``; returns its path."""
    dest = check_out_dir(out)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        entries = []
        for art in artifacts:
            sub = KIND_DIRS.get(art.kind, "other")
            (tmp / sub).mkdir(exist_ok=True)
            files = {}
            for role, rel in art.files.items():
                src = (source_dir / rel).resolve()
                if source_dir.resolve() not in src.parents or not src.is_file():
                    raise UserFixableError(f"artifact file {rel} is missing from the session; it cannot be exported")
                target = tmp / sub / Path(rel).name
                shutil.copyfile(src, target)
                files[role] = f"{sub}/{Path(rel).name}"
            d = art.to_dict()
            d.update(files=files, path=next(iter(files.values())), request=(turn_texts or {}).get(art.turn, ""))
            entries.append(d)
        manifest = {"format": BUNDLE_FORMAT, "app_version": app_version(), **meta, "artifacts": entries}
        _write(tmp / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n")
        _write(tmp / "index.html", render_index(manifest, tmp))
        _fsync_dir(tmp)
        _swap_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _remove_stale(dest: Path) -> None:
    """Hidden work directories an export killed with SIGKILL left beside ``dest`` (never the bundle)."""
    for p in dest.parent.glob(f".{glob_escape(dest.name)}.tmp-*"):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())


def _swap_into_place(tmp: Path, dest: Path) -> None:
    if dest.exists():  # an earlier bundle: move it aside, rename the new one in, then delete the old
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dest)


def _png_params(path: Path) -> dict:
    """The drawing parameters a PNG of ours carries (prompt, seed, steps, scheduler, model hash…)."""
    from models.errors import UserFixableError
    from models.image_io import png_params

    try:
        return png_params(path) if path.exists() else {}
    except (UserFixableError, OSError, ValueError):
        return {}


def render_index(manifest: dict, root: Path) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(manifest.get('title') or 'Ars Nova bundle')}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}"
        "section{border-top:1px solid #ddd;padding:1em 0}img{max-width:100%;border:1px solid #ccc}"
        "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}"
        "pre{white-space:pre-wrap;font-size:110%}.req{color:#555;font-style:italic}</style></head><body>",
        f"<h1>{e(manifest.get('title') or 'Ars Nova bundle')}</h1>",
        f"<p>planner: {e(str(manifest.get('planner', '')))} · seed: {e(str(manifest.get('seed', '')))} · "
        f"Ars Nova {e(manifest['app_version'])}</p>",
    ]
    for a in manifest["artifacts"]:
        parts.append(f"<section><h2>{e(a['kind'])} · {e(a['tool'])}</h2>")
        if a.get("request"):
            parts.append(f"<p class='req'>“{e(a['request'])}”</p>")
        f = a["files"]
        if "piano_roll" in f:
            parts.append(f"<img src='{e(f['piano_roll'])}' alt='piano roll'>")
        if "wav" in f:
            parts.append(f"<p><audio controls src='{e(f['wav'])}'></audio></p>")
        if "midi" in f:
            parts.append(f"<p><a href='{e(f['midi'])}'>MIDI file</a></p>")
        if "image" in f:
            parts.append(f"<img src='{e(f['image'])}' alt='{e(a['args'].get('prompt', 'image'))}'>")
            params = _png_params(root / f["image"])
            if params:
                parts.append("<table class='params'>" + "".join(
                    f"<tr><th>{e(k)}</th><td style='text-align:left'>{e(str(v))}</td></tr>"
                    for k, v in params.items() if v not in (None, "")) + "</table>")
        if "poem" in f and (root / f["poem"]).exists():
            parts.append(f"<pre>{e((root / f['poem']).read_text(encoding='utf-8'))}</pre>")
        s = a["scores"]
        parts.append(f"<p>model {e(a['model'])} · seed {a['seed']} · kept round {a['round']} · "
                     f"quality {s['quality']:.2f} · novelty {s['novelty']:.2f} · adherence {s['adherence']:.2f}</p>")
        parts.append("<table><tr><th>round</th><th>candidates</th><th>quality</th><th>novelty</th>"
                     "<th>adherence</th><th>kept</th></tr>")
        for r in a.get("trajectory", []):
            rs = r["scores"]
            parts.append(f"<tr><td>{r['round']}</td><td>{r['candidates']}</td><td>{rs['quality']:.3f}</td>"
                         f"<td>{rs['novelty']:.3f}</td><td>{rs['adherence']:.3f}</td><td>{'✓' if r['chosen'] else ''}</td></tr>")
        parts.append("</table>")
        parts.append(f"<details><summary>arguments</summary><pre>{e(json.dumps(a['args'], indent=1))}</pre></details></section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def export_session(store, session_id: str, out: str | Path, meta: dict | None = None) -> Path:
    info = store.get(session_id)
    arts = store.artifacts(session_id)
    if not arts:
        raise UserFixableError(f"session {session_id} has no artifacts to export yet")
    turns: dict[int, str] = {}
    from langchain_core.messages import HumanMessage

    turn = 0
    for m in store.messages(session_id):
        if isinstance(m, HumanMessage):
            turn += 1
            turns[turn] = str(m.content)
    base = {"title": info.title, "planner": info.planner, "session": session_id}
    return write_bundle(arts, store.session_dir(session_id), out, {**base, **(meta or {})}, turns)
