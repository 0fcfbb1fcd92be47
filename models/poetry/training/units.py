"""The rewriting poet's source store: whole sentences of the poet's own training passages.

    python -m models.poetry.training.units --out models/weights/poet

The passages are cut exactly as `arsnova train poetry --prepare` cuts them (same seed, same
permutation, the same 600,000 training lines), so what the rewriter imitates is exactly what the
n-gram indexes measure copying against. A *unit* is one to four consecutive lines that make up
whole sentences: the line before it ended a sentence (. ! ?), its last line ends one, it starts
with a capital, no line holds quotation marks (a quote cut in half cannot be rewritten whole),
every line has three words or more, no all-capital word (attributions), no speaker's name of a
play ("Hyp. What news?") and no ". . ." run, every word is in the
poet's lexicon, and a unit whose words repeat an earlier one's is dropped. Written as ``retrieval_units.npz``:
the lines joined by newlines, per-line syllable counts, the passage of each unit, and a word ->
unit inverted index over content words.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

_TERMINAL = re.compile(r"[.!?]$")
_CLEAN = re.compile(r"^[A-Za-z][A-Za-z ,.;:!?'\-]*$")
_SPEAKER = re.compile(r"^[A-Z][a-z]{0,5}\. ")
MAX_UNIT_LINES = 4


def training_passages(seed: int = 0, train_lines: int = 600_000, val_passages: int = 2000) -> list[list[str]]:
    """The poet's training passages, cut and ordered as train.prepare does."""
    from models.poetry.corpus import verse_passages
    from models.poetry.training.data import load_gutenberg_lines

    df = load_gutenberg_lines()
    passages = verse_passages(df["text"].tolist(), df["syllables"].tolist(), seed=seed)
    order = np.random.default_rng(seed).permutation(len(passages))
    out, n = [], 0
    for i in order[val_passages:]:
        if n >= train_lines:
            break
        out.append(passages[i])
        n += len(passages[i])
    return out


def sentence_units(passage: list[str], known) -> list[list[str]]:
    """Runs of lines that begin after a sentence end and end on one (1..MAX_UNIT_LINES lines)."""
    out = []
    start = None
    for i, ln in enumerate(passage):
        if start is None:
            if i > 0 and _TERMINAL.search(passage[i - 1].rstrip()) and ln[:1].isupper():
                start = i
            else:
                continue
        ws = re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)*", ln)
        if (not _CLEAN.match(ln) or len(ws) < 3 or not all(known(w) for w in ws)
                or any(len(w) > 2 and w.isupper() for w in ws)  # attributions ("Statius.--WARBURTON.")
                or _SPEAKER.match(ln) or ". ." in ln):  # a play's speaker ("Hyp. What news?"), ". . ." runs
            start = None
            continue
        if _TERMINAL.search(ln.rstrip()):
            if i - start + 1 <= MAX_UNIT_LINES:
                out.append(passage[start : i + 1])
            start = None
    return out


def build(out_dir: Path) -> dict:
    from models.poetry.corpus import words
    from models.poetry.lexicon import load_lexicon

    lex = load_lexicon(out_dir)
    units: list[list[str]] = []
    passage: list[int] = []
    seen: set[str] = set()
    for k, p in enumerate(training_passages()):
        for u in sentence_units(p, lex.known):
            key = " ".join(words(" ".join(u)))
            if key not in seen:  # the corpus repeats refrains and whole poems
                seen.add(key)
                units.append(u)
                passage.append(k)
    return write_store(units, out_dir, passage)


def write_store(units: list[list[str]], out_dir: Path, passage: list[int] | None = None) -> dict:
    """``retrieval_units.npz`` in ``out_dir`` from units (lists of lines) and the passage each
    came from (a unit and the next one of its passage are consecutive sentences of one poem)."""
    passage = list(range(len(units))) if passage is None else passage
    from models.poetry import prosody
    from models.poetry.corpus import FUNCTION_WORDS, words

    texts = ["\n".join(u) for u in units]
    syl = [",".join(str(prosody.line_syllables(ln)) for ln in u) for u in units]
    index: dict[str, list[int]] = {}
    for k, t in enumerate(texts):
        for w in set(words(t)):
            if w not in FUNCTION_WORDS and len(w) > 2:
                index.setdefault(w, []).append(k)
    keys = sorted(index)
    offsets = np.cumsum([0] + [len(index[w]) for w in keys]).astype(np.int64)
    ids = np.array([k for w in keys for k in index[w]], dtype=np.int32)
    np.savez_compressed(out_dir / "retrieval_units.npz", texts=np.array(texts), syllables=np.array(syl),
                        keys=np.array(keys), offsets=offsets, ids=ids,
                        passage=np.array(passage, dtype=np.int32))
    lens = np.bincount([len(u) for u in units], minlength=MAX_UNIT_LINES + 1)
    return {"units": len(units), "by_lines": {str(i): int(c) for i, c in enumerate(lens) if c}, "words": len(keys)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("models/weights/poet"))
    print(json.dumps(build(ap.parse_args().out)))
