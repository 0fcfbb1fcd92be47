"""Briefs: a conversation written as YAML, run headless (format in DESIGN.md).

Loaded with PyYAML's SafeLoader after checks that make hostile files cheap to reject: a
regular file within a size cap, UTF-8 only, no anchors/aliases (the "billion laughs"
expansion), no tags beyond the standard ones, lists and mappings at most MAX_NESTING deep
(checked on the event stream, before the recursive composer sees 60,000 brackets), and no key
given twice. Every error is one line naming the file, the line and the field.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from models.common.errors import UserFixableError
from models.common.files import read_capped

MAX_BRIEF_BYTES = 256 * 1024
MAX_TURNS = 200
MAX_TURN_CHARS = 4000
MAX_NESTING = 32  # lists and mappings inside one another; a brief needs 2
KNOWN_FIELDS = ("title", "seed", "planner", "turns", "export")
MAX_SEED = 2**31 - 1  # numpy's and torch's generators take it as is on every platform
_PLAIN_TAGS = {"!", *(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map"))}


class BriefError(UserFixableError):
    pass


@dataclass(frozen=True)
class Brief:
    path: str
    turns: tuple[str, ...]
    title: str = ""
    seed: int | None = None
    planner: str | None = None
    export: str | None = None

    def to_yaml(self) -> str:
        import yaml

        data: dict = {}
        if self.title:
            data["title"] = self.title
        if self.seed is not None:
            data["seed"] = self.seed
        if self.planner:
            data["planner"] = self.planner
        data["turns"] = list(self.turns)
        if self.export:
            data["export"] = self.export
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@functools.cache
def _brief_loader():
    """The loader class, built on first use: yaml is imported only when a brief is read."""
    import yaml

    class BriefLoader(yaml.SafeLoader):
        """SafeLoader that refuses a key given twice in one mapping. YAML requires keys to be
        unique; PyYAML keeps the last silently, so a brief with two 'turns:' would run only the
        second list."""

        def __init__(self, text: str, name: str) -> None:
            super().__init__(text)
            self.brief_name = name

        def construct_mapping(self, node, deep=False):
            first: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = first.setdefault(key, key_node)
                except TypeError:  # an unhashable key: SafeLoader's own error says so
                    continue
                if seen is not key_node:
                    what = "field" if node is self.brief_root else "key"
                    raise BriefError(f"{self.brief_name}:{key_node.start_mark.line + 1}: {what} '{str(key)[:60]}' appears twice "
                                     f"(first on line {seen.start_mark.line + 1}); keep one")
            return super().construct_mapping(node, deep)

        def construct_document(self, node):
            self.brief_root = node
            return super().construct_document(node)

    return BriefLoader


def load_brief(path: str | Path) -> Brief:
    # a FIFO, a device, a directory or a 3 GB file is refused before a byte is read
    return parse_brief(read_capped(path, MAX_BRIEF_BYTES, "brief", BriefError), str(path))


def parse_brief(raw: bytes, name: str = "<brief>") -> Brief:
    import yaml

    if len(raw) > MAX_BRIEF_BYTES:
        raise BriefError(f"{name}: {len(raw)} bytes is over the {MAX_BRIEF_BYTES} byte limit for a brief")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise BriefError(f"{name}:{line}: not valid UTF-8 (byte {e.start}); save the brief as UTF-8") from None
    if "\x00" in text:
        raise BriefError(f"{name}: contains NUL bytes; a brief is a text file")
    try:
        depth = 0
        for ev in yaml.parse(text, Loader=yaml.SafeLoader):  # PyYAML's parser keeps a stack, not recursion
            if isinstance(ev, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:  # composing this would recurse once per level
                    raise BriefError(f"{name}:{ev.start_mark.line + 1}: lists and mappings nested more than "
                                     f"{MAX_NESTING} levels deep; a brief is a mapping with a list of messages")
            elif isinstance(ev, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
                raise BriefError(f"{name}:{ev.start_mark.line + 1}: YAML anchors and aliases are not allowed in briefs")
            tag = getattr(ev, "tag", None)
            if tag and tag not in _PLAIN_TAGS:
                shown = tag.replace("tag:yaml.org,2002:", "!!")
                raise BriefError(f"{name}:{ev.start_mark.line + 1}: YAML tag {shown} is not allowed; use plain values")
        loader = _brief_loader()(text, name)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except BriefError:
        raise
    except yaml.MarkedYAMLError as e:
        # at the end of the file the problem is where an unclosed thing was opened
        at_end = e.problem_mark is not None and e.problem_mark.index >= len(text.rstrip())
        mark = (e.context_mark if at_end and e.context_mark else None) or e.problem_mark or e.context_mark
        where = f"{name}:{mark.line + 1}" if mark else name
        raise BriefError(f"{where}: invalid YAML ({e.problem or e.context}); fix the syntax there") from None
    except yaml.YAMLError as e:
        raise BriefError(f"{name}: invalid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise BriefError(f"{name}:1: a brief is a mapping with a 'turns' list, e.g. 'turns: [\"Write a haiku\"]'")
    lines = {k.value: k.start_mark.line + 1 for k, _ in root.value} if root is not None else {}

    def where(field: str) -> str:
        return f"{name}:{lines.get(field, 1)}: field '{field}'"

    unknown = [k for k in data if k not in KNOWN_FIELDS]
    if unknown:
        raise BriefError(f"{where(str(unknown[0]))} is not a brief field; the fields are {', '.join(KNOWN_FIELDS)}")
    if "turns" not in data:
        raise BriefError(f"{name}:1: field 'turns' is missing; add 'turns:' with a list of messages")
    turns = data["turns"]
    if not isinstance(turns, list):
        raise BriefError(f"{where('turns')} must be a list of messages, got {type(turns).__name__}")
    if not turns:
        raise BriefError(f"{where('turns')} is empty; add at least one message")
    if len(turns) > MAX_TURNS:
        raise BriefError(f"{where('turns')} has {len(turns)} messages; the limit is {MAX_TURNS}")
    clean = []
    for i, t in enumerate(turns, 1):
        if not isinstance(t, str):
            raise BriefError(f"{where('turns')}: message {i} must be text, got {type(t).__name__}")
        if not t.strip():
            raise BriefError(f"{where('turns')}: message {i} is empty")
        if len(t) > MAX_TURN_CHARS:
            raise BriefError(f"{where('turns')}: message {i} has {len(t)} characters; the limit is {MAX_TURN_CHARS}")
        clean.append(t.strip())
    title = data.get("title", "")
    if title is not None and not isinstance(title, (str, int, float)):
        raise BriefError(f"{where('title')} must be text")
    seed = data.get("seed")
    if seed is not None:
        check_seed(seed, where("seed"))
    planner = data.get("planner")
    if planner is not None and not isinstance(planner, str):
        raise BriefError(f"{where('planner')} must be text like 'router' or 'hf:PATH'")
    export = data.get("export")
    if export is not None and not isinstance(export, str):
        raise BriefError(f"{where('export')} must be a directory path")
    return Brief(name, tuple(clean), str(title or ""), seed, planner, export)


def export_dir(brief: Brief) -> Path:
    """The brief's ``export`` as a folder inside the brief's own folder. A brief is a file that
    may come from someone else: its ``export`` is read from where the brief lies (not from the
    current directory) and may not reach out of that folder: no absolute path, no ``..``, no
    symbolic link leading elsewhere. To write elsewhere, name the folder with --out."""
    raw = brief.export or ""
    where = f"{brief.path}: field 'export'"
    if "\x00" in raw:
        raise BriefError(f"{where} contains a NUL byte; give a plain relative folder name")
    rel = Path(raw)
    if rel.is_absolute() or raw.startswith("~"):
        raise BriefError(f"{where} is the absolute path {raw}; a brief writes only inside its own folder: "
                         f"give a relative path, or pass --out {raw}")
    if ".." in rel.parts:
        raise BriefError(f"{where} ({raw}) climbs out of the brief's folder with '..'; "
                         "give a folder inside it, or pass --out")
    folder = Path(brief.path).parent.resolve()
    dest = folder / rel
    try:
        inside = folder in dest.resolve().parents
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        raise BriefError(f"{where} ({raw}) leads outside the brief's folder {folder} (through a symbolic link, "
                         "or to the folder itself); give a folder inside it, or pass --out")
    return dest


def check_seed(seed: object, where: str) -> int:
    """A seed from a brief's ``seed:`` or from ``--seed``: one range for both, 0 to MAX_SEED."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise BriefError(f"{where} must be a whole number from 0 to {MAX_SEED}")
    return seed


def save_session_brief(store, session_id: str | None, path: str | Path) -> int:
    """Write a session's user turns as a brief that replays it (atomically); returns how many."""
    turns = store.user_turns(session_id) if session_id else []
    if not turns:
        raise BriefError("this session has no messages to save yet")
    from models.common.files import write_atomic

    path = Path(path).expanduser()
    try:
        write_atomic(path, Brief(str(path), tuple(turns), store.get(session_id).title).to_yaml().encode("utf-8"))
    except OSError as e:
        raise BriefError(f"{path}: cannot write the brief ({e.strerror})") from None
    return len(turns)
