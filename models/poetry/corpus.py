"""The poet's training corpus: verse passages from the Gutenberg Poetry corpus, keyword prefixes,
a byte-level BPE tokenizer trained here, token arrays, and the word n-gram index of what was learned.

A passage is a run of consecutive verse lines (prose notes, headings and numbered lines are
dropped), cut into 4-14 lines. Each training document is

    <|kw|>storm night harbour<|poem|>line one\\nline two\\n...<|endoftext|>

with up to three content words of the passage as keywords (in random order; none for 15% of
passages), so at generation time the poem can be steered by topic words the way Hafez is.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

EOS, KW, POEM = "<|endoftext|>", "<|kw|>", "<|poem|>"
SPECIAL_TOKENS = [EOS, KW, POEM]
WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)*")
_BAD_LINE = re.compile(r"[0-9\[\]{}<>_|#@*=\\/]")
_HEADING = re.compile(r"^(CHAPTER|Chapter|BOOK|Book|CANTO|Canto|PART|Part|SCENE|Scene|ACT|Act|NOTE|Note)\b")


def words(text: str) -> list[str]:
    return WORD_RE.findall(text.lower().replace("\u2019", "'"))


def word_ids(text: str) -> np.ndarray:
    """Words as stable 32-bit ids (crc32), the alphabet of the word n-gram index."""
    return ids_of(words(text))


def ids_of(ws: list[str]) -> np.ndarray:
    """Already split (lower-case) words as the index's ids."""
    return np.array([zlib.crc32(w.encode()) for w in ws], dtype=np.uint64)


def is_verse_line(text: str, syllables: int) -> bool:
    return (8 <= len(text) <= 80 and 3 <= syllables <= 16 and not _BAD_LINE.search(text)
            and any(c.islower() for c in text) and not _HEADING.match(text))


def verse_passages(texts: Iterable[str], syllables: Iterable[int], seed: int = 0,
                   min_lines: int = 4, max_lines: int = 14) -> list[list[str]]:
    """Runs of consecutive verse lines, cut into passages of min_lines..max_lines lines."""
    rng = np.random.default_rng(seed)
    out: list[list[str]] = []
    run: list[str] = []

    def flush():
        i = 0
        while len(run) - i >= min_lines:
            k = int(rng.integers(min_lines, max_lines + 1))
            out.append(run[i : i + k])
            i += k
        run.clear()

    for t, s in zip(texts, syllables):
        t = " ".join(str(t).split())
        if is_verse_line(t, int(s)):
            run.append(t)
        else:
            flush()
    flush()
    return out


# closed-class words (and their archaic forms): never keywords, never planned rhyme words
FUNCTION_WORDS = frozenset("""
a an the and or but nor for yet so if then than as because though although while whilst till until unless lest
of to in on at by with from into onto upon over under above below beneath between among amongst through
throughout across along around about against before after behind beyond within without toward towards near
i me my mine myself we us our ours ourselves you your yours yourself he him his himself she her hers herself
it its itself they them their theirs themselves this that these those who whom whose which what whatever
thee thou thy thine ye yon yonder o oh ah alas lo hath doth art wert wast shalt wilt canst couldst dost didst
hast hadst shouldst wouldst mayst mightst 'tis tis 'twas twas o'er e'er ne'er ere oft
am is are was were be been being have has had having do does did done shall should will would may might must
can could not no nay yes yea all any both each every either neither some such none one own other another
here there where when why how now then again ever never also too very just only even still else more most
much many few less least up down out off away back forth thus hence whence thither hither wherefore therefore
let said says say
""".split())


@dataclass(frozen=True)
class KeywordPicker:
    """Content words: seen often enough to be learned, and not closed-class (function) words."""
    stop: frozenset
    known: frozenset

    @classmethod
    def from_passages(cls, passages: list[list[str]], min_count: int = 20) -> "KeywordPicker":
        c = Counter(w for p in passages for ln in p for w in set(words(ln)))
        return cls(FUNCTION_WORDS, frozenset(w for w, n in c.items() if n >= min_count and len(w) >= 3))

    def content_words(self, text: str) -> list[str]:
        seen: dict[str, None] = {}
        for w in words(text):
            if w in self.known and w not in self.stop and "'" not in w:
                seen[w] = None
        return list(seen)

    def pick(self, passage: list[str], rng: np.random.Generator, k: int = 3, p_none: float = 0.15) -> list[str]:
        cands = self.content_words(" ".join(passage))
        if not cands or rng.random() < p_none:
            return []
        n = min(len(cands), int(rng.integers(1, k + 1)))
        return [cands[i] for i in rng.choice(len(cands), size=n, replace=False)]


def document(passage: list[str], keywords: list[str]) -> str:
    return f"{KW}{' '.join(keywords)}{POEM}" + "\n".join(passage) + EOS


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """Byte-level BPE (GPT-2's scheme) trained on the corpus; returns a tokenizers.Tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=5,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def wrap_tokenizer(tok):
    """A transformers fast tokenizer around our BPE, so the poet treats it like any hub model's."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, unk_token=EOS,
                                   pad_token=EOS, additional_special_tokens=[KW, POEM])


def passage_word_ngrams(passages: Iterable[list[str]], n: int):
    from models.common.ngram_index import NgramIndex

    return NgramIndex.build((word_ids(" ".join(p)) for p in passages), n)
