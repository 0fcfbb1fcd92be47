"""Models learned from a person's own work (`arsnova learn music|poems … --name NAME`).

Each lives in ``<data dir>/models/<kind>/<NAME>/`` with a ``card.json`` written last; a model
is built in a staging folder beside it and moved into place in one rename, so a name is either
absent or complete (a kill mid-way leaves only a staging folder, which the next ``learn``
clears). Training runs (checkpoints, the read corpus) live in ``<data dir>/models/.runs/`` so
an interrupted ``learn`` resumes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from models.common.errors import ModelFileError, UserFixableError

KINDS = {"music": "composer", "poet": "poet"}
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
# names that already mean something where a model name is read (model arguments, --poet specs)
RESERVED = {"transformer", "rnn", "lstm", "embedded", "default", "shipped", "builtin", "built-in", "none", "auto",
            "hf", "openai", "ollama", "sd", "router", "hybrid", "new", "all"}
# the shipped models' own names (as `arsnova models` lists them): a learned one may not pass for one of them
SHIPPED = {"music-transformer", "music-rnn", "music-ngrams", "music-chorale", "music-chords", "arsnova-poet",
           "arsnova-image", "poet", "image", "upscaler", "all-minilm-l6-v2", "vgg19"}
AUTHORS = "authors"  # <weights>/authors/NAME: poets learned from an author's poems, shipped
CARD = "card.json"


def check_name(name: str) -> str:
    """A model name: letters, digits, - and _, at most 40, not one the shipped models use."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        shown = repr(name)[:50]
        raise UserFixableError(f"model name {shown}: use 1-40 letters, digits, '-' or '_' (no spaces, dots or "
                               "slashes), e.g. --name my-tunes")
    if name.lower() in RESERVED | SHIPPED | shipped_authors():
        raise UserFixableError(f"model name {name!r} is taken by a shipped model or a setting; pick another, "
                               "e.g. --name my-" + name.lower())
    return name


def shipped_authors() -> set[str]:
    """Names of the author poets that ship with Ars Nova (``models/weights/authors/NAME``)."""
    from models.common.runtime import default_weights_dir

    folder = default_weights_dir() / AUTHORS
    return {d.name.lower() for d in folder.iterdir() if d.is_dir()} if folder.is_dir() else set()


def root(data_dir: Path) -> Path:
    return Path(data_dir) / "models"


def model_dir(data_dir: Path, kind: str, name: str) -> Path:
    return root(data_dir) / kind / check_name(name)


def run_dir(data_dir: Path, kind: str, name: str) -> Path:
    """Where a `learn` keeps its checkpoints and the corpus it read, so a second run resumes."""
    return root(data_dir) / ".runs" / f"{kind}-{check_name(name)}"


def open_run(data_dir: Path, kind: str, name: str, digest: str, source: Path, log) -> Path:
    """The run folder of a `learn`: kept when the same material and settings (``digest``) were
    learned under this name before, so training resumes; cleared (Ars Nova's own files) when
    they changed."""
    run = run_dir(data_dir, kind, name)
    stamp = run / "source.json"
    try:
        same = json.loads(stamp.read_text()).get("digest") == digest
    except (OSError, ValueError):
        same = False
    if run.exists() and not same:
        log("the files or the settings changed since the last run under this name: starting over")
        shutil.rmtree(run)
    elif any(run.rglob("state.json")):
        log(f"resuming the run in {run}")
    run.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"digest": digest, "source": str(source)}))
    return run


@dataclass(frozen=True)
class LearnedModel:
    kind: str
    name: str
    path: Path
    card: dict

    @property
    def label(self) -> str:
        return f"{self.name} (learned from {_used(self.card)})"


def is_learned_name(name: str | None) -> bool:
    return bool(name) and NAME_RE.fullmatch(str(name)) is not None and str(name).lower() not in RESERVED


def list_learned(data_dir: Path | None, kind: str) -> list[LearnedModel]:
    """The complete learned models of ``kind`` (those with a card), by name."""
    if data_dir is None:
        return []
    base = root(data_dir) / kind
    out = []
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name.lower())
    except OSError:
        return []
    for e in entries:
        if not NAME_RE.fullmatch(e.name) or not e.is_dir(follow_symlinks=False):
            continue
        card = read_card(Path(e.path))
        if card is not None:
            out.append(LearnedModel(kind, e.name, Path(e.path), card))
    return out


