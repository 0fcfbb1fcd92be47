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
import stat
import tempfile
from pathlib import Path, PurePosixPath

from tools import registry
from tools.views import midi_notes, picture_params, read_poem
from tools.artifacts import Artifact
from models.common.errors import UserFixableError
from models.common.runtime import app_version

BUNDLE_FORMAT = "arsnova-bundle/1"


RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def is_reserved_name(name: str) -> bool:
    """A Windows device name (``CON``, ``nul.txt``, ``Com1.x``…): no file or folder may be called that there."""
    return name.split(".")[0].upper() in RESERVED_NAMES


def check_out_dir(out: str | Path) -> Path:
    """A destination the user named: reject NUL bytes, files, system folders and folders that are
    not a bundle Ars Nova wrote (``check_replaceable``)."""
    s = str(out)
    if "\x00" in s:
        raise UserFixableError("the output path contains a NUL byte; give a plain directory path")
    if len(Path(s).name) > 255:
        raise UserFixableError(f"the output directory name is {len(Path(s).name)} characters; the limit is 255")
    if is_reserved_name(Path(s).name):
        raise UserFixableError(f"{Path(s).name!r} is a reserved device name on Windows, where the bundle could not be "
                               "copied; choose another --out name")
    p = Path(s).expanduser()
    refuse_system_folder(p)
    check_replaceable(p)
    return p.resolve()


MIN_FREE_BYTES = 16 * 2**20  # a bundle of the embedded models' work is a few MB; less free than this is a full disk


