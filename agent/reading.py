"""What a message says besides its requests, read before the router labels it: questions to
answer in words, tools it refuses ("no music this time", "words only"), and the subject its
requests share ("a poem and a picture about the ocean").

Plain patterns over the words each tool is known by (its registry ``revise_words``); the
embedding model labels what is left. Rejected: exemplars for "no music" (an embedding of
"no music, just a quatrain" is nearest to music) and a question label (a question about a
sonnet is nearest to the sonnet exemplars).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

from agent.prompts import CHITCHAT_REPLY, FORM_SUBSTITUTE, HELP_ANSWERS
from tools import registry, slots

# ---- questions ------------------------------------------------------------------------------
_QUESTION = re.compile(
    r"^(?:what|what's|whats|which|who|whom|why|how|when|where|is|are|was|were|does|do|did|can|could|would|will|"
    r"should|may|explain|define|tell me)\b", re.IGNORECASE)
# a request phrased as a question: "could you draw a snowman?", "how about a haiku?", "do a jig";
# "could you <verb> a …" asks for a thing unless the verb asks to be told something
_TELLING = r"(?:explain|tell|say|describe|define|know|mean|recommend|suggest|teach|list|help|remember|understand|read|hear)\b"
_ASKING_FOR = re.compile(
    rf"^(?:(?:how|what)\s+about\b|do\s+(?:a|an|some|me)\b|(?:(?:is|would)\s+it\s+(?:be\s+)?possible\s+to|"
    rf"(?:can|could|would|will|may)\s+(?:you|u|i|we))\s+(?:(?:please|also|maybe|just)\s+)*(?!{_TELLING})\w+(?:\s+\w+)??"
    r"\s+(?:me\s+|us\s+)?(?:a|an|some|something|the|my|this|that|it|one|two|three|four|\d+|"
    r"[\w./~-]+\.(?:png|jpe?g|webp|midi?))\b)", re.IGNORECASE)
_INTERJECTION = re.compile(r"^(?:(?:hello|hi|hey|ok|okay|thanks|thank you|please|so|and|now|well|oh|great|lovely)\b[\s,!.]*)+",
                           re.IGNORECASE)
_HELP_TOPICS = (  # (pattern, HELP_ANSWERS key), besides the forms a question names
    (r"\bkeys?\b|\bmajor\b|\bminor\b", "keys"),
    (r"\b\d{1,2}/\d{1,2}\b|\bmet(?:er|re)s?\b|\btime signatures?\b", "meters"),
    (r"\btempo\b|\bbpm\b", "tempo"),
    (r"\binstruments?\b", "instruments"),
    (r"\bmodels?\b|\btransformer\b|\brnn\b|\blstm\b", "models"),
    (r"\brestyl\w*|\bstyle transfer\b|\bphotos?\b", "restyle"),
    (r"\bforms?\b|\bkinds? of poe\w*|\bpoetry\b", "forms"),
)


def is_question(sentence: str) -> bool:
    """A question to answer in words, not a request phrased as one."""
    s = _INTERJECTION.sub("", sentence.strip())  # "hello, can you write a haiku?" asks for a haiku
    if _ASKING_FOR.match(s):
        return False
    return bool(_QUESTION.match(s)) or (s.endswith("?") and not re.match(r"^(?:a|an|some|\d+)\b", s, re.IGNORECASE))


def split_questions(text: str) -> tuple[list[str], str]:
    """(the questions, the rest of the message): sentences are cut at . ! ? and line ends."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]
    questions = [s for s in sentences if is_question(s)]
    return questions, " ".join(s for s in sentences if s not in questions)


def help_answer(questions: list[str]) -> str:
    """The built-in help lines a set of questions asks about; the overview when none is named."""
    keys: list[str] = []
    for q in questions:
        low = q.lower()
        keys += [slots.FORMS.get(w, w) for w in [*slots.FORMS, *slots.NEAREST_FORMS] if re.search(rf"\b{re.escape(w)}s?\b", low)]
        keys += [k for pattern, k in _HELP_TOPICS if re.search(pattern, low)]
    lines = []
    for k in dict.fromkeys(keys):
        if k in HELP_ANSWERS:
            lines.append(HELP_ANSWERS[k])
        elif k in slots.NEAREST_FORMS:
            lines.append(form_note(k, *slots.NEAREST_FORMS[k]))
    return " ".join(lines) or CHITCHAT_REPLY


def form_note(asked: str, used: str, why: str) -> str:
    return FORM_SUBSTITUTE.format(asked=asked, used="free verse" if used == "free" else f"a {used}", why=why)


# ---- refusals: "no music this time", "words only", "just the picture" ------------------------
_VERBS = {"image": ("draw", "paint", "sketch", "illustrate"), "music": ("compose", "play")}
_FILLER = r"(?:\s+(?:this time|please|needed|today|for now|at all|either|thanks|anything|a thing|it|one))*"
_CLAUSE_START = r"(?:^|(?<=[,;:.!?(])\s*|\s+[-\u2014\u2013]+\s*|\s+(?:but|and|so|though)\s+)"


@dataclass(frozen=True)
class Refusals:
    text: str  # the message without the refusing clauses
    excluded: frozenset[str] = frozenset()  # tools the message refuses
    only: frozenset[str] = frozenset()  # tools the message limits itself to (empty: no limit)


def _nouns() -> dict[str, str]:
    """word -> tool: the words each tool's results are called by (its registry ``revise_words``)."""
    out = {}
    for s in registry.TOOLS:
        for w in s.revise_words:
            out.setdefault(w, s.name)
    return out


