"""Slot extraction: the arguments a request states in words (each tool's ``fill_args`` uses these).

Each function takes one request segment and returns only what the text says; the tools
supply defaults. Patterns cover the ways people write keys ("D minor", "in f#", "B-flat
major", "Dm"), tempi ("96 bpm", "slow", "allegro"), lengths ("16 bars", "sixteen measures"),
meters ("3/4", "waltz"), counts, sizes ("512x512") and file paths.
"""

from __future__ import annotations

import re

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "eighteen": 18, "twenty": 20, "twenty-four": 24, "thirty-two": 32, "forty": 40, "forty-eight": 48,
    "sixty-four": 64, "a dozen": 12, "a couple of": 2, "a few": 3,
}
_NUM = r"(\d+|" + "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True)) + r")"

TEMPO_WORDS = {
    "largo": 50, "lento": 55, "adagio": 70, "very slow": 55, "slow": 72, "slowly": 72, "andante": 84,
    "moderato": 104, "moderate": 104, "walking pace": 96, "allegretto": 112, "allegro": 132, "lively": 132,
    "upbeat": 128, "lullaby": 63, "cradle song": 63, "nocturne": 60, "fast": 144, "quick": 144, "vivace": 160, "presto": 176, "very fast": 176,
}
# Dance tunes: (meter, the beat a dancer counts in quarter notes, its default and its lively beats a
# minute). The tool writes tempo as quarter notes a minute (the MIDI file's tempo), so a jig's beat
# of a dotted crotchet at 116 is written 174. Figures from the folk literature: set and céilí
# dancing tempi, two beats a bar (Sydney Irish Céilí Dancers' table): reels and jigs 116-124,
# hornpipes 92-100, polkas and slides 132-140; session players' usual speeds (Chiff and Fipple
# forum's "pretty standard tempos"): reels 112-120, hornpipes about 92, polkas 132-138; and
# una.ie's measured march at crotchet 118. A plain request takes the relaxed session speed, a
# lively one the dancers' (``dance_tempo``); slip jigs count three dotted crotchets a bar, a
# strathspey four crotchets (Scottish country dancing's 30-32 bars a minute).
DANCE_TEMPI = {
    "jig": ("6/8", 1.5, 112, 120), "slip jig": ("9/8", 1.5, 112, 120), "slide": ("12/8", 1.5, 126, 136),
    "reel": ("4/4", 2.0, 108, 116), "hornpipe": ("4/4", 2.0, 84, 96), "polka": ("2/4", 1.0, 126, 136),
    "strathspey": ("4/4", 1.0, 124, 132), "march": ("2/4", 1.0, 112, 120),
}
_DANCE_WORD_RE = re.compile(r"\b(slip[- ]jigs?|jigs?|slides?|reels?|hornpipes?|polkas?|strathspeys?|march(?:es)?)\b", re.IGNORECASE)
# tempo words that lift a dance to its lively speed, or ease it (a "slow reel")
LIVELY_WORDS = ("lively", "fast", "quick", "brisk", "upbeat", "energetic", "allegro", "vivace", "presto", "very fast",
                "happy", "joyful", "cheerful", "playful")
EASY_WORDS = ("slow", "slowly", "gentle", "relaxed", "easy", "steady", "andante", "moderato", "moderate")
METER_WORDS = {"waltz": "3/4", "jig": "6/8", "slip jig": "9/8", "march": "2/4", "reel": "4/4", "hornpipe": "4/4",
               "polka": "2/4", "minuet": "3/4", "mazurka": "3/4", "siciliano": "6/8", "barcarolle": "6/8",
               "common time": "4/4", "cut time": "2/2", "alla breve": "2/2"}
STYLE_WORDS = {"chorale": "chorale", "bach": "chorale", "hymn": "chorale", "four-part": "chorale",
               "church": "chorale", "irish": "irish", "reel": "irish", "jig": "irish", "hornpipe": "irish",
               "celtic": "irish", "scottish": "scottish", "strathspey": "scottish", "highland": "scottish",
               "english": "english", "german": "folk", "folk": "folk", "folk song": "folk", "lullaby": "folk"}
# every form the poet writes (tools/write_poem.py POEM_FORMS), by the words people use for it
FORMS = {"haiku": "haiku", "sonnet": "sonnet", "limerick": "limerick", "quatrain": "quatrain",
         "free verse": "free", "free-verse": "free", "couplet": "couplet", "tanka": "tanka",
         "villanelle": "villanelle", "cinquain": "cinquain"}
