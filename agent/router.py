"""The offline default planner: a semantic router as a langchain-core chat model.

First ``agent.reading`` takes out what is not a request: questions (answered in words from the
built-in help, ``prompts.HELP_ANSWERS``) and refusals ("no music this time", "words only").
The rest is cut into request segments at sentence ends and conjunctions; each segment is
embedded with all-MiniLM-L6-v2 and classified by its nearest exemplars (each tool's
``router_examples`` in its registry entry, and ``prompts.ROUTER_EXAMPLES`` for "revise" and
"none") into a tool, "revise" or "none": a segment is a request when its best tool beats "none"
by a margin. Segments that are not requests on their own ("... about salt and pepper") are glued
back onto the previous one; a request that names no subject takes the one the others share ("a
poem and a picture about the ocean"). Arguments come from each tool's ``fill_args`` and from the
conversation (the last image, the last poem's topic, the earlier call a follow-up changes).
Deterministic: same conversation, same plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from agent import reading
from agent.prompts import CHITCHAT_REPLY, ROUTER_EXAMPLES
from tools import registry, slots

_SPLIT = re.compile(
    r"(?:[.;!?]+\s+|\n+|,\s*(?:and\s+)?then\s+|,\s+and\s+|\s+and\s+then\s+|\s+and\s+also\s+|\s+and\s+|\s+plus\s+|\s+then\s+|,\s+(?=(?:a|an|some)\s))",
    re.IGNORECASE,
)
_REQUEST_VERB = re.compile(
    r"^(?:also|then|please|make|write|paint|draw|compose|give|create|generate|sketch|play|"
    r"render|restyle|apply|turn|continue|add)\b", re.IGNORECASE)
_MODEL_CHOICE = re.compile(r",?\s*\b(?:with|using|on|by|via|from)\s+(?:the\s+|an?\s+)?(?:transformer|rnn|lstm|recurrent)"
                           r"(?:[\s-]+(?:model|network|net))?\b|\b(?:transformer|rnn|lstm)[\s-]+(?:generated|made|based)\b",
                           re.IGNORECASE)
_SONG = re.compile(r"\b(?:song|lullaby|carol|anthem|serenade|shanty|hymn)s?\b", re.IGNORECASE)


class RouterChatModel(BaseChatModel):
    """Chat model that answers with tool calls chosen by embedding similarity."""

    # A segment is a request of its own when its best tool beats "none" by this margin: a
    # margin, not an absolute cut-off (a fixed 0.32 dropped "write a villanelle about insomnia",
    # whose best tool won clearly at 0.29). On bench/planner_eval.py's dev half requests beat
    # "none" by 0.16 or more and chit-chat or errands by at most -0.03: 0.05 sits in the gap.
    margin: float = 0.05
    k: int = 3
    last_margin: float = 1.0  # the last plan's least clear decision (best label's lead), for the hybrid planner
    _encode: Callable[[list[str]], np.ndarray] | None = PrivateAttr(default=None)
    _labels: list[str] = PrivateAttr(default_factory=list)
    _bank: np.ndarray | None = PrivateAttr(default=None)
    _leads: list[float] = PrivateAttr(default_factory=list)

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

    def classify(self, segments: list[str], follow_up: bool = False) -> list[tuple[str, float, dict[str, float]]]:
        """(label, score, all scores) per segment; score = mean of the k best exemplar cosines.
        ``follow_up``: the conversation has earlier calls, so "again but slower" can revise one."""
        self._ensure_bank()
        emb = self._encode([_MODEL_CHOICE.sub("", s).strip() or s for s in segments])  # "with the rnn" is an argument
        sims = emb @ self._bank.T
        out = []
        self._leads = []
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
            wanted = None if not head else ("write_poem" if head.group(1) in _POEM_NOUNS else
                                            "compose_music" if head.group(1) in _MUSIC_NOUNS else "generate_image")
            ruled = False  # a rule below decided, not the similarity: the decision is as sure as the rule
            if wanted and best in ("write_poem", "generate_image", "compose_music") and best != wanted:
                scores[wanted] = scores[best] + 1e-3
                best, ruled = wanted, True
            if follow_up and (_REVISION.search(text) or _FOLLOW_UP.search(text) and slots.subject(text) is None):
                scores["revise"] = max(scores.values()) + 1e-3  # "turn it into a sonnet": the earlier poem, changed
                best, ruled = "revise", True
            elif best in ("none", "write_poem") and _FORM_WORDS.search(text):  # a form named outside a question: a poem
                scores["write_poem"] = max(scores["write_poem"], scores["none"] + self.margin + 1e-6)
                best, ruled = "write_poem", True
            if best == "style_transfer" and (not _names_a_style(text) or _asks_new_picture(text)):
                # restyling needs a style to copy and a picture to repaint; without them the person wants a new picture
                scores["style_transfer"] = min(scores["style_transfer"], scores["generate_image"] - 1e-3)
                best, ruled = max(scores, key=scores.get), True
            out.append((best, scores[best], scores))
            self._leads.append(1.0 if ruled else self.lead(scores))
        return out

    @staticmethod
    def lead(scores: dict[str, float]) -> float:
        """How clearly a segment was decided: its best label's lead over the runner-up."""
        top = sorted(scores.values(), reverse=True)
        return top[0] - top[1] if len(top) > 1 else 1.0

    def segments(self, text: str, follow_up: bool = False) -> list[tuple[str, str, float]]:
        parts = [p.strip(" ,") for p in _SPLIT.split(text) if p and p.strip(" ,")]
        if not parts:
            return []
        labelled = self.classify(parts, follow_up)
        self.last_margin = min(self._leads, default=1.0)
        merged: list[list] = []
        for part, (label, score, scores) in zip(parts, labelled):
            standalone = label != "none" and score - scores["none"] >= self.margin
            if standalone and merged and label == merged[-1][1] and not _REQUEST_VERB.match(part) and not _KIND_NOUN.search(part):
                standalone = False  # "a poem about salt and pepper", "a still life of pears and a jug": one request
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
        # 1. questions are answered in words; refused tools ("no music this time") leave the text
        questions, rest = reading.split_questions(text)
        refused = reading.refusals(reading.lead_subject(rest))
        notes = [reading.help_answer(questions)] if questions else []
        # 2. segments, labelled; a request that names no subject takes the one the others share
        self.last_margin = 1.0
        segs = self.segments(refused.text, follow_up=bool(history["calls"]))
        confidence = {"arsnova_margin": round(float(self.last_margin), 4)}
        subjects = reading.share_subject([s for s, label, _ in segs])
        calls, revisions, said = [], [], {}  # said: call index -> what the plan tells the person about it
        poem = registry.for_kind("poem")  # a poem asked for elsewhere in the message is a song's words

        def add(name: str, args: dict) -> None:
            if (seed := slots.seed(text)) is not None:  # every tool takes a seed; the message names it once
                args["seed"] = seed
            calls.append({"name": name, "args": args, "id": f"call_{len(calls)}_{name}", "type": "tool_call"})

        for (seg, label, _score), seg_with_subject in zip(segs, subjects):
            if label == "revise":
                # 3. a follow-up re-runs an earlier call, changed as the words say
                target = _revise_target(seg, history)
                if target is None:
                    continue
                name, args = target
                add(name, registry.spec(name).fill_args(seg, text, {**history, "revising": dict(args)}))
                direction, like = _revise_direction(seg)
                revisions.append({"tool": name, "direction": direction, **({"like": like} if like else {})})
                continue
            if label != "none" and len(refused.only) == 1 and label not in refused.only:
                label = next(iter(refused.only))  # "just the picture, a heron at dawn": the heron is a picture
            if label == "none" or label not in tool_names:
                continue
            # 4. arguments; a song about something is words and a tune
            lyrics_asked = poem is not None and sum(lab == poem.name for _, lab, _ in segs) > (label == poem.name)
            for name in _song_tools(seg_with_subject, label, lyrics_asked):
                args = registry.spec(name).fill_args(seg_with_subject, text, history)
                if (sub := slots.form_substitute(seg_with_subject)) and args.get("form") == sub[1]:
                    said[len(calls)] = reading.form_note(*sub)  # a sestina asked for, a villanelle written: say so
                add(name, args)
                history.setdefault("calls", []).append((name, args))
        # 5. what the message refused goes, whatever the labels said
        kept = [i for i, c in enumerate(calls)
                if c["name"] not in refused.excluded and (not refused.only or c["name"] in refused.only)]
        notes += [said[i] for i in kept if i in said]
        calls = [{**calls[i], "id": f"call_{n}_{calls[i]['name']}"} for n, i in enumerate(kept)]
        revisions = [r for r in revisions if any(c["name"] == r["tool"] for c in calls)]
        if not calls:
            return AIMessage(content=" ".join(notes) or CHITCHAT_REPLY,
                             additional_kwargs={**confidence, "arsnova_answered": bool(notes)})
        return AIMessage(content=" ".join(notes), tool_calls=calls,
                         additional_kwargs={"arsnova_revisions": revisions, **confidence,
                                            **({"arsnova_notes": notes} if notes else {})})

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