def refusals(text: str) -> Refusals:
    """The message without its refusing clauses, and the tools they refuse or limit it to."""
    nouns = _nouns()
    poem, music = registry.for_kind("poem"), registry.for_kind("music")
    noun = "|".join(sorted((re.escape(w) for w in nouns), key=len, reverse=True))
    out = SimpleNamespace(text=text, excluded=set(), only=set())

    def cut(pattern: str, on_match) -> None:
        while m := re.search(pattern, out.text, re.IGNORECASE):
            on_match(m)
            mid = m.start() and m.end() < len(out.text)  # keep a boundary between what was either side
            joined = f"{out.text[: m.start()]}{',' if mid else ''} {out.text[m.end():]}"
            out.text = re.sub(r"\s*([,;:])(?:\s*[,;:])+", r"\1", joined).strip()

    def exclude(m) -> None:
        if (t := nouns.get(m.group("w").lower())) is not None:
            out.excluded.add(t)

    def limit(m) -> None:
        w = m.group("w").lower()
        if w == "instrumental" and music is not None:
            out.only.add(music.name)
        elif (t := nouns.get(w)) is not None:
            out.only.add(t)

    # "no music this time", "without any pictures", "skip the poem", "never mind the music"
    cut(rf"{_CLAUSE_START}(?:no|not|without|skip|minus|never mind|forget|leave out)\s+(?:(?:any|the|a|an|more)\s+)*"
        rf"(?P<w>{noun})s?\b{_FILLER}", exclude)
    # "I don't want a picture", "don't draw anything"
    cut(rf"{_CLAUSE_START}(?:i\s+)?(?:don't|do not|dont)\s+(?:want|need)\s+(?:(?:any|a|an|the)\s+)?(?P<w>{noun})s?\b{_FILLER}",
        exclude)
    for kind, verbs in _VERBS.items():
        if (spec := registry.for_kind(kind)) is None:
            continue
        cut(rf"{_CLAUSE_START}(?:don't|do not|dont|no need to)\s+(?:{'|'.join(verbs)})\b{_FILLER}",
            lambda m, name=spec.name: out.excluded.add(name))
    # "words only", "instrumental only", "the tune only"
    cut(rf"{_CLAUSE_START}(?:(?:the|a|an)\s+)?(?P<w>{noun}|instrumental)s?\s+only\b{_FILLER}", limit)
    # "just the picture, …" (a clause of its own) / "just a quatrain about …" (only the word goes)
    cut(rf"{_CLAUSE_START}(?:just|only)\s+(?:(?:the|a|an)\s+)?(?P<w>{noun}|instrumental)s?\b{_FILLER}"
        r"(?=\s*(?:[,;:.!?\u2014\u2013]|$))", limit)
    for m in re.finditer(rf"\b(?:just|only)\s+(?:(?:the|a|an)\s+)?(?P<w>{noun})s?\b", out.text, re.IGNORECASE):
        limit(m)
    out.text = re.sub(r"^(?:\s*(?:(?:and|but|so|then)\b|[,;:\u2014\u2013-]))+\s*", "", out.text, flags=re.IGNORECASE)
    out.text = re.sub(r"(?:\s*[,;:\u2014\u2013-])+\s*$", "", out.text).strip()
    if re.search(r"\binstrumental\b", text, re.IGNORECASE) and poem is not None:
        out.excluded.add(poem.name)
    return Refusals(out.text, frozenset(out.excluded), frozenset(out.only - out.excluded))


# ---- a subject the requests share -------------------------------------------------------------
_KIND = re.compile(r"\b(?:poem|haiku|sonnet|limerick|verse|picture|image|drawing|painting|illustration|tune|song|melody|"
                   r"music|piece)s?\b", re.IGNORECASE)
_REFERS = re.compile(r"\b(?:about|of|on|concerning|describing|celebrating|matching|to go with|for|it|this|that)\b|:",
                     re.IGNORECASE)
_PRONOUN = re.compile(r"^(?:it|this|that|them|the same(?: thing)?)$", re.IGNORECASE)


def lead_subject(text: str) -> str:
    """'the moon: a haiku and an image' -> 'a haiku and an image about the moon' (a subject
    named before a colon that introduces the requests)."""
    m = re.match(r"^([^:]{2,80}):\s*(.+)$", text.strip(), re.DOTALL)
    if not m or _KIND.search(m.group(1)) or not _KIND.search(m.group(2)) or slots.subject(m.group(2)):
        return text
    return f"{m.group(2).rstrip(' .!')} about {m.group(1).strip()}"


def share_subject(segments: list[str]) -> list[str]:
    """'a poem' + 'a picture about the ocean' -> 'a poem about the ocean' + …: a request that
    names no subject ('a poem', 'a poem about it') takes the one the next request names (else
    the previous one)."""
    said = [slots.subject(s) for s in segments]
    said = [None if s is not None and _PRONOUN.match(s) else s for s in said]
    # what "it" can mean besides: 'a picture of the ocean and a poem about it'
    named = [s or (slots.topic(seg) if re.search(r"\b(?:of|on)\s+(?!(?:it|this|that|them)\b)", seg) else None)
             for s, seg in zip(said, segments)]
    out = list(segments)
    for i, seg in enumerate(segments):
        if said[i] is not None:
            continue
        sources = said
        if pronoun := re.search(r"\s+(?:about|on|of)\s+(?:it|this|that|them)\s*$", seg, re.IGNORECASE):
            seg, sources = seg[: pronoun.start()], named
        elif _REFERS.search(seg):
            continue
        later = [s for s in sources[i + 1:] if s]
        earlier = [s for s in sources[:i] if s]
        if shared := (later[0] if later else earlier[-1] if earlier else None):
            out[i] = f"{seg} about {shared}"
    return out