# forms the poet does not write -> (the closest it does, why); the plan says so in words
NEAREST_FORMS = {
    "sestina": ("villanelle", "a fixed form built on repeated lines"),
    "rondeau": ("villanelle", "refrains on two rhymes"), "triolet": ("villanelle", "refrains on two rhymes"),
    "ghazal": ("couplet", "a ghazal is made of couplets"), "epigram": ("couplet", "short and rhymed"),
    "ballad": ("quatrain", "ballad stanzas are quatrains"), "pantoum": ("quatrain", "a pantoum is made of quatrains"),
    "clerihew": ("quatrain", "four rhymed lines"), "senryu": ("haiku", "the same 5-7-5 shape"),
    "renga": ("tanka", "the 5-7-5-7-7 shape"), "ode": ("free", "an ode has no fixed shape"),
    "elegy": ("free", "an elegy has no fixed shape"), "blank verse": ("free", "unrhymed lines"),
    "prose poem": ("free", "no fixed lines"), "acrostic": ("free", "the first letters are not planned"),
    "terza rima": ("free", "chained tercet rhymes are not planned"),
}
# descriptions of a form, tried in order when no form is named
FORM_DESCRIPTIONS = (
    (r"\b5\s*[-,/ ]\s*7\s*[-,/ ]\s*5\s*[-,/ ]\s*7\s*[-,/ ]\s*7\b|\bthirty-one syllables\b", "tanka"),
    (r"\b5\s*[-,/ ]\s*7\s*[-,/ ]\s*5\b|\bseventeen syllables\b", "haiku"),
    (r"\b2\s*[-,/ ]\s*4\s*[-,/ ]\s*6\s*[-,/ ]\s*8\s*[-,/ ]\s*2\b", "cinquain"),
    (r"\biambic pentameter\b|(?<![\w-])(?:14|fourteen)[\s-]*lines?\b", "sonnet"),
    (r"(?<![\w-])(?:19|nineteen)[\s-]*lines?\b", "villanelle"),
    (r"(?<![\w-])(?:5|five)[\s-]*lines?\b.*\b(?:funny|comic|humorous|silly|nonsense|rhym\w*)\b|"
     r"\b(?:funny|comic|humorous|silly|nonsense)\b.*(?<![\w-])(?:5|five)[\s-]*lines?\b", "limerick"),
    (r"(?<![\w-])(?:4|four)[\s-]*lines?\b", "quatrain"),  # not "twenty-four lines"
    (r"(?<![\w-])(?:2|two)[\s-]*lines?\b|\brhyming pair\b", "couplet"),
)
LANGUAGES = ("english", "chinese", "french", "german", "spanish", "italian", "latin", "japanese")

_NOTE = r"([a-gA-G])(\s*(?:#|♯|-?sharp|-?flat|♭|b(?=m(?![a-z])|(?![a-z]))))?"
_KEY_RE = re.compile(
    r"(?<![\w])(?:in\s+(?:the\s+key\s+of\s+)?|key\s+(?:of\s+)?)?" + _NOTE + r"(?:\s*(major|minor|maj|min|m(?![a-z])|dorian|phrygian|aeolian|locrian|ionian|lydian|mixolydian))?(?![\w#♯])",
    re.IGNORECASE,
)
_PATH_RE = re.compile(r"""(?:"([^"]+)"|'([^']+)'|(?<![\w@])((?:~|\.{1,2})?/?[\w.\-~/\\]+\.(?:png|jpe?g|webp|gif|bmp|tiff?|midi|mid)))""", re.IGNORECASE)
_LAST_RE = re.compile(r"(@last\b|\b(?:the\s+)?(?:last|latest|previous|same|that|this)\s+(?:image|picture|painting|drawing|photo|one)\b|\bit\b)", re.IGNORECASE)


def number(text: str) -> int | None:
    t = text.strip().lower()
    if t.isdigit():
        return int(t)
    return NUMBER_WORDS.get(t)


def music_key(text: str) -> str | None:
    """'D minor', 'in f#', 'B-flat major', 'in Ebm', 'A dorian' -> 'D minor', 'F# major', 'Bb major',
    'Eb minor', 'A dorian' (a church mode is kept as asked: the tool writes it as a key and says so)."""
    for m in _KEY_RE.finditer(text):
        letter, acc, mode = m.group(1), (m.group(2) or "").strip().lower(), (m.group(3) or "").lower()
        prefixed = m.group(0).lower().startswith(("in ", "key"))
        if not (mode or prefixed):
            continue
        if letter == "a" and not acc and not mode and re.match(r"\s+[a-z]", text[m.end():]):
            continue  # "in a dreamy mood": the article, not the key of A
        name = letter.upper()
        if acc.lstrip("-") in ("#", "♯", "sharp"):
            name += "#"
        elif acc.lstrip("-") in ("b", "♭", "flat"):
            name += "b"
        if mode in ("major", "minor", "maj", "min", "m", ""):
            mode = "minor" if mode in ("minor", "min", "m") else "major"
        return f"{name} {mode}"
    return None


