"""Briefs: a conversation written as YAML, run headless (format in DESIGN.md).

Loaded with ``yaml.safe_load`` after checks that make hostile files cheap to reject: a size
cap, UTF-8 only, no anchors/aliases (the "billion laughs" expansion), no tags beyond the
standard ones. Every error is one line naming the file, the line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.errors import UserFixableError

MAX_BRIEF_BYTES = 256 * 1024
MAX_TURNS = 200
MAX_TURN_CHARS = 4000
KNOWN_FIELDS = ("title", "seed", "planner", "turns", "export")
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


def load_brief(path: str | Path) -> Brief:
    path = Path(path)
    name = str(path)
    try:
        if path.stat().st_size > MAX_BRIEF_BYTES:
            raise BriefError(f"{name}: {path.stat().st_size} bytes is over the {MAX_BRIEF_BYTES} byte limit for a brief")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BriefError(f"{name}: no such brief file") from None
    except IsADirectoryError:
        raise BriefError(f"{name}: is a directory; give a .yaml brief file") from None
    except OSError as e:
        raise BriefError(f"{name}: cannot read ({e.strerror})") from None
    return parse_brief(raw, name)


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
        for ev in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
                raise BriefError(f"{name}:{ev.start_mark.line + 1}: YAML anchors and aliases are not allowed in briefs")
            tag = getattr(ev, "tag", None)
            if tag and tag not in _PLAIN_TAGS:
                shown = tag.replace("tag:yaml.org,2002:", "!!")
                raise BriefError(f"{name}:{ev.start_mark.line + 1}: YAML tag {shown} is not allowed; use plain values")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
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
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31):
        raise BriefError(f"{where('seed')} must be a whole number from 0 to {2**31 - 1}")
    planner = data.get("planner")
    if planner is not None and not isinstance(planner, str):
        raise BriefError(f"{where('planner')} must be text like 'router' or 'hf:PATH'")
    export = data.get("export")
    if export is not None and not isinstance(export, str):
        raise BriefError(f"{where('export')} must be a directory path")
    return Brief(name, tuple(clean), str(title or ""), seed, planner, export)


def save_session_brief(store, session_id: str | None, path: str | Path) -> int:
    """Write a session's user turns as a brief that replays it (atomically); returns how many."""
    turns = store.user_turns(session_id) if session_id else []
    if not turns:
        raise BriefError("this session has no messages to save yet")
    from models.files import write_atomic

    path = Path(path).expanduser()
    try:
        write_atomic(path, Brief(str(path), tuple(turns), store.get(session_id).title).to_yaml().encode("utf-8"))
    except OSError as e:
        raise BriefError(f"{path}: cannot write the brief ({e.strerror})") from None
    return len(turns)
