"""Everything write_poem needs, loaded once: the poet (embedded, ``hf:…`` or served by an
engine), its vocabulary, the corpus n-gram indexes and the adherence baseline."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.common.errors import ModelFileError
from models.common.learned import AUTHORS as AUTHORS_DIR  # <weights>/authors/NAME: shipped author poets
from models.poetry.poet import Poet, cached_vectors, load_poet_lm, load_vocabulary


REWRITE, SAMPLE = "rewrite", "sample"  # poet specs: the embedded LM rewriting corpus sentences, or sampling lines
DEFAULT_ROUTE = REWRITE  # the embedded poet's route when the unit store is installed (card: measured, read aloud)


@dataclass
class PoetKit:
    """Everything write_poem needs, loaded once: the poet, its corpus indexes, the adherence baseline."""

    poet: Poet
    indexes: dict
    baseline_vecs: np.ndarray  # unit vectors of random held-out corpus passages
    val_nll: float
    model_id: str
    home: Path | None = None  # weights/poet: the lexicon, the sense critic, held-out passages
    sense: object = None  # models.poetry.sense.SenseCritic, or None when not installed
    learned: object = None  # models.common.learned.LearnedModel: a poet fine-tuned on the person's poems
    user_indexes: dict | None = None  # n -> NgramIndex of those poems (novelty is measured against them too)
    style_vec: np.ndarray | None = None  # unit mean vector of those poems (the critique's "near to NAME")

    def style_nearness(self, vec: np.ndarray) -> tuple[float, float] | None:
        """(the poem's cosine to the learned poet's own poems, random verse's mean cosine to them)."""
        if self.style_vec is None:
            return None
        return float(vec @ self.style_vec), float((self.baseline_vecs @ self.style_vec).mean())

    @property
    def novelty_corpora(self) -> list[str]:
        names = ["built-in (Gutenberg poetry lines)"]
        if self.learned is not None:
            c = self.learned.card
            names.append(f"{self.learned.name} ({c.get('poems', '?')} poems from {c.get('source', '?')})")
        return names

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.poet.encoder(texts)

    def sense_quartiles(self) -> tuple[float, float, float] | None:
        """Real verse's poem sense quartiles (q1, median, q3) on held-out passages, measured when the
        critic was trained (sense.json); None without that report."""
        report = self.home / "sense.json" if self.home else None
        real = json.loads(report.read_text()).get("real_poem", {}) if report is not None and report.exists() else {}
        return (real["q1"], real["median"], real["q3"]) if {"q1", "median", "q3"} <= real.keys() else None

    def sense_floor(self) -> float:
        """Real verse's lower-quartile poem sense."""
        q = self.sense_quartiles()
        return float(q[0]) if q else 0.5


def load_poet_kit(weights_dir: Path, spec: str | None, encoder, cache_dir: Path | None,
                  data_dir: Path | None = None, embedded: Callable[[], PoetKit] | None = None) -> PoetKit:
    """The poet's model (embedded, ``hf:…``, ``openai:URL#MODEL`` served by an engine, ``gguf:PATH``
    on llama.cpp in this process, or the name
    of a poet learned with `arsnova learn poems`, found in ``data_dir``) with the project's
    vocabulary, indexes and baseline, which live beside the embedded model in ``weights/poet``.
    ``embedded()``: the embedded poet's kit when the caller already holds it (a learned poet
    shares its vocabulary, baseline, lexicon and sense critic)."""
    from models.common.learned import find_learned, is_learned_name
    from models.common.ngram_index import NgramIndex

    if spec in (REWRITE, SAMPLE):  # the embedded LM, rewriting corpus sentences or sampling line by line
        base = embedded() if embedded is not None else load_poet_kit(weights_dir, None, encoder, cache_dir)
        return _rewriting_kit(base) if spec == REWRITE else _sampling_kit(base)
    if spec and ":" not in spec and spec != "embedded" and is_learned_name(spec):
        base = embedded() if embedded is not None else load_poet_kit(weights_dir, None, encoder, cache_dir)
        return _learned_kit(find_learned(data_dir, "poet", spec, weights_dir / AUTHORS_DIR), base, encoder)

    home = weights_dir / "poet"
    for f in ("content_words.json", "poetry-ngrams4.npz", "poetry-ngrams5.npz", "baseline_passages.json"):
        if not (home / f).exists():
            raise ModelFileError(f"{home / f} is missing; run `arsnova train poetry --install` or reinstall Ars Nova")
    served = bool(spec and spec.startswith(("openai:", "gguf:")))  # whole lines from an engine
    lm = None if served else load_poet_lm(spec, weights_dir)
    vocab = load_vocabulary(home / "content_words.json", encoder, cache_dir)
    indexes = {n: NgramIndex.load(home / f"poetry-ngrams{n}.npz") for n in (4, 5)}
    passages = json.loads((home / "baseline_passages.json").read_text())
    base = cached_vectors(encoder, passages, cache_dir, "poet-baseline")
    val = 4.5  # a general LM's NLL on verse is unknown: a broad default band
    if spec in (None, "", "embedded") and (home / "training.json").exists():
        val = float(json.loads((home / "training.json").read_text())["val_nll"])
    from models.poetry.lexicon import load_lexicon
    from models.poetry.sense import load_sense_critic

    lexicon = load_lexicon(home)
    embedded = spec in (None, "", "embedded")
    # the critic reads with the embedded poet's LM, whoever writes
    sense = load_sense_critic(home, *((lm.model, lm.tokenizer) if embedded else ()), encoder=encoder)
    if served:  # an engine (vLLM, llama.cpp server, Ollama, llama.cpp in process) writes whole lines
        from models.poetry.served_poet import make_served_poet

        poet = make_served_poet(spec, vocab, encoder, indexes, lexicon, sense)
    else:
        poet = Poet(lm, vocab, encoder, indexes, lexicon, sense)
    kit = PoetKit(poet, indexes, base, val, poet.lm.name, home, sense)
    from models.poetry.rewrite import UNITS_FILE

    if embedded and DEFAULT_ROUTE == REWRITE and (home / UNITS_FILE).exists():
        return _rewriting_kit(kit)
    return kit


def _learned_kit(model, base: PoetKit, encoder) -> PoetKit:
    """A poet fine-tuned on the person's poems: its own LM, the embedded poet's vocabulary,
    baseline and sense critic (which reads with the embedded LM), and the n-gram indexes and
    lexicon of both the built-in corpus and the person's poems."""
    from models.common.causal_lm import load_causal_lm
    from models.common.ngram_index import NgramIndex
    from models.poetry.poet import KW, POEM, PoetLM

    lm_model, tok = load_causal_lm(str(model.path), role=f"learned poet {model.name}")
    n_pos = int(getattr(lm_model.config, "n_positions", 128))
    lm = PoetLM(lm_model, tok, f"learned/{model.name}", KW in tok.get_vocab() and POEM in tok.get_vocab(), min(n_pos, 1024))
    user = {n: NgramIndex.load(model.path / f"poetry-ngrams{n}.npz") for n in (4, 5)}
    indexes = {n: base.indexes[n].union(user[n]) for n in (4, 5)}
    extra = json.loads((model.path / "lexicon_extra.json").read_text()).get("words", [])
    lexicon = base.poet.lexicon
    lexicon = type(lexicon)(lexicon.extra | frozenset(extra))
    poet = Poet(lm, base.poet.vocab, encoder, indexes, lexicon, base.sense)
    val = float(model.card.get("val_nll_after") or base.val_nll)
    style = model.path / "style.npy"
    style_vec = np.load(style, allow_pickle=False) if style.exists() else None
    return PoetKit(poet, indexes, base.baseline_vecs, val, lm.name, base.home, base.sense, model, user, style_vec)


def _sampling_kit(base: PoetKit) -> PoetKit:
    """The embedded poet's kit with the sampling poet writing (models/poetry/poet.py)."""
    from dataclasses import replace

    from models.poetry.rewrite import RewritingPoet

    if not isinstance(base.poet, RewritingPoet):
        return base
    return replace(base, poet=base.poet.poet)


def _rewriting_kit(base: PoetKit) -> PoetKit:
    """The embedded poet's kit with the rewriting poet writing: same LM, indexes, critics."""
    from dataclasses import replace

    from models.poetry.rewrite import RewritingPoet, load_unit_store

    if isinstance(base.poet, RewritingPoet):
        return base
    store = load_unit_store(base.home)
    if store is None:
        raise ModelFileError(f"{base.home}/retrieval_units.npz is missing; run "
                             "`python -m models.poetry.training.units --out models/weights/poet`")
    # the same model writes (its route is in the poem's front matter and the rounds' parameters)
    return replace(base, poet=RewritingPoet(base.poet, store, sense_floor=base.sense_floor()))