def tempo_number(text: str) -> int | None:
    """A tempo written as a number ('96 bpm', 'tempo 140'), not a word."""
    m = re.search(r"(\d{2,3})\s*(?:bpm|beats per minute|qpm)", text, re.IGNORECASE) or \
        re.search(r"tempo\s*(?:of\s*)?(\d{2,3})\b", text, re.IGNORECASE)
    return int(m.group(1)) if m else None


def tempo(text: str) -> int | None:
    m = re.search(r"(\d{2,3})\s*(?:bpm|beats per minute|qpm)", text, re.IGNORECASE)
    if m:
        return int(m.group(1))
    m = re.search(r"tempo\s*(?:of\s*)?(\d{2,3})\b", text, re.IGNORECASE)
    if m:
        return int(m.group(1))
    low = text.lower()
    for word in sorted(TEMPO_WORDS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(word)}\b", low):
            return TEMPO_WORDS[word]
    return None


def dance(text: str) -> str | None:
    """The dance tune a request names ('a lively jig' -> 'jig', 'slip-jigs' -> 'slip jig'), else None."""
    m = _DANCE_WORD_RE.search(text)
    if not m:
        return None
    word = m.group(1).lower().replace("-", " ")
    word = "march" if word.startswith("march") else word.rstrip("s") if not word.endswith("ss") else word
    return word if word in DANCE_TEMPI else None


def speed_words(text: str) -> tuple[bool, bool]:
    """Whether ``text`` has a word that lifts a dance to its lively speed (``LIVELY_WORDS``), and one
    that eases it (``EASY_WORDS``)."""
    low = text.lower()
    has = lambda words: any(re.search(rf"\b{re.escape(w)}\b", low) for w in words)  # noqa: E731
    return has(LIVELY_WORDS), has(EASY_WORDS)


def dance_tempo(name: str, text: str = "", lively: bool | None = None) -> int:
    """A dance's tempo in quarter notes a minute (what the MIDI file carries): its beat at the
    session speed, at the dancers' lively speed when the text (or ``lively``) says lively, fast...,
    and 85% of the session speed when it says slow, gentle...: 'lively' lifts the dance's own
    tempo, it does not replace it with a generic one (a lively jig: dotted crotchet 120, 180)."""
    _, beat, plain, quick = DANCE_TEMPI[name]
    says_lively, says_easy = speed_words(text)
    if lively is None:
        lively = says_lively
    easy = not lively and says_easy
    bpm = quick if lively else plain * 0.85 if easy else plain
    return int(round(bpm * beat))


def dance_of_meter(meter: str, tempo: float | None = None) -> str:
    """The dance a dance tune in ``meter`` is, where the request did not say (a planner's call
    with style and meter only): 6/8 a jig, 9/8 a slip jig, 12/8 a slide, 2/4 a polka, 4/4 a reel,
    or a hornpipe when its tempo is nearer a hornpipe's than a reel's."""
    if meter == "4/4" and tempo is not None:
        reel, pipe = dance_tempo("reel"), dance_tempo("hornpipe")
        return "hornpipe" if abs(tempo - pipe) < abs(tempo - reel) else "reel"
    return {"6/8": "jig", "9/8": "slip jig", "12/8": "slide", "2/4": "polka"}.get(meter, "reel")


def beat_words(meter: str, tempo: float, dance: str | None = None) -> str:
    """How a musician counts a tempo in quarter notes a minute: 'dotted crotchet = 120' in a
    compound meter, 'minim = 108' in cut time or a dance counted in minims (a reel, a hornpipe:
    ``DANCE_TEMPI``); '' where the crotchet is the beat."""
    if dance in DANCE_TEMPI and DANCE_TEMPI[dance][1] == 2.0:
        return f"minim = {tempo / 2:.0f}"
    if meter in ("6/8", "9/8", "12/8", "3/8"):
        return f"dotted crotchet = {tempo / 1.5:.0f}"
    if meter in ("2/2",):
        return f"minim = {tempo / 2:.0f}"
    return ""


def bars(text: str) -> int | None:
    m = re.search(_NUM + r"[\s-]*(?:bars?|measures?)\b", text, re.IGNORECASE)
    return number(m.group(1)) if m else None


def meter(text: str) -> str | None:
    m = re.search(r"\b(\d{1,2})\s*/\s*(\d{1,2})\b(?!\s*(?:bpm|px))", text)
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    low = text.lower()
    for word in sorted(METER_WORDS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(word)}\b", low):
            return METER_WORDS[word]
    return None