def _asks_new_picture(text: str) -> bool:
    """'an image in the style of a children's book': a new picture (no file, no earlier one named)."""
    return (not slots.paths(text) and not slots.mentions_last_image(text)
            and bool(re.search(r"\b(?:a|an)\s+(?:[\w-]+\s+)?(?:picture|image|drawing|painting|illustration)\b", text, re.IGNORECASE)))


_POEM_NOUNS = ("poem", "verse", "verses", "lines", "rhyme", *(w for w in [*slots.FORMS, *slots.NEAREST_FORMS] if " " not in w))
_PICTURE_NOUNS = ("picture", "image", "drawing", "painting", "illustration", "sketch")
_MUSIC_NOUNS = ("music", "tune", "melody", "piece", "song", "lullaby", "march", "waltz", "jig", "reel", "polka",
                "minuet", "hornpipe", "chorale", "hymn", "anthem", "carol", "fanfare", "nocturne", "soundtrack")
# the first thing asked for, when a topic follows it: "a poem about a picture", "a picture of a poem"
_HEAD_NOUN = re.compile(rf"\b({'|'.join(_POEM_NOUNS + _PICTURE_NOUNS + _MUSIC_NOUNS)})s?\s+(?:about|of|on|for|to)\b")
_FORM_WORDS = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in [*slots.FORMS, *slots.NEAREST_FORMS]) + r")s?\b",
                         re.IGNORECASE)