def read_card(path: Path) -> dict | None:
    from models.common.files import read_capped

    try:
        return json.loads(read_capped(path / CARD, 1 << 20, "model card"))
    except (OSError, UserFixableError, ValueError):
        return None


def find_learned(data_dir: Path | None, kind: str, name: str, shipped: Path | None = None) -> LearnedModel:
    """The learned model ``name`` — the person's own first, then one shipped in ``shipped``
    (``models/weights/authors``: poets learned from an author's public-domain poems) — or a
    one-line error listing the ones there are."""
    candidates = list_learned(data_dir, kind) + (list_shipped(shipped) if kind == "poet" else [])
    for m in candidates:
        if m.name.lower() == str(name).lower():
            return m
    names = ", ".join(m.name for m in candidates) or "none yet"
    verb = "music FOLDER" if kind == "music" else "poems FILE_OR_FOLDER"
    raise ModelFileError(f"no learned {KINDS[kind]} named {str(name)[:40]!r} (learned: {names}); "
                         f"make one with `arsnova learn {verb} --name {str(name)[:40] if is_learned_name(name) else 'NAME'}`")


def list_shipped(folder: Path | None) -> list[LearnedModel]:
    """Poets shipped with Ars Nova, learned the same way from an author's poems."""
    out = []
    if folder is not None and folder.is_dir():
        for d in sorted(folder.iterdir()):
            card = read_card(d) if NAME_RE.fullmatch(d.name) and d.is_dir() else None
            if card is not None:
                out.append(LearnedModel("poet", d.name, d, card))
    return out


def check_free(data_dir: Path, kind: str, name: str, replace: bool) -> Path:
    """The final folder for ``name``; an error when one is there and ``replace`` was not asked."""
    dest = model_dir(data_dir, kind, name)
    if os.path.lexists(dest) and not replace:
        raise UserFixableError(f"a learned {KINDS[kind]} named {name!r} already exists at {dest}; pick another "
                               "--name or pass --replace")
    if os.path.lexists(dest) and (dest.is_symlink() or read_card(dest) is None):
        raise UserFixableError(f"{dest} is not a model Ars Nova wrote (no card); move it away or pick another --name")
    return dest


STAGING_MARK = ".arsnova-staging"  # written first into a staging folder: only a folder with it is ever cleared


def staging_dir(data_dir: Path, kind: str, name: str) -> Path:
    """A fresh folder to build ``name`` in. An earlier, interrupted one is cleared only when its
    mark says Ars Nova made it; anything else in the way is an error, left as it is."""
    st = root(data_dir) / kind / f".staging-{check_name(name)}"
    if os.path.lexists(st):
        if st.is_symlink() or not st.is_dir() or not ((st / STAGING_MARK).is_file() or read_card(st) is not None):
            raise UserFixableError(f"{st} is in the way and Ars Nova did not make it; move it away and run learn again")
        shutil.rmtree(st)
    st.mkdir(parents=True)
    (st / STAGING_MARK).write_text("a model being built by `arsnova learn` (cleared when that learn runs again)\n")
    return st