def check_can_write(dest: str | Path, flag: str = "--out") -> None:
    """Fail before any work when the bundle at ``dest`` could not be written: a file where a folder
    must be made, a read-only or full file system. The test is a hidden file created and removed
    where the bundle's work folder will go (beside ``dest``): for root, permission bits say nothing."""
    import errno

    dest = Path(dest)
    base = next((a for a in dest.parents if os.path.lexists(a)), None)
    if base is None:
        return
    if not base.is_dir():
        raise UserFixableError(f"cannot make {dest}: {base} is a file, not a folder; choose another {flag}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".arsnova-probe-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise UserFixableError(f"the disk holding {base} is full; free some space or choose another {flag}") from None
        raise UserFixableError(f"cannot write in {base} ({e.strerror}); choose another {flag}") from None
    try:
        st = os.statvfs(base)
    except (AttributeError, OSError):  # no statvfs (Windows): the probe above has to do
        return
    free = st.f_bavail * st.f_frsize
    if free < MIN_FREE_BYTES:
        raise UserFixableError(f"the disk holding {base} is full ({free / 2**20:.1f} MB free); free some space or "
                               f"choose another {flag}")


# Never written into, at any depth: the operating system's own trees.
SYSTEM_TREES = ("/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                "/boot", "/dev", "/proc", "/sys")
# Never a bundle or batch folder themselves (their sub-folders are fine: /var/tmp/x, ~/art).
SYSTEM_TOPS = ("/", "/var", "/opt", "/tmp", "/home", "/root", "/srv", "/mnt", "/media")


def refuse_system_folder(p: Path) -> None:
    """Ars Nova creates nothing in the system's folders and never takes a top-level folder or the
    home folder itself as an output folder: a typo in --out or a brief's ``export`` must not
    aim a bundle (and the replace that comes with it) at them."""
    try:
        r = Path(p).expanduser().resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise UserFixableError(f"{p} cannot be resolved (a symbolic link loop?); give a plain directory path") from None
    tops = {Path(t).resolve() for t in SYSTEM_TOPS}
    try:
        tops.add(Path.home().resolve())
    except RuntimeError:  # no home directory known
        pass
    trees = {Path(t).resolve() for t in SYSTEM_TREES}
    if r in tops or any(r == t or t in r.parents for t in trees):
        raise UserFixableError(f"{p} is a system folder or inside one; Ars Nova writes only to folders of yours: "
                               "choose an empty or new folder elsewhere")


MAX_MANIFEST_BYTES = 16 * 1024 * 1024  # ours are a few KiB; a bigger file is not one of ours


def read_small_json(path: Path, limit: int = MAX_MANIFEST_BYTES) -> object | None:
    """The JSON value in ``path``, or None unless it is a regular file of at most ``limit`` bytes
    holding valid UTF-8 JSON. Symlinks are not followed and FIFOs never block (O_NOFOLLOW,
    O_NONBLOCK, then fstat), so asking "is this ours?" cannot be steered or stalled."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        raw = f.read(limit + 1)
    if len(raw) > limit:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def bundle_entries(manifest: object) -> set[str] | None:
    """Every relative path a bundle with this manifest holds (manifest.json, index.html, each
    artifact's files and the folders above them), or None when the manifest is not ours."""
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        return None
    arts = manifest.get("artifacts")
    if not isinstance(arts, list):
        return None
    entries = {"manifest.json", "index.html"}
    for art in arts:
        files = art.get("files") if isinstance(art, dict) else None
        if not isinstance(files, dict):
            return None
        for rel in files.values():
            parts = PurePosixPath(rel).parts if isinstance(rel, str) else ()
            if not parts or rel.startswith("/") or ".." in parts:
                return None
            entries.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return entries


def is_our_bundle(path: Path) -> bool:
    """True only for a folder that is provably a bundle Ars Nova wrote: its manifest is ours and
    nothing else is inside: no file or folder the manifest does not list, no symlink, no FIFO or
    device. A folder holding anything more is someone's (a web app that happens to have a
    manifest.json, a bundle someone added notes to) and is never replaced."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return False
    entries = bundle_entries(read_small_json(path / "manifest.json"))
    return entries is not None and _holds_only(path, entries, "")


def _holds_only(folder: Path, entries: set[str], prefix: str) -> bool:
    """Whether everything under ``folder`` is a plain file or folder named in ``entries``; stops
    at the first stranger, so a huge foreign tree costs one listing."""
    try:
        children = _listing(folder)
    except OSError:
        return False
    for c in children:
        rel = prefix + c.name
        if rel not in entries or c.is_symlink():
            return False
        if c.is_dir(follow_symlinks=False):
            if not _holds_only(Path(c.path), entries, rel + "/"):
                return False
        elif not c.is_file(follow_symlinks=False):
            return False
    return True


def check_replaceable(p: Path) -> None:
    """Refuse unless a bundle may be put at ``p``: nothing there, an empty folder, or a bundle
    Ars Nova wrote (``is_our_bundle``). Every path that replaces a bundle asks this first, so
    nothing anyone else wrote is ever moved aside and deleted."""
    if p.is_symlink():
        raise UserFixableError(f"{p} is a symbolic link; give a real directory path for the bundle")
    if not p.exists():
        return
    if not p.is_dir():
        raise UserFixableError(f"{p} exists and is not a directory; choose another --out")
    if not _is_empty_dir(p) and not is_our_bundle(p):
        raise UserFixableError(f"{p} is not an Ars Nova bundle (it holds files Ars Nova did not write); "
                               "choose an empty or new folder")


def _is_empty_dir(p: Path) -> bool:
    try:
        with os.scandir(p) as it:
            return next(it, None) is None
    except OSError:
        return False


def bundle_dir(kind: str) -> str:
    """The bundle folder of an artifact kind, as its tool's registry entry names it."""
    spec = registry.for_kind(kind)
    return spec.bundle_dir if spec else "other"


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
            sub = bundle_dir(art.kind)
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
    """Hidden work directories an export killed with SIGKILL left beside ``dest`` (never the
    bundle, and never a look-alike folder someone else made: see ``_is_our_work_dir``)."""
    for p in dest.parent.glob(f".{glob_escape(dest.name)}.tmp-*"):
        if _is_our_work_dir(p):
            shutil.rmtree(p, ignore_errors=True)


def _is_our_work_dir(p: Path) -> bool:
    """A half-written bundle: mkdtemp's 8-character suffix, and inside only what write_bundle
    puts there (kind folders of plain files, manifest.json, index.html), no symlinks."""
    suffix = p.name.rsplit(".tmp-", 1)[-1]
    if len(suffix) != 8 or not all(c.isalnum() or c == "_" for c in suffix) or p.is_symlink() or not p.is_dir():
        return False
    kinds = {*(s.bundle_dir for s in registry.TOOLS), "other"}
    try:
        for e in _listing(p):
            if e.name in ("manifest.json", "index.html") and e.is_file(follow_symlinks=False):
                continue
            if not (e.name in kinds and e.is_dir(follow_symlinks=False)
                    and all(f.is_file(follow_symlinks=False) for f in _listing(Path(e.path)))):
                return False
    except OSError:
        return False
    return True


def _listing(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return list(it)


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
    check_replaceable(dest)  # again: the folder may have changed while the files were copied
    if dest.exists():  # an earlier bundle: move it aside, rename the new one in, then delete the old
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dest)


def render_index(manifest: dict, root: Path) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(manifest.get('title') or 'Ars Nova bundle')}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}"
        "section{border-top:1px solid #ddd;padding:1em 0}img{max-width:100%;border:1px solid #ccc}"
        "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}"
        "pre{white-space:pre-wrap;font-size:110%}.req{color:#555;font-style:italic}"
        ".poem p{font-family:Georgia,serif;font-size:115%;line-height:1.5}table.scansion td:last-child{text-align:left}"
        "img.picture{min-width:256px;image-rendering:pixelated}button.play{font-size:100%;margin-right:1em}"
        "</style></head><body>",
        f"<h1>{e(manifest.get('title') or 'Ars Nova bundle')}</h1>",
        *_header(manifest),
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
            notes = midi_notes(root / f["midi"])
            play = (f"<button class='play' data-notes='{e(json.dumps(notes, separators=(',', ':')))}'>"
                    f"▶ Play in the browser</button> " if notes else "")
            parts.append(f"<p>{play}<a href='{e(f['midi'])}'>MIDI file</a></p>")
        if "image" in f:
            parts.append(f"<img class='picture' src='{e(f['image'])}' alt='{e(a['args'].get('prompt', 'image'))}'>")
            params = picture_params(root / f["image"])
            if params:
                parts.append("<table class='params'>" + "".join(
                    f"<tr><th>{e(k)}</th><td style='text-align:left'>{e(str(v))}</td></tr>"
                    for k, v in params.items() if v not in (None, "")) + "</table>")
        if "poem" in f and (root / f["poem"]).exists():
            parts.append(_poem_html(read_poem(root / f["poem"])))
        s = a["scores"]
        parts.append(f"<p>model {e(a['model'])} · seed {e(str(a['seed']))} · kept round {a['round']} · "
                     f"quality {s['quality']:.2f} · novelty {s['novelty']:.2f} · adherence {s['adherence']:.2f}</p>")
        parts.append("<table><tr><th>round</th><th>candidates</th><th>quality</th><th>novelty</th>"
                     "<th>adherence</th><th>kept</th></tr>")
        for r in a.get("trajectory", []):
            rs = r["scores"]
            parts.append(f"<tr><td>{r['round']}</td><td>{r['candidates']}</td><td>{rs['quality']:.3f}</td>"
                         f"<td>{rs['novelty']:.3f}</td><td>{rs['adherence']:.3f}</td><td>{_kept_mark(r, a)}</td></tr>")
        parts.append("</table>")
        parts.append(f"<details><summary>arguments</summary><pre>{e(json.dumps(a['args'], indent=1))}</pre></details></section>")
    parts.append(PLAYER_SCRIPT)
    parts.append("</body></html>\n")
    return "\n".join(parts)


# The bundle page's music player: the MIDI's notes (written into the page) played with the
# browser's Web Audio oscillators, so a piece can be heard without FluidSynth or a plug-in.
PLAYER_SCRIPT = """<script>
document.querySelectorAll('button.play').forEach(function (b) {
  var label = b.textContent, ctx = null;
  b.onclick = function () {
    if (ctx) { ctx.close(); ctx = null; b.textContent = label; return; }
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { b.textContent = 'This browser cannot play audio'; return; }
    ctx = new Ctx();
    var t0 = ctx.currentTime + 0.1, end = 0;
    JSON.parse(b.dataset.notes).forEach(function (n) {
      var s = n[0], d = Math.max(n[1], 0.05), o = ctx.createOscillator(), g = ctx.createGain();
      o.type = 'triangle';
      o.frequency.value = 440 * Math.pow(2, (n[2] - 69) / 12);
      g.gain.setValueAtTime(0.0001, t0 + s);
      g.gain.exponentialRampToValueAtTime(0.02 + 0.13 * n[3] / 127, t0 + s + 0.01);
      g.gain.exponentialRampToValueAtTime(0.0001, t0 + s + d);
      o.connect(g); g.connect(ctx.destination);
      o.start(t0 + s); o.stop(t0 + s + d + 0.02);
      end = Math.max(end, s + d);
    });
    b.textContent = '■ Stop';
    var mine = ctx;
    setTimeout(function () { if (ctx === mine) { ctx.close(); ctx = null; b.textContent = label; } }, end * 1000 + 400);
  };
});
</script>"""


def _header(manifest: dict) -> list[str]:
    """Planner, seed (only when the bundle has one: a chat's export has none), version; the brief's
    title and turns when a brief made the bundle."""
    e = html.escape
    facts = [f"planner: {e(str(manifest['planner']))}"] if manifest.get("planner") else []
    if manifest.get("seed") is not None:
        facts.append(f"seed: {e(str(manifest['seed']))}")
    facts.append(f"Ars Nova {e(manifest['app_version'])}")
    out = [f"<p>{' · '.join(facts)}</p>"]
    brief = manifest.get("brief")
    if isinstance(brief, dict) and brief.get("turns"):
        name = brief.get("title") or brief.get("path") or "brief"
        out.append(f"<details open><summary>brief: {e(str(name))}</summary><ol>"
                   + "".join(f"<li>{e(str(t))}</li>" for t in brief["turns"]) + "</ol></details>")
    return out


def _poem_html(poem) -> str:
    """The poem as a page shows it: title, stanzas (a line per line), the scansion as a table."""
    e = html.escape
    verse = "".join("<p>" + "".join(f"{e(ln)}<br>" for ln in stanza) + "</p>" for stanza in poem.stanzas)
    rows = "".join(f"<tr><td>{i}</td><td>{n}</td><td>{e(letter)}</td><td><code>{e(stress or '?')}</code></td>"
                   f"<td>{e(line)}</td></tr>" for i, (n, letter, stress, line) in enumerate(poem.scansion, 1))
    return (f"<div class='poem'><h3>{e(poem.title)}</h3>{verse}<table class='scansion'><tr><th>#</th>"
            f"<th>syllables</th><th>rhyme</th><th>stress</th><th>line</th></tr>{rows}</table></div>")


def _kept_mark(record: dict, artifact: dict) -> str:
    """✓ on the round the artifact kept only; a revision that beat the running best and was
    beaten later is "improved"."""
    if record["round"] == artifact["round"]:
        return "✓"
    return "improved" if record["chosen"] and record["round"] > 0 else ""


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
