"""The offline default planner: a semantic router as a langchain-core chat model.

A message is cut into request segments at sentence ends and conjunctions; each segment is
embedded with all-MiniLM-L6-v2 and classified by its nearest exemplars (each tool's
``router_examples`` in its registry entry, and ``prompts.ROUTER_EXAMPLES`` for "revise" and
"none") into a tool, "revise" or "none". Segments that are not requests on their own ("... about salt
and pepper") are glued back onto the previous one. Arguments come from ``tools.slots`` and from
the conversation (the last image, the last poem's topic, the previous call to revise).
Deterministic: same conversation, same plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from agent.prompts import CHITCHAT_REPLY, ROUTER_EXAMPLES
from tools import registry, slots
_SPLIT = re.compile(
    r"(?:[.;!?]+\s+|\n+|,\s*(?:and\s+)?then\s+|,\s+and\s+|\s+and\s+then\s+|\s+and\s+also\s+|\s+and\s+|\s+plus\s+|\s+then\s+|,\s+(?=(?:a|an|some)\s))",
    re.IGNORECASE,
)
_REQUEST_CUE = re.compile(
    r"^(?:a|an|some|one|two|three|\d+|also|then|please|make|write|paint|draw|compose|give|create|generate|sketch|play|"
    r"render|restyle|apply|turn|continue|add)\b", re.IGNORECASE)


class RouterChatModel(BaseChatModel):
    """Chat model that answers with tool calls chosen by embedding similarity."""

    threshold: float = 0.32  # below this best similarity a segment is not a request of its own
    k: int = 3
    _encode: Callable[[list[str]], np.ndarray] | None = PrivateAttr(default=None)
    _labels: list[str] = PrivateAttr(default_factory=list)
    _bank: np.ndarray | None = PrivateAttr(default=None)

    def __init__(self, encoder: Callable[[list[str]], np.ndarray], **kw: Any) -> None:
        super().__init__(**kw)
        self._encode = encoder

    @property
    def _llm_type(self) -> str:
        return "arsnova-router"

    def bind_tools(self, tools, **kwargs):  # the router knows the tools' contracts by name
        names = [getattr(t, "name", None) or t.get("name") if isinstance(t, dict) else getattr(t, "name", None) for t in tools]
        return self.bind(tool_names=[n for n in names if n], **kwargs)

    # ---- classification --------------------------------------------------------------
    def _ensure_bank(self) -> None:
        if self._bank is None:
            texts, labels = [], []
            for label, examples in _examples().items():
                texts += examples
                labels += [label] * len(examples)
            self._bank = self._encode(texts)
            self._labels = labels

    def classify(self, segments: list[str]) -> list[tuple[str, float, dict[str, float]]]:
        """(label, score, all scores) per segment; score = mean of the k best exemplar cosines."""
        self._ensure_bank()
        emb = self._encode(segments)
        sims = emb @ self._bank.T
        out = []
        labels = np.array(self._labels)
        for row, text in zip(sims, segments):
            scores = {}
            for label in _examples():
                s = np.sort(row[labels == label])[::-1][: self.k]
                scores[label] = float(s.mean())
            for label, bonus in _lexical_hints(text).items():
                scores[label] += bonus
            best = max(scores, key=scores.get)
            head = _HEAD_NOUN.search(text.lower())  # "a poem about a painting" asks for a poem
            wanted = None if not head else "write_poem" if head.group(1) in _POEM_NOUNS else "generate_image"
            if wanted and best in ("write_poem", "generate_image") and best != wanted:
                scores[wanted] = scores[best] + 1e-3
                best = wanted
            if best == "style_transfer" and not _names_a_style(text):
                # restyling needs a style to copy; without one the person wants a new picture
                scores["style_transfer"] = min(scores["style_transfer"], scores["generate_image"] - 1e-3)
                best = max(scores, key=scores.get)
            out.append((best, scores[best], scores))
        return out

    def segments(self, text: str) -> list[tuple[str, str, float]]:
        parts = [p.strip(" ,") for p in _SPLIT.split(text) if p and p.strip(" ,")]
        if not parts:
            return []
        labelled = self.classify(parts)
        merged: list[list] = []
        for part, (label, score, scores) in zip(parts, labelled):
            standalone = label != "none" and score >= self.threshold and scores[label] > scores["none"]
            if standalone and merged and not _REQUEST_CUE.match(part) and label == merged[-1][1]:
                standalone = False  # "a poem about salt and pepper": same intent, no new request
            if merged and not standalone:
                merged[-1][0] += " and " + part
                continue
            merged.append([part, label if standalone else "none", score])
        return [(t, lab, s) for t, lab, s in merged]

    # ---- planning --------------------------------------------------------------------
    def plan(self, messages: list[BaseMessage], tool_names: list[str] | None = None) -> AIMessage:
        tool_names = list(tool_names or registry.names())
        human = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
        if human is None:
            return AIMessage(content=CHITCHAT_REPLY)
        text = str(human.content)[:4000]
        history = _history(messages)
        calls, revisions = [], []
        for seg, label, _score in self.segments(text):
            if label == "revise":
                target = _revise_target(seg, history)
                if target is None:
                    continue
                name, args = target
                calls.append({"name": name, "args": dict(args), "id": f"call_{len(calls)}_{name}", "type": "tool_call"})
                direction, like = _revise_direction(seg)
                revisions.append({"tool": name, "direction": direction, **({"like": like} if like else {})})
                continue
            if label == "none" or label not in tool_names:
                continue
            args = registry.spec(label).fill_args(seg, text, history)
            if (seed := slots.seed(text)) is not None:  # every tool takes a seed; the message names it once
                args["seed"] = seed
            calls.append({"name": label, "args": args, "id": f"call_{len(calls)}_{label}", "type": "tool_call"})
            history.setdefault("calls", []).append((label, args))
        if not calls:
            return AIMessage(content=CHITCHAT_REPLY)
        return AIMessage(content="", tool_calls=calls, additional_kwargs={"arsnova_revisions": revisions})

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        msg = self.plan(messages, kwargs.get("tool_names"))
        return ChatResult(generations=[ChatGeneration(message=msg)])


def _examples() -> dict[str, tuple[str, ...]]:
    """Every label's exemplars: the tools' (from the registry), then "revise" and "none"."""
    return {**{s.name: s.router_examples for s in registry.TOOLS}, **ROUTER_EXAMPLES}


def _names_a_style(text: str) -> bool:
    """A style source: an image path, or words like 'style', 'in the manner of', 'like <name>'."""
    return bool(slots.paths(text)) or bool(re.search(
        r"\b(style|styled|restyle|manner|look like|looks like|like (?:a |an |the )?[A-Z\w]+|after (?:a |the )?[A-Z]\w+|"
        r"into (?:a |an )?[\w-]+ painting|painting by)",
        text, re.IGNORECASE))


_POEM_NOUNS = ("poem", "haiku", "sonnet", "limerick", "verse", "verses", "quatrain", "tanka", "ode", "lines")
_PICTURE_NOUNS = ("picture", "image", "drawing", "painting", "illustration", "sketch")
# the first thing asked for, when a topic follows it: "a poem about a picture", "a picture of a poem"
_HEAD_NOUN = re.compile(rf"\b({'|'.join(_POEM_NOUNS + _PICTURE_NOUNS)})\s+(?:about|of|on|for|to)\b")


def _lexical_hints(text: str) -> dict[str, float]:
    """Small boosts for unambiguous words; the embedding decides everything else."""
    low = text.lower()
    hints: dict[str, float] = {}
    if slots.paths(text) and re.search(r"\bstyle\b|\blike\b|look", low) and re.search(r"\.(png|jpe?g|webp)", low):
        hints["style_transfer"] = 0.08
    if re.search(r"\b(bars?|bpm|major|minor|melody|tune|music)\b", low):
        hints["compose_music"] = 0.05
    if re.search(r"\.midi?\b", low):
        hints["compose_music"] = hints.get("compose_music", 0) + 0.15
    if re.search(r"\b(haiku|sonnet|limerick|poem|verse|quatrain)\b", low):
        hints["write_poem"] = 0.05
    if re.search(r"\b(draw|drawing|sketch|picture|illustration|illustrate)\b", low) and "write_poem" not in hints:
        hints["generate_image"] = 0.05
    if re.search(r"@last\b|\brestyle|\bstyle of\b|\bin the style\b|\bstyle transfer", low):
        hints["style_transfer"] = hints.get("style_transfer", 0) + 0.1
    if re.search(r"\b(less|more)\s+(conventional|original|novel|predictable|surprising|experimental|like)\b", low):
        hints["revise"] = 0.08
    return hints


def _history(messages: list[BaseMessage]) -> dict:
    """Previous tool calls (name, args) in order, from the conversation's AI messages."""
    calls = []
    for m in messages:
        if isinstance(m, AIMessage):
            calls += [(c["name"], c["args"]) for c in m.tool_calls]
    return {"calls": calls}


def _revise_target(seg: str, history: dict) -> tuple[str, dict] | None:
    low = seg.lower()
    for s in registry.TOOLS:
        if any(re.search(rf"\b{w}\b", low) for w in s.revise_words):
            args = slots.last_args(history, s.name)
            if args is not None:
                return s.name, args
    calls = history.get("calls", [])
    return calls[-1] if calls else None


def _revise_direction(seg: str) -> tuple[str, str | None]:
    """(direction, the author to write more like): ("", "Dickinson"), ("less_novel", None)…"""
    m = re.search(r"more\s+like\s+([\w .'-]+)", seg, re.IGNORECASE)
    if m:
        return "", m.group(1).strip(" .")
    if re.search(r"\bmore\s+(conventional|traditional|classic)|less\s+(novel|original|weird)", seg, re.IGNORECASE):
        return "less_novel", None
    return "more_novel", None