def register(staging: Path, data_dir: Path, kind: str, name: str, card: dict, replace: bool = False) -> LearnedModel:
    """Write the card last, then move the finished folder into place in one rename. Replacing
    moves the old model aside first and removes it only after the new one is in place."""
    from models.common.files import write_atomic

    dest = check_free(data_dir, kind, name, replace)
    write_atomic(staging / CARD, json.dumps(card, indent=1).encode())
    (staging / STAGING_MARK).unlink(missing_ok=True)  # complete: from here on the card says whose it is
    old = None
    if dest.exists():
        old = dest.with_name(f".old-{name}")
        if os.path.lexists(old):
            if old.is_symlink() or read_card(old) is None:
                raise UserFixableError(f"{old} is in the way and is not a model Ars Nova wrote; move it away")
            shutil.rmtree(old)
        dest.rename(old)
    staging.rename(dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return LearnedModel(kind, name, dest, card)


MAX_DEPTH = 12


@dataclass(frozen=True)
class Found:
    """The files a `learn` will read, and what it passed over while looking."""

    files: tuple[Path, ...]
    skipped: tuple[tuple[Path, str], ...]  # (path, why) for files it will not read
    over_limit: int  # matching files past ``max_files`` (counted, not read)

    def skips(self, log, max_files: int, what: str) -> "Skips":
        """A tally of skipped files, starting with those the walk passed over."""
        out = Skips(log)
        for p, why in self.skipped:
            out.add(p, why, why.split(" (")[0])
        if self.over_limit:
            log(f"not read: {self.over_limit} more {what} past the limit of {max_files} (--max-files)")
            out.counts["past --max-files"] += self.over_limit
        return out


class Skips:
    """Why files were skipped: one line each for the first ``shown`` (a folder of 10,000 bad
    files does not print 10,000 lines), every one counted."""

    def __init__(self, log, shown: int = 20) -> None:
        self.log, self.shown, self.counts, self.lines = log, shown, Counter(), 0

    def add(self, path: Path, why: str, kind: str) -> None:
        self.counts[kind] += 1
        self.lines += 1
        if self.lines <= self.shown:
            self.log(f"skipped {path}: {why}")
        elif self.lines == self.shown + 1:
            self.log("… more skipped files are counted, not listed")

    def as_dict(self) -> dict[str, int]:
        return dict(self.counts)


def collect_files(source: Path, suffixes: tuple[str, ...], max_files: int, what: str) -> Found:
    """``source`` itself (a file) or the files under it (a folder) whose names end in ``suffixes``,
    in name order. Linked folders are not followed (a link loop cannot trap the walk), hidden
    folders are skipped, depth is bounded; a linked file is read when it leads to a regular file."""
    source = Path(source).expanduser()
    if not os.path.lexists(source):
        raise UserFixableError(f"{source}: no such file or folder; give the folder of your {what}")
    if source.is_file():
        return Found((source,), (), 0)
    if not source.is_dir():
        raise UserFixableError(f"{source}: not a file or a folder; give the folder of your {what}")
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    over = 0
    for top, dirs, names in os.walk(source, followlinks=False, onerror=lambda e: skipped.append(
            (Path(e.filename or source), f"cannot be read ({e.strerror or e})"))):
        depth = len(Path(top).relative_to(source).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and depth < MAX_DEPTH)
        for n in sorted(names):
            p = Path(top) / n
            if not n.lower().endswith(suffixes) or n.startswith("."):
                continue
            if len(files) >= max_files:
                over += 1
                continue
            if p.is_symlink() and not p.is_file():  # a dangling link or a link loop
                skipped.append((p, "a link that leads to no file"))
                continue
            files.append(p)
    return Found(tuple(files), tuple(skipped), over)


def _used(card: dict) -> str:
    if card.get("kind") == "poet":
        return f"{card.get('poems')} poems ({card.get('lines')} lines) from {card.get('files_used')} files"
    return f"{card.get('files_used')} {card.get('unit', 'files')} used"


def card_lines(card: dict) -> str:
    """A learned model's card as Markdown: what it read, how it trained, what it measures."""
    who = KINDS.get(card.get("kind", ""), "model")
    unit = card.get("unit", "files")
    skipped = ", ".join(f"{why} {n}" for why, n in sorted(card.get("skipped", {}).items())) or "none"
    lines = [
        f"# {card.get('name')}: a {who} fine-tuned on {card.get('unit', 'files')} with `arsnova learn`",
        "",
        f"- Source: `{card.get('source')}`; {_used(card)}, {card.get('held_out')} of the {unit} held "
        f"out for validation; files skipped: {skipped}.",
        f"- Started from {card.get('base')}; {card.get('steps')} fine-tuning steps"
        f"{' (stopped early)' if card.get('early_stopped') else ''}, best at step {card.get('best_step')}; "
        f"{card.get('train_seconds')} s training, {card.get('seconds')} s in all.",
        f"- Held-out NLL (nats/token): {card.get('val_nll_before')} before → {card.get('val_nll_after')} after.",
        f"- Copy rate of plain samples (round 0, no revision) against your {unit}: {card.get('copy_rate_plain')}.",
    ]
    if card.get("defaults"):
        d = card["defaults"]
        lines.append("- Defaults read from your files: " + ", ".join(f"{k} {v}" for k, v in d.items()) + ".")
    samples = card.get("plain_samples") or []
    if samples and card.get("kind") == "music":
        lines.append("- Plain samples (round 0, chosen by seed, unselected): " + ", ".join(f"`{x}`" for x in samples) + ".")
    elif samples:
        lines += ["", "## Plain samples (round 0: the model alone, no form, no revision; chosen by seed, unselected)", ""]
        for x in samples:
            lines += ["```", x, "```", ""]
    lines += ["", f"Learned {card.get('learned_at')} with `arsnova learn`; settings: `{json.dumps(card.get('settings'))}`.", ""]
    return "\n".join(lines)
