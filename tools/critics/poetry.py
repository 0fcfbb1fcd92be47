"""Poem critics: form (syllables, rhymes, line count via CMUdict), sense (the trained sense critic,
models/poetry/sense.py, per line and per poem), fluency (the model's own loss), real words;
novelty against the corpus n-gram indexes and the session; adherence to the topic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.artifacts import Scores
from tools.critics import band


@dataclass(frozen=True)
class PoemContext:
    """What the poem critic measures against: the form plan, the corpus n-gram indexes (4 and 5
    words), the topic's similarity to random corpus passages (the adherence baseline), and the
    session's earlier poems as unit vectors."""

    plan: object
    indexes: dict
    baseline_sims: np.ndarray
    earlier: tuple = ()
    val_nll: float = 4.0  # the model's validation NLL: the centre of the fluency band
    sense_floor: float = 0.5  # real verse's lower-quartile poem sense
    # real verse's poem sense quartiles (q1, median, q3): sense counts in quality as the share of real
    # passages it beats (so full marks only above real verse's best, the median half); None: full
    # marks from ``sense_floor`` up
    sense_real: tuple | None = None


def sense_percentile(score: float, real: tuple) -> float:
    """Share of real verse's passages a poem's sense beats, read off their quartiles (0 and 1 at the ends)."""
    q1, med, q3 = real
    return float(np.interp(score, [0.0, q1, med, q3, 1.0], [0.0, 0.25, 0.5, 0.75, 1.0]))


def form_match(lines: list[str], plan) -> dict:
    """Syllables in range per line, rhyme pairs that rhyme, line count: each 0..1."""
    from models.poetry import prosody

    syl_ok = [spec.syllables[0] <= prosody.line_syllables(ln) <= spec.syllables[1]
              for ln, spec in zip(lines, plan.lines)]
    pairs = rhyme_pairs(lines, plan)
    rhyme_ok = [a == b or prosody.rhymes(prosody.last_word(a), prosody.last_word(b)) for a, b in pairs]
    return {"syllables_ok": float(np.mean(syl_ok)) if syl_ok else 0.0,
            "rhymes_ok": float(np.mean(rhyme_ok)) if rhyme_ok else 1.0,
            "line_count_ok": 1.0 if len(lines) == len(plan.lines) else 0.0,
            "rhyme_pairs": len(pairs)}


def rhyme_pairs(lines: list[str], plan) -> list[tuple[str, str]]:
    """(first line of the group, later line) for every later line of every rhyme group."""
    first: dict[str, str] = {}
    out = []
    for ln, spec in zip(lines, plan.lines):
        if not spec.rhyme:
            continue
        if spec.rhyme in first:
            out.append((first[spec.rhyme], ln))
        else:
            first[spec.rhyme] = ln
    return out


def copied_lines(lines: list[str], index) -> int:
    """Lines of at least ``index.n`` words whose every word n-gram occurs in the corpus."""
    from models.poetry.corpus import word_ids

    n = 0
    for ln in lines:
        ids = word_ids(ln)
        if len(ids) >= index.n and index.copied(ids).all():
            n += 1
    return n


def finished_sentence(lines: list[str]) -> bool:
    """Does the poem end on terminal punctuation (. ! ? or an ellipsis, perhaps inside quotes)?"""
    last = next((ln for ln in reversed(lines) if ln.strip()), "")
    return last.rstrip().rstrip("\"'\u201d\u2019)").endswith((".", "!", "?", "\u2026"))


def poem_scores(lines: list[str], nll: float, topic_sim: float, poem_vec: np.ndarray, ctx: PoemContext,
                sense=None) -> Scores:
    """quality: form + sense + fluency (+ a finished last sentence); novelty: corpus copy rates, longest copied span, distinct-2, distance
    to the session's earlier poems; adherence: topic similarity against random corpus passages + form."""
    from models.poetry import prosody
    from models.poetry.corpus import word_ids

    form = form_match(lines, ctx.plan)
    form_score = (form["syllables_ok"] + form["rhymes_ok"] + form["line_count_ok"]) / 3
    fluency = band(nll, 0.0, ctx.val_nll + 0.8, 2.0)
    words = [w for ln in lines for w in prosody.line_words(ln)]
    known = sum(bool(prosody.phones(w)) for w in words) / max(1, len(words))  # real English words
    finished = finished_sentence(lines)
    if sense is None:  # no sense critic installed (a toy poet): form and fluency only
        quality = 0.5 * form_score + 0.3 * fluency + 0.2 * band(known, 0.95, 1.0, 0.3)
        sense_metrics = {}
    else:  # an incoherent poem cannot score 1.00: sense weighs as much as form
        sense_q = (sense_percentile(sense.score, ctx.sense_real) if ctx.sense_real
                   else band(sense.score, ctx.sense_floor, 1.0, ctx.sense_floor))
        quality = (0.35 * form_score + 0.35 * sense_q + 0.1 * fluency + 0.1 * band(known, 0.98, 1.0, 0.2)
                   + 0.1 * finished)
        sense_metrics = {"sense": sense.score, "sense_quality": sense_q, "sense_floor": ctx.sense_floor,
                         "sense_lines": [round(v, 3) for v in sense.lines],
                         "weakest_line": int(np.argmin(sense.lines)) + 1 if sense.lines else 0}

    ids = word_ids(" ".join(lines))
    i4, i5 = ctx.indexes.get(4), ctx.indexes.get(5)
    copy4 = i4.copy_rate(ids) if i4 is not None else 0.0
    copy5 = i5.copy_rate(ids) if i5 is not None else 0.0
    span = i5.longest_copied_span(ids) if i5 is not None else 0
    whole = copied_lines(lines, i5) if i5 is not None else 0
    bigrams = list(zip(ids[:-1], ids[1:]))
    distinct2 = len(set(bigrams)) / max(1, len(bigrams))
    session = 1.0
    if ctx.earlier:
        session = float(min(1.0, (1.0 - max(float(poem_vec @ e) for e in ctx.earlier)) * 2))
    novelty = (0.35 * (1 - copy5) + 0.2 * (1 - copy4) + 0.15 * (1 - min(1.0, span / 12))
               + 0.15 * distinct2 + 0.15 * session)
    if whole or copy5 >= 0.02:  # a line copied whole, or 2% of 5-grams: imitation, whatever else it does
        novelty = min(novelty, 0.85)

    base_mean = float(ctx.baseline_sims.mean()) if len(ctx.baseline_sims) else 0.0
    base_hi = float(np.percentile(ctx.baseline_sims, 95)) if len(ctx.baseline_sims) else 0.3
    topic = float(np.clip((topic_sim - base_mean) / max(base_hi - base_mean, 1e-6), 0.0, 1.0))
    adherence = 0.5 * topic + 0.5 * form_score
    return Scores(quality, novelty, adherence, {
        **form, **sense_metrics, "finished_sentence": finished, "nll_per_token": nll, "known_words": known, "copy_rate_4": copy4, "copy_rate_5": copy5, "longest_copied_span": span,
        "lines_copied_whole": whole, "distinct_2": distinct2, "session_distance": session,
        "topic_similarity": topic_sim, "baseline_similarity": base_mean, "beats_baseline": topic_sim > base_mean,
    })