_FORM_DESCRIBED = re.compile("|".join(p for p, _ in slots.FORM_DESCRIPTIONS), re.IGNORECASE)
# not something the studio makes: prose, errands, sums, code
_NOT_CREATIVE = re.compile(r"\b(?:essays?|e-?mails?|letters?|memos?|reports?|summar(?:y|ies|ise|ize)|translat\w+|code|"
                           r"scripts?|programs?|bugs?|recipes?|timers?|alarms?|remind\w*|calculat\w+|convert\w*|"
                           r"weather|news|book (?:me|a)|order|schedule|invoice|spreadsheet)\b", re.IGNORECASE)
# a word for something a tool makes: a second "a …" of the same kind is a second request
_KIND_NOUN = re.compile(r"\b(?:" + "|".join(sorted({*_POEM_NOUNS, *_PICTURE_NOUNS, *_MUSIC_NOUNS, "watercolour", "watercolor",
                                                     "sketch", "icon", "portrait", "photo"})) + r")s?\b", re.IGNORECASE)
# a follow-up that re-runs an earlier call: "again but slower", "the first one as a sonnet"
# "make the jig less conventional": asked of an earlier result, whatever kind it names
_REVISION = re.compile(r"\b(less|more)\s+(conventional|original|novel|predictable|surprising|experimental|like)\b",
                       re.IGNORECASE)
_FOLLOW_UP = re.compile(r"\b(?:again|once more|one more time|re-?do|slower|faster|quicker|the (?:first|second|third|last|"
                        r"previous) one)\b|\b(?:turn|make|change|rewrite|redo)\s+(?:it|that|this|the (?:poem|picture|image|"
                        r"music|tune|piece|song|haiku|sonnet))\s+(?:into|as|more|less)\b", re.IGNORECASE)


def _lexical_hints(text: str) -> dict[str, float]:
    """Small boosts for unambiguous words; the embedding decides everything else."""
    low = text.lower()
    hints: dict[str, float] = {}
    if slots.paths(text) and re.search(r"\bstyle\b|\blike\b|look", low) and re.search(r"\.(png|jpe?g|webp)", low):
        hints["style_transfer"] = 0.08
    if re.search(rf"\b(?:bars?|bpm|major|minor|{'|'.join(_MUSIC_NOUNS)})s?\b", low):
        hints["compose_music"] = 0.05
    if re.search(r"\.midi?\b", low):
        hints["compose_music"] = hints.get("compose_music", 0) + 0.15
    if _MODEL_CHOICE.search(text):  # only music has a model to choose in words
        hints["compose_music"] = hints.get("compose_music", 0) + 0.15
    if _FORM_WORDS.search(low):
        hints["write_poem"] = 0.2  # a form named (one the poet writes, or one it maps to the closest) is a poem
    elif re.search(r"\b(poem|verse|lyrics)\b", low) or _FORM_DESCRIBED.search(low):
        hints["write_poem"] = 0.1
    if _NOT_CREATIVE.search(low) and not _FORM_WORDS.search(low):
        hints["none"] = 0.1
    if re.search(r"\b(draw|drawing|sketch|picture|illustration|illustrate)\b", low) and "write_poem" not in hints:
        hints["generate_image"] = 0.05
    if re.search(r"@last\b|\brestyle|\bstyle of\b|\bin the style\b|\bstyle transfer", low):
        hints["style_transfer"] = hints.get("style_transfer", 0) + 0.1
    if _REVISION.search(low):
        hints["revise"] = 0.08
    return hints


