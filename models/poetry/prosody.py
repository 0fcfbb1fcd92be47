"""Syllables, stress and rhyme from the CMU Pronouncing Dictionary (PyPI ``pronouncing``), with a
spelling-based estimate for words the dictionary lacks. Used while generating (to keep form)
and by the critics and the scansion view (to measure it), so both count the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+)*")
_VOWELS = re.compile(r"[aeiouy]+")


def line_words(line: str) -> list[str]:
    """Words of a line, lower-cased; hyphenated and dashed compounds count as separate words."""
    return [w.lower().replace("\u2019", "'") for w in _WORD.findall(line)]


@lru_cache(maxsize=1)
def _cmu() -> dict[str, list[str]]:
    import pronouncing

    pronouncing.init_cmu()
    return pronouncing.lookup


def phones(word: str) -> list[str]:
    w = word.lower()
    got = _cmu().get(w)
    if got is None and w.endswith("'s"):
        got = [p + " Z" for p in _cmu().get(w[:-2], [])] or None
    if got is None and w.endswith("'d"):
        got = [p + " D" for p in _cmu().get(w[:-2] + "ed", _cmu().get(w[:-2] + "e", []))] or None
    return got or []


def estimate_syllables(word: str) -> int:
    """Vowel groups, minus a silent final e, at least one (for words CMUdict does not know)."""
    w = word.lower().replace("'", "")
    n = len(_VOWELS.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and n > 1:
        n -= 1
    if w.endswith("ed") and len(w) > 3 and w[-3] not in "td" and n > 1:
        n -= 1
    return max(1, n)


@lru_cache(maxsize=200_000)
def syllables(word: str) -> int:
    p = phones(word)
    if p:
        return sum(t[-1].isdigit() for t in p[0].split())
    return estimate_syllables(word)


@lru_cache(maxsize=200_000)
def syllable_options(word: str) -> tuple[int, ...]:
    """Every count CMUdict allows (``fire`` is 1 or 2; ``every`` 2 or 3)."""
    p = phones(word)
    if not p:
        return (estimate_syllables(word),)
    return tuple(sorted({sum(t[-1].isdigit() for t in q.split()) for q in p}))


@lru_cache(maxsize=200_000)
def stress(word: str) -> str:
    """Stress digits per syllable ('1' primary, '2' secondary, '0' none); '' when unknown."""
    p = phones(word)
    if not p:
        return ""
    return "".join(t[-1] for t in p[0].split() if t[-1].isdigit())


@lru_cache(maxsize=200_000)
def rhyme_parts(word: str) -> frozenset[str]:
    """The sounds from the last stressed vowel on, for each pronunciation; a spelling-based stand-in
    (last vowel group and what follows) for unknown words."""
    import pronouncing

    p = phones(word)
    if p:
        return frozenset(pronouncing.rhyming_part(q) for q in p)
    m = list(re.finditer(r"[aeiouy]+[^aeiouy]*$", word.lower()))
    return frozenset({"~" + m[-1].group(0)}) if m else frozenset({"~" + word.lower()})


def rhymes(a: str, b: str) -> bool:
    """Perfect rhyme: same sounds from the last stressed vowel on, and not the same word."""
    a, b = a.lower(), b.lower()
    return a != b and bool(rhyme_parts(a) & rhyme_parts(b))


def line_syllables(line: str) -> int:
    return sum(syllables(w) for w in line_words(line))


def line_syllable_range(line: str) -> tuple[int, int]:
    """The fewest and most syllables a line can be read with (elisions and full forms)."""
    opts = [syllable_options(w) for w in line_words(line)]
    return sum(min(o) for o in opts), sum(max(o) for o in opts)


def last_word(line: str) -> str:
    ws = line_words(line)
    return ws[-1] if ws else ""


def line_stress(line: str) -> str:
    """Stress pattern of a line; a one-syllable word is written '?' (it can take either)."""
    out = []
    for w in line_words(line):
        s = stress(w)
        if len(s) == 1:
            out.append("?")
        elif s:
            out.append("".join("1" if c in "12" else "0" for c in s))
        else:
            out.append("?" * syllables(w))
    return "".join(out)


def meter_fit(line: str, foot: str) -> float:
    """Fraction of polysyllabic-word syllables whose stress matches the repeating ``foot``
    (``"01"`` iambic, ``"001"`` anapestic); monosyllables are free. 1.0 when nothing to judge."""
    pat = line_stress(line)
    judged = [(c, foot[i % len(foot)]) for i, c in enumerate(pat) if c != "?"]
    if not judged:
        return 1.0
    return sum(c == f for c, f in judged) / len(judged)


def rhyme_letters(lines: list[str]) -> list[str]:
    """A letter per line: lines whose last words rhyme (or are the same word) share a letter."""
    letters: list[str] = []
    ends: list[tuple[str, str]] = []
    for ln in lines:
        w = last_word(ln)
        for other, letter in ends:
            if w and (w == other or rhymes(w, other)):
                letters.append(letter)
                break
        else:
            letter = chr(ord("A") + len({x for _, x in ends})) if len({x for _, x in ends}) < 26 else "?"
            ends.append((w, letter))
            letters.append(letter)
    return letters


@dataclass(frozen=True)
class ScanLine:
    text: str
    syllables: int
    stress: str
    rhyme: str


def scan(lines: list[str]) -> list[ScanLine]:
    """The scansion view: syllable count, stress pattern and rhyme letter of every line."""
    letters = rhyme_letters(lines)
    return [ScanLine(ln, line_syllables(ln), line_stress(ln), r) for ln, r in zip(lines, letters)]
