"""The offline default planner: a semantic router as a langchain-core chat model.

A message is cut into request segments at sentence ends and conjunctions; each segment is
embedded with all-MiniLM-L6-v2 and classified by its nearest exemplars (``prompts.ROUTER_EXAMPLES``)
into a tool, "revise" or "none". Segments that are not requests on their own ("... about salt
and pepper") are glued back onto the previous one. Arguments come from ``agent.slots`` and from
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

from agent import slots
from agent.prompts import CHITCHAT_REPLY, REVISE_KIND_WORDS, ROUTER_EXAMPLES
from models.midi_io import INSTRUMENTS

TOOL_NAMES = ("write_poem", "generate_image", "style_transfer", "compose_music")
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
            for label, examples in ROUTER_EXAMPLES.items():
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
            for label in ROUTER_EXAMPLES:
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
        tool_names = list(tool_names or TOOL_NAMES)
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
                revisions.append({"tool": name, "direction": _revise_direction(seg)})
                continue
            if label == "none" or label not in tool_names:
                continue
            args = _ARG_FILLERS[label](seg, text, history)
            calls.append({"name": label, "args": args, "id": f"call_{len(calls)}_{label}", "type": "tool_call"})
            history.setdefault("calls", []).append((label, args))
        if not calls:
            return AIMessage(content=CHITCHAT_REPLY)
        return AIMessage(content="", tool_calls=calls, additional_kwargs={"arsnova_revisions": revisions})

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        msg = self.plan(messages, kwargs.get("tool_names"))
        return ChatResult(generations=[ChatGeneration(message=msg)])


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


def _last_args(history: dict, name: str) -> dict | None:
    return next((a for n, a in reversed(history.get("calls", [])) if n == name), None)


def _revise_target(seg: str, history: dict) -> tuple[str, dict] | None:
    low = seg.lower()
    for name, words in REVISE_KIND_WORDS.items():
        if any(re.search(rf"\b{w}\b", low) for w in words):
            args = _last_args(history, name)
            if args is not None:
                return name, args
    calls = history.get("calls", [])
    return calls[-1] if calls else None


def _revise_direction(seg: str) -> str:
    m = re.search(r"more\s+like\s+([\w .'-]+)", seg, re.IGNORECASE)
    if m:
        return "style:" + m.group(1).strip(" .")
    if re.search(r"\bmore\s+(conventional|traditional|classic)|less\s+(novel|original|weird)", seg, re.IGNORECASE):
        return "less_novel"
    return "more_novel"


def _poem_args(seg: str, text: str, history: dict) -> dict:
    form, lines = slots.poem_form(seg)
    args: dict[str, Any] = {"topic": slots.topic(seg)}
    if form:
        args["form"] = form
    if lines:
        args["lines"] = lines
    if lang := slots.language(seg):
        args["language"] = lang
    if (s := slots.seed(text)) is not None:
        args["seed"] = s
    return args


def _image_args(seg: str, text: str, history: dict) -> dict:
    prompt = re.sub(r"^(?:please\s+)?(?:paint|draw|sketch|make|create|generate|render|illustrate|show me|give me)\s+(?:me\s+)?",
                    "", seg.strip(), flags=re.IGNORECASE)
    prompt = re.sub(r"^(?:a\s+|an\s+)?(?:picture|image|drawing|painting|illustration)\s+(?:of\s+)?", "", prompt, flags=re.IGNORECASE)
    ref = re.match(r"^(?:(it|this|that|the poem|the music)\b\s*(?:as\s+)?|(?:a\s+|an\s+)?matching\s+(?:picture|image|illustration)?|"
                   r"(?:a\s+|an\s+)?(?:picture|image|illustration)?\s*(?:to go with|for)\s+(?:it|the poem|this)\b)",
                   prompt, re.IGNORECASE)
    if ref:
        rest = prompt[ref.end():].strip(" ,.")
        poem = _last_args(history, "write_poem")
        prompt = f"{poem['topic']}, {rest}".strip(", ") if poem and poem.get("topic") else rest
    # the numbers are arguments, not part of what to draw
    prompt = re.sub(r"[,;]?\s*\b\d{2,6}\s*[x\u00d7]\s*\d{2,6}\b(?:\s*(?:px|pixels))?", "", prompt)
    prompt = re.sub(r"[,;]?\s*\b\d+\s*(?:steps?|denoising steps)\b", "", prompt, flags=re.IGNORECASE)
    prompt = re.sub(r"[,;]?\s*\b(?:with\s+)?seed\s*(?:=|:|of)?\s*\d+", "", prompt, flags=re.IGNORECASE)
    args: dict[str, Any] = {"prompt": prompt.strip(" .,") or seg}
    neg = re.search(r"\b(?:without|no)\s+([\w ,]+)$", seg, re.IGNORECASE)
    if neg:
        args["negative_prompt"] = neg.group(1).strip()
    if wh := slots.size(seg):
        args["width"], args["height"] = wh
    if st := slots.steps(seg):
        args["steps"] = st
    if (s := slots.seed(text)) is not None:
        args["seed"] = s
    return args


def _style_args(seg: str, text: str, history: dict) -> dict:
    found = [p for p in slots.paths(seg) if not p.lower().endswith((".mid", ".midi"))]
    args: dict[str, Any] = {}
    style_name = re.search(r"(?:style of|like|after|manner of)\s+(?:the\s+|a\s+)?([\w' .-]+?)(?:\s+painting)?(?:$|[,.]|\s+to\b|\s+onto\b)", seg, re.IGNORECASE)
    if len(found) >= 2:
        args["content_image"], args["style_image"] = found[0], found[1]
    elif len(found) == 1:
        if re.search(r"style\s+(?:of|from)\s+" + re.escape(found[0]), seg) or re.search(r"(?:like|after|manner of)\s+" + re.escape(found[0]), seg):
            args["content_image"], args["style_image"] = "@last", found[0]
        else:
            args["content_image"] = found[0]
    else:
        args["content_image"] = "@last"
    painting = re.search(r"painting by ([\w' -]+?)(?:$|[,.])|into (?:a |an )?([\w' -]+?) painting", seg, re.IGNORECASE)
    if "style_image" not in args and painting:
        args["style_image"] = (painting.group(1) or painting.group(2)).strip()
    if "style_image" not in args and style_name:
        args["style_image"] = style_name.group(1).strip()
    if re.search(r"\b(keep|preserve|retain)\w*\s+(?:the\s+)?(?:original\s+)?colou?rs?\b", seg, re.IGNORECASE):
        args["preserve_color"] = True
    if re.search(r"\b(subtle|light|gentle|slight)", seg, re.IGNORECASE):
        args["strength"] = 0.4
    elif re.search(r"\b(strong|heavy|bold|intense)", seg, re.IGNORECASE):
        args["strength"] = 0.9
    if px := re.search(r"\b(\d{2,4})\s*(?:px|pixels)\b", seg, re.IGNORECASE):
        args["size"] = int(px.group(1))
    if st := slots.steps(seg):
        args["steps"] = st
    if (s := slots.seed(text)) is not None:
        args["seed"] = s
    return args


def _music_args(seg: str, text: str, history: dict) -> dict:
    args: dict[str, Any] = {}
    mood = re.search(r"\b(slow|calm|peaceful|sad|melancholy|melancholic|happy|joyful|lively|energetic|dark|bright|gentle|"
                     r"dreamy|tender|solemn|playful|mournful|triumphant|quiet|wistful|haunting|upbeat|cheerful)\b", seg, re.IGNORECASE)
    if mood:
        args["mood"] = mood.group(1).lower()
    if k := slots.music_key(seg):
        args["key"] = k
    if t := slots.tempo(seg):
        args["tempo"] = t
    if b := slots.bars(seg):
        args["bars"] = b
    if m := slots.meter(seg):
        args["meter"] = m
    if i := slots.instrument(seg, list(INSTRUMENTS)):
        args["instrument"] = i
    if s := slots.music_style(seg):
        args["style"] = s
    mids = [p for p in slots.paths(seg) if p.lower().endswith((".mid", ".midi"))]
    if mids:
        args["primer_midi"] = mids[0]
    if re.search(r"\b(rnn|lstm|recurrent)\b", seg, re.IGNORECASE):
        args["model"] = "rnn"
    elif re.search(r"\btransformer\b", seg, re.IGNORECASE):
        args["model"] = "transformer"
    if (s := slots.seed(text)) is not None:
        args["seed"] = s
    return args


_ARG_FILLERS = {
    "write_poem": _poem_args,
    "generate_image": _image_args,
    "style_transfer": _style_args,
    "compose_music": _music_args,
}