def _song_tools(seg: str, label: str, lyrics_asked: bool) -> list[str]:
    """The tools a request runs: its label's, or words and a tune for a song about something
    ("a song about love", "a lullaby for my daughter"; not "a lullaby for music box", and no
    second poem when the message asks for one already)."""
    poem, music = registry.for_kind("poem"), registry.for_kind("music")
    if poem is None or music is None or label not in (poem.name, music.name) or not _SONG.search(seg):
        return [label]
    if label == poem.name and lyrics_asked:
        return [label]
    for_someone = re.search(r"\bfor\s+(?:my|your|his|her|our|their)\s+\w+", seg, re.IGNORECASE)
    if lyrics_asked or not (slots.subject(seg) or (for_someone and "instrument" not in music.fill_args(seg, seg, {}))):
        return [label]
    return [poem.name, music.name]


def _history(messages: list[BaseMessage]) -> dict:
    """Previous tool calls (name, args) in order, from the conversation's AI messages; per turn
    the indexes of its calls, and which calls failed (their ToolMessage is an error)."""
    calls, turns, failed = [], [], set()
    latest: dict[str, int] = {}  # call id -> index, for the latest plan (ids repeat across turns)
    for m in messages:
        if isinstance(m, AIMessage) and m.tool_calls:
            latest = {}
            turns.append([])
            for c in m.tool_calls:
                latest[c.get("id") or ""] = len(calls)
                turns[-1].append(len(calls))
                calls.append((c["name"], c["args"]))
        elif isinstance(m, ToolMessage) and m.status == "error" and m.tool_call_id in latest:
            failed.add(latest[m.tool_call_id])
    return {"calls": calls, "turns": turns, "failed": failed}


_ORDINAL = {"first": 0, "second": 1, "third": 2, "last": -1, "previous": -1}


def _revise_target(seg: str, history: dict) -> tuple[str, dict] | None:
    """The earlier call a follow-up means: by reference ("the first one": of the last turn), by
    kind (its tool's words: "the poem", "more like Dickinson"), else the last call that worked."""
    low = seg.lower()
    calls, failed = history.get("calls", []), history.get("failed", set())
    if (m := re.search(r"\bthe (first|second|third|last|previous) one\b", low)) and history.get("turns"):
        turn = history["turns"][-1]
        i = _ORDINAL[m.group(1)]
        if -len(turn) <= i < len(turn):
            return calls[turn[i]]
    worked = [i for i in range(len(calls)) if i not in failed]
    for s in registry.TOOLS:
        if any(re.search(rf"\b{re.escape(w)}\b", low) for w in s.revise_words):
            mine = [i for i in range(len(calls)) if calls[i][0] == s.name]
            if mine:
                return calls[next((i for i in reversed(mine) if i in worked), mine[-1])]
    if not calls:
        return None
    return calls[worked[-1] if worked else -1]


def _revise_direction(seg: str) -> tuple[str, str | None]:
    """(direction, the author to write more like): ("", "Dickinson"), ("less_novel", None)…;
    "" for a plain re-run with changes ("again but slower")."""
    m = re.search(r"more\s+like\s+([\w .'-]+)", seg, re.IGNORECASE)
    if m:
        return "", m.group(1).strip(" .")
    if re.search(r"\bmore\s+(conventional|traditional|classic)|less\s+(novel|original|weird)", seg, re.IGNORECASE):
        return "less_novel", None
    if not re.search(r"\b(?:less|more)\s+\w+|weirder|bolder|stranger|unusual|novel|different|improve|another version",
                     seg, re.IGNORECASE) and _FOLLOW_UP.search(seg):
        return "", None
    return "more_novel", None
