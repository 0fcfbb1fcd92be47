"""Requests that name a model learned from the person's own work: "compose in the style of
my-tunes", "a poem like grandma". Whatever planned the turn (router or LLM) does not know those
names, so after planning each music or poem call that names no model gets the learned model the
message refers to: a registered name after a style cue ("in the style of", "like", "by", "after",
"as", "with", "using"), never an ordinary word that happens to be a name elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

from models.common.learned import list_learned
from tools import registry

_CUE = re.compile(r"\b(?:in\s+the\s+(?:style|manner|voice)\s+of|à\s+la|a\s+la|like|by|after|as|with|using)\s+"
                  r"(?:my\s+|the\s+|our\s+)?([A-Za-z0-9][A-Za-z0-9_-]{0,39})(?:'s)?\b", re.IGNORECASE)
# artifact kind of a tool (its registry entry) -> (kind of learned model, the argument that names it)
LEARNED = {"music": ("music", "composer"), "poem": ("poet", "poet")}


def mentioned(text: str, data_dir: Path | None) -> dict[str, str]:
    """kind -> the learned model's name the message refers to (the first cue that names one)."""
    names = {kind: {m.name.lower(): m.name for m in list_learned(data_dir, kind)} for kind, _ in LEARNED.values()}
    if not any(names.values()):
        return {}
    out: dict[str, str] = {}
    for m in _CUE.finditer(text):
        word = m.group(1).lower()
        for kind, known in names.items():
            if word in known and kind not in out:
                out[kind] = known[word]
    return out


def bind_learned(calls: list[dict], text: str, data_dir: Path | None) -> list[dict]:
    """The plan's calls, a music or poem call without a model given the learned one the text names."""
    refs = mentioned(text, data_dir)
    if not refs:
        return calls
    out = []
    for c in calls:
        kind, arg = LEARNED.get(registry.spec(c["name"]).kind, (None, None)) if c["name"] in registry.names() else (None, None)
        if kind in refs and not c["args"].get(arg):
            args = {**c["args"], arg: refs[kind]}
            if isinstance(args.get("topic"), str):  # "a poem like grandma about the sea": the topic is the sea
                topic = re.sub(rf"\b(?:like|by|after|as|in the (?:style|manner|voice) of)\s+(?:my\s+)?{re.escape(refs[kind])}"
                               r"(?:'s)?\b", "", args["topic"], flags=re.IGNORECASE)
                args["topic"] = " ".join(topic.split()) or args["topic"]
            c = {**c, "args": args}
        out.append(c)
    return out
