"""Everything write_poem needs, loaded once: the poet (embedded, ``hf:…`` or served by an
engine), its vocabulary, the corpus n-gram indexes and the adherence baseline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.common.errors import ModelFileError
from models.poetry.poet import Poet, cached_vectors, load_poet_lm, load_vocabulary


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

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.poet.encoder(texts)

    def sense_floor(self) -> float:
        """Real verse's lower-quartile poem sense (held-out passages, measured when the critic was trained)."""
        report = self.home / "sense.json" if self.home else None
        if report is not None and report.exists():
            return float(json.loads(report.read_text()).get("real_poem", {}).get("q1", 0.5))
        return 0.5


def load_poet_kit(weights_dir: Path, spec: str | None, encoder, cache_dir: Path | None) -> PoetKit:
    """The poet's model (embedded, ``hf:…``, or ``openai:URL#MODEL`` served by an engine) with the
    project's vocabulary, indexes and baseline, which live beside the embedded model in ``weights/poet``."""
    from models.common.ngram_index import NgramIndex

    home = weights_dir / "poet"
    for f in ("content_words.json", "poetry-ngrams4.npz", "poetry-ngrams5.npz", "baseline_passages.json"):
        if not (home / f).exists():
            raise ModelFileError(f"{home / f} is missing; run `arsnova train poetry --install` or reinstall Ars Nova")
    served = bool(spec and spec.startswith("openai:"))
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
    sense = load_sense_critic(home, *((lm.model, lm.tokenizer) if embedded else ()))
    if served:  # one engine (vLLM, llama.cpp server, Ollama) shared by every worker
        from models.poetry.served_poet import make_served_poet

        poet = make_served_poet(spec, vocab, encoder, indexes, lexicon, sense)
    else:
        poet = Poet(lm, vocab, encoder, indexes, lexicon, sense)
    return PoetKit(poet, indexes, base, val, poet.lm.name, home, sense)
