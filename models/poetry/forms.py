"""Poetic forms as line plans: syllables per line, rhyme letter, meter foot, refrains.

A plan is what the constrained sampler enforces line by line and what the form critic
checks afterwards, so the two cannot disagree about what a sonnet is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.common.errors import UserFixableError

MAX_LINES = 60


@dataclass(frozen=True)
class LineSpec:
    syllables: tuple[int, int]  # allowed range (inclusive); exact forms use (n, n)
    rhyme: str | None = None  # lines sharing a letter must rhyme
    refrain: str | None = None  # lines sharing a refrain id repeat the first one verbatim


@dataclass(frozen=True)
class FormPlan:
    form: str
    lines: tuple[LineSpec, ...]
    foot: str | None = None  # "01" iambic, "001" anapestic: a tendency, used to rank candidates
    stanzas: tuple[int, ...] = ()  # line counts per stanza (blank lines between)

    @property
    def scheme(self) -> str:
        return "".join(s.rhyme or "-" for s in self.lines)


FORMS = ("free", "haiku", "tanka", "cinquain", "couplet", "quatrain", "limerick", "sonnet", "villanelle")
FIXED_LINES = {"haiku": 3, "tanka": 5, "cinquain": 5, "limerick": 5, "sonnet": 14, "villanelle": 19}


class FormError(UserFixableError):
    pass


def _exact(*counts: int) -> tuple[LineSpec, ...]:
    return tuple(LineSpec((n, n)) for n in counts)


def _rhymed(scheme: str, syl: tuple[int, int], offset: int = 0) -> tuple[LineSpec, ...]:
    return tuple(LineSpec(syl, chr(ord(c) + offset) if c != "-" else None) for c in scheme)


def _normalised(plan: FormPlan) -> FormPlan:
    """Letters in order of first use (A, B, C…); a letter on one line only rhymes with nothing."""
    from collections import Counter
    from dataclasses import replace

    counts = Counter(s.rhyme for s in plan.lines if s.rhyme)
    names: dict[str, str] = {}
    out = []
    for s in plan.lines:
        if s.rhyme and counts[s.rhyme] > 1:
            names.setdefault(s.rhyme, chr(ord("A") + len(names)))
            out.append(replace(s, rhyme=names[s.rhyme]))
        else:
            out.append(replace(s, rhyme=None))
    return replace(plan, lines=tuple(out))


def plan_form(form: str, lines: int | None = None, rng: np.random.Generator | None = None,
              scheme: str | None = None, meter: tuple[int, ...] | None = None) -> FormPlan:
    return _normalised(_plan_form(form, lines, rng, scheme, meter))


def _plan_form(form: str, lines: int | None, rng: np.random.Generator | None,
               scheme: str | None, meter: tuple[int, ...] | None) -> FormPlan:
    """The line plan of ``form``; ``lines`` sets free verse length and stanza counts of couplets
    and quatrains; fixed forms accept only their own length. Errors name the allowed values."""
    rng = rng or np.random.default_rng(0)
    form = (form or "free").lower().strip()
    if form not in FORMS:
        raise FormError(f"unknown form {form!r}; use one of {', '.join(FORMS)}")
    if lines is not None and not 1 <= lines <= MAX_LINES:
        raise FormError(f"lines must be between 1 and {MAX_LINES} (got {lines})")
    if form in FIXED_LINES and lines is not None and lines != FIXED_LINES[form]:
        raise FormError(f"a {form} has {FIXED_LINES[form]} lines; omit lines, or use form free for {lines} lines")
    if form == "haiku":
        return FormPlan(form, _exact(5, 7, 5))
    if form == "tanka":
        return FormPlan(form, _exact(5, 7, 5, 7, 7))
    if form == "cinquain":
        return FormPlan(form, _exact(2, 4, 6, 8, 2))
    if form == "limerick":
        long, short = (8, 9), (5, 6)
        return FormPlan(form, (LineSpec(long, "A"), LineSpec(long, "A"), LineSpec(short, "B"),
                               LineSpec(short, "B"), LineSpec(long, "A")), foot="001")
    if form == "sonnet":
        specs = _rhymed("ABAB", (10, 10)) + _rhymed("ABAB", (10, 10), 2) + _rhymed("ABAB", (10, 10), 4) + _rhymed("AA", (10, 10), 6)
        return FormPlan(form, specs, foot="01", stanzas=(4, 4, 4, 2))
    if form == "villanelle":
        syl = (10, 10)
        a1, a2 = LineSpec(syl, "A", "A1"), LineSpec(syl, "A", "A2")
        a, b = LineSpec(syl, "A"), LineSpec(syl, "B")
        specs = (a1, b, a2) + (a, b, a1) + (a, b, a2) + (a, b, a1) + (a, b, a2) + (a, b, a1, a2)
        return FormPlan(form, specs, foot="01", stanzas=(3, 3, 3, 3, 3, 4))
    if form == "couplet":
        n = lines or 2
        if n % 2:
            raise FormError(f"couplets come in pairs: lines must be even (got {n})")
        specs = sum((_rhymed("AA", (8, 10), 2 * i) for i in range(n // 2)), ())
        return FormPlan(form, specs, foot="01", stanzas=(2,) * (n // 2))
    if form == "quatrain":
        n = lines or 4
        if n % 4:
            raise FormError(f"quatrains are four lines each: lines must be a multiple of 4 (got {n})")
        pat = (scheme or str(rng.choice(["ABAB", "AABB"]))).upper()
        if pat not in ("ABAB", "AABB", "ABCB", "ABBA"):
            raise FormError(f"quatrain scheme {pat!r}; use ABAB, AABB, ABBA or ABCB")
        pat = pat.replace("C", "-")  # ABCB: the odd lines are free
        k = len(set(pat) - {"-"})
        specs = sum((_rhymed(pat, (8, 8), k * i) for i in range(n // 4)), ())
        if meter:  # e.g. common meter 8-6-8-6
            specs = tuple(LineSpec((meter[i % len(meter)],) * 2, sp.rhyme) for i, sp in enumerate(specs))
        return FormPlan(form, specs, foot="01", stanzas=(4,) * (n // 4))
    n = lines or 8
    syl = (min(meter), max(meter)) if meter else (4, 12)
    return FormPlan("free", tuple(LineSpec(syl) for _ in range(n)))


def rhyme_groups(plan: FormPlan) -> dict[str, int]:
    """How many distinct end words each rhyme letter needs (refrains repeat, so they count once)."""
    need: dict[str, set] = {}
    for i, s in enumerate(plan.lines):
        if s.rhyme:
            need.setdefault(s.rhyme, set()).add(s.refrain or f"#{i}")
    return {k: len(v) for k, v in need.items()}


@dataclass(frozen=True)
class StyleProfile:
    """"More like <poet>": the form, scheme and line lengths that poet is known for, as conditioning."""

    name: str
    form: str
    scheme: str | None = None
    meter: tuple[int, ...] | None = None
    meter_weight: float = 0.6


STYLE_PROFILES = {
    "dickinson": StyleProfile("Emily Dickinson", "quatrain", "ABCB", (8, 6, 8, 6), 0.9),  # common meter
    "shakespeare": StyleProfile("Shakespeare", "sonnet", meter_weight=0.9),
    "whitman": StyleProfile("Walt Whitman", "free", meter=(10, 16), meter_weight=0.0),
    "frost": StyleProfile("Robert Frost", "quatrain", "ABAB", (10,), 0.9),
    "keats": StyleProfile("John Keats", "quatrain", "ABAB", (10,), 0.9),
    "wordsworth": StyleProfile("William Wordsworth", "quatrain", "ABAB", (8,), 0.8),
    "blake": StyleProfile("William Blake", "quatrain", "AABB", (7,), 0.6),
    "poe": StyleProfile("Edgar Allan Poe", "quatrain", "AABB", (8,), 0.6),
    "lear": StyleProfile("Edward Lear", "limerick"),
    "basho": StyleProfile("Basho", "haiku", meter_weight=0.0),
    "issa": StyleProfile("Issa", "haiku", meter_weight=0.0),
}


def style_profile(name: str) -> StyleProfile:
    key = name.strip().lower().split()[-1] if name.strip() else ""
    key = key.replace("bashō", "basho").replace("\u2019", "'")
    key = key[:-2] if key.endswith("'s") else key
    if key not in STYLE_PROFILES:
        raise FormError(f"no style profile for {name!r}; known poets: {', '.join(sorted(STYLE_PROFILES))}")
    return STYLE_PROFILES[key]
