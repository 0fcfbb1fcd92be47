"""The poet's lexicon: CMUdict's words plus the corpus words seen at least three times that CMUdict
lacks (``lexicon_extra.json``, written by models/poetry/training/sense_train.py: "thee", "o'er",
old spellings). The sampler refuses any word outside it, prefix by prefix, so invented words
("brutters", "gloofs") cannot be written; the bench counts words outside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

LEXICON_FILE = "lexicon_extra.json"


@dataclass
class Lexicon:
    extra: frozenset
    _prefixes: set | None = field(default=None, repr=False)

    def known(self, word: str) -> bool:
        from models.poetry import prosody

        w = word.lower().replace("\u2019", "'")
        return w in self.extra or bool(prosody.phones(w))

    def prefix_ok(self, part: str) -> bool:
        """Can ``part`` (lower case, letters and apostrophes) still grow into a known word?"""
        if self._prefixes is None:
            self._prefixes = self._build_prefixes()
        return part in self._prefixes

    def _build_prefixes(self) -> set:
        from models.poetry import prosody

        words = set(prosody._cmu()) | set(self.extra)
        out: set[str] = set()
        for w in words:
            if not all(c.isalpha() or c == "'" for c in w):
                continue
            for k in range(1, len(w) + 1):
                out.add(w[:k])
            out.update((w + "'", w + "'s"))  # the possessive ("sea's"), as prosody.phones reads it
        return out


def load_lexicon(home: Path | None) -> Lexicon:
    """CMUdict + the extra corpus words beside the embedded poet (CMUdict alone when absent)."""
    path = Path(home) / LEXICON_FILE if home else None
    extra = frozenset(json.loads(path.read_text())["words"]) if path and path.exists() else frozenset()
    return Lexicon(extra)