def instrument(text: str, names: list[str]) -> str | None:
    low = text.lower()
    for name in sorted(names, key=len, reverse=True):
        if re.search(rf"\b{re.escape(name)}s?\b", low):
            return name
    return None


def music_style(text: str) -> str | None:
    low = text.lower()
    for word in sorted(STYLE_WORDS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(word)}\b", low):
            return STYLE_WORDS[word]
    return None


def poem_form(text: str) -> tuple[str | None, int | None]:
    """(form, lines): '12-line poem' -> ('free', 12); 'a sonnet' -> ('sonnet', None); 'a sestina'
    -> ('villanelle', None), the closest form the poet writes (``form_substitute`` says so);
    'fourteen lines in iambic pentameter' -> ('sonnet', None)."""
    low = text.lower()
    m = re.search(_NUM + r"[\s-]*lines?\b", low)
    lines = number(m.group(1)) if m else None
    for word in sorted(FORMS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(word)}s?\b", low):
            return FORMS[word], lines
    if sub := form_substitute(text):
        return sub[1], None
    for pattern, form in FORM_DESCRIPTIONS:
        if re.search(pattern, low):
            return form, None
    return ("free" if lines else None), lines


def form_substitute(text: str) -> tuple[str, str, str] | None:
    """(the form asked for, the closest the poet writes, why) when no supported form is named."""
    low = text.lower()
    if any(re.search(rf"\b{re.escape(w)}s?\b", low) for w in FORMS):
        return None
    for word in sorted(NEAREST_FORMS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(word)}s?\b", low):
            return (word, *NEAREST_FORMS[word])
    return None


def language(text: str) -> str | None:
    m = re.search(r"\bin\s+(" + "|".join(LANGUAGES) + r")\b", text, re.IGNORECASE)
    return m.group(1).lower() if m and m.group(1).lower() != "english" else None


def seed(text: str) -> int | None:
    m = re.search(r"\bseed\s*(?:=|:|of)?\s*(\d+)", text, re.IGNORECASE)
    return int(m.group(1)) if m else None


def size(text: str) -> tuple[int, int] | None:
    m = re.search(r"\b(\d{2,6})\s*[x×]\s*(\d{2,6})\b", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def steps(text: str) -> int | None:
    m = re.search(r"\b(\d+)\s*(?:steps|iterations)\b", text, re.IGNORECASE)
    return int(m.group(1)) if m else None


def paths(text: str) -> list[str]:
    out = []
    for m in _PATH_RE.finditer(text):
        p = next(g for g in m.groups() if g)
        if re.search(r"\.(png|jpe?g|webp|gif|bmp|tiff?|mid|midi)$", p, re.IGNORECASE):
            out.append(p)
    return out


def mentions_last_image(text: str) -> bool:
    return bool(_LAST_RE.search(text))


_SUBJECT = r"\b(?:about|on the (?:theme|subject|topic) of|concerning|describing|celebrating)\s+(.+)|:\s*(.+)"


def subject(text: str) -> str | None:
    """What a request says it is about, when it says so ('... about the ocean', 'picture: a kite'):
    the subject a message's other requests share. None when the request names none."""
    m = re.search(_SUBJECT, text, re.IGNORECASE)
    return _clean_topic(m.group(1) or m.group(2)) if m else None


def topic(text: str) -> str:
    """What a poem or picture is about: the words after about/of/on, else the cleaned request."""
    if (said := subject(text)) is not None:
        return said or text.strip(" .,!?")
    m = re.search(r"\b(?:ode|elegy|tribute|toast|lament)\s+(?:to|for)\s+(.+)|\b(?:on|of)\s+(.+)", text, re.IGNORECASE)
    return _clean_topic(m.group(1) or m.group(2) if m else text) or text.strip(" .,!?")


def _clean_topic(t: str) -> str:
    t = re.sub(r"\b(?:please|thanks?|thank you)\b", "", t, flags=re.IGNORECASE)
    t = re.sub(r"[,;]?\s*\b(?:with\s+|using\s+)?(?:the\s+)?seed\s*(?:=|:|of)?\s*\d+", "", t, flags=re.IGNORECASE)
    t = re.sub(r"\s*\b(?:in|rhymed|rhyming)?\s*\b(?:ABAB|AABB|ABBA|ABCB)\b", "", t)
    t = re.sub(r"[,;]?\s*\b(?:in\s+)?" + _NUM + r"[\s-]*lines?\b", "", t, flags=re.IGNORECASE)  # the length is an argument
    return t.strip(" .,!?;:\"'—–-")


def last_args(history: dict, name: str) -> dict | None:
    """The arguments of the conversation's last call to ``name`` (history as the router keeps it)."""
    return next((a for n, a in reversed(history.get("calls", [])) if n == name), None)
