"""A poem as a Markdown page: YAML front matter (title, form, topic, seed, model, scores), the poem,
and a scansion table (syllables, rhyme letter and stress per line) — the view the chat shows too."""

from __future__ import annotations

import yaml

from models.poetry import prosody

SCANSION_HEADING = "## Scansion"


def scansion_rows(lines: list[str]) -> list[tuple[int, str, str, str]]:
    """(syllables, rhyme letter, stress pattern, line) per line; unrhymed letters are shown as '-'."""
    rows = prosody.scan(lines)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.rhyme] = counts.get(r.rhyme, 0) + 1
    return [(r.syllables, r.rhyme if counts[r.rhyme] > 1 else "-", r.stress, r.text) for r in rows]


def scansion_text(lines: list[str]) -> str:
    """Plain-text gutter: '10 A │ line' per line."""
    return "\n".join(f"{n:>2} {letter} │ {text}" for n, letter, _, text in scansion_rows(lines))


def poem_markdown(poem, meta: dict, scores) -> str:
    front = {**meta, "scores": scores.to_dict() if scores is not None else {}}
    head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000).strip()
    rows = scansion_rows(poem.lines)
    sense = list(scores.metrics.get("sense_lines", ())) if scores is not None else []
    if len(sense) == len(rows):  # the sense critic's P(real verse) per line, beside the form
        table = ["| # | syllables | rhyme | stress | sense | line |", "|---:|---:|:---:|:---|---:|:---|"]
        table += [f"| {i + 1} | {n} | {letter} | `{stress or '?'}` | {sense[i]:.2f} | {_cell(text)} |"
                  for i, (n, letter, stress, text) in enumerate(rows)]
    else:
        table = ["| # | syllables | rhyme | stress | line |", "|---:|---:|:---:|:---|:---|"]
        table += [f"| {i + 1} | {n} | {letter} | `{stress or '?'}` | {_cell(text)} |"
                  for i, (n, letter, stress, text) in enumerate(rows)]
    body = poem.text.replace("\n\n", "\n\n").splitlines()
    return "\n".join(["---", head, "---", "", f"# {poem.title}", "", *[ln + ("  " if ln else "") for ln in body],
                      "", SCANSION_HEADING, "", *table, ""])


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def read_poem_lines(markdown: str) -> list[str]:
    """The verse lines of a page written by ``poem_markdown``."""
    return [ln for stanza in read_poem_stanzas(markdown) for ln in stanza]


def read_poem_stanzas(markdown: str) -> list[list[str]]:
    """The verse of a page written by ``poem_markdown``, stanza by stanza (a blank line between two)."""
    stanzas, inside = [[]], False
    for ln in markdown.splitlines():
        if ln.startswith("# ") and not inside:
            inside = True
            continue
        if ln.startswith(SCANSION_HEADING):
            break
        if inside and ln.strip():
            stanzas[-1].append(ln.rstrip())
        elif inside and stanzas[-1]:
            stanzas.append([])
    return [st for st in stanzas if st]


def read_poem_title(markdown: str) -> str:
    return next((ln[2:].strip() for ln in markdown.splitlines() if ln.startswith("# ")), "")
