"""The music generator the tools use: shipped (or given) checkpoints + vocabulary + corpus index.

``MusicGenerator.from_dir`` loads lazily: a model is read from disk the first time its kind
is asked for, then kept for later turns. ``weights_dir`` holds ``music-transformer.safetensors``,
``music-rnn.safetensors`` and ``music-ngrams.npz`` (the corpus melody n-gram index).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from models.common.errors import ModelFileError
from models.common.runtime import default_weights_dir
from models.music.sample import MELODY_N, SampledPiece, SampleSpec, sample
from models.music.tokens import Score, Vocab
from models.common.ngram_index import NgramIndex

MODEL_FILES = {"transformer": "music-transformer.safetensors", "rnn": "music-rnn.safetensors"}
INDEX_FILE = "music-ngrams.npz"
CHORDS_FILE = "music-chords.npz"
CHORALE_FILE = "music-chorale.safetensors"


@dataclass
class MusicGenerator:
    """``weights_dir`` holds the models; ``shipped_dir`` the built-in corpus index and the chord
    model (the same folder, except for a composer learned from a person's pieces, whose folder
    holds its model and the index of those pieces: ``learned``)."""

    weights_dir: Path
    vocab: Vocab = field(default_factory=Vocab)
    shipped_dir: Path | None = None
    learned: object | None = None  # models.common.learned.LearnedModel
    _models: dict = field(default_factory=dict)
    _meta: dict = field(default_factory=dict)
    _index: NgramIndex | None = None
    _user_index: NgramIndex | None = None
    _union: NgramIndex | None = None
    _chords: object | None = None
    _chorale_net: object | None = None

    @classmethod
    def from_dir(cls, weights_dir: Path | None = None) -> "MusicGenerator":
        return cls(Path(weights_dir) if weights_dir else default_weights_dir())

    @classmethod
    def from_learned(cls, model, weights_dir: Path | None = None) -> "MusicGenerator":
        """A composer learned with `arsnova learn music` (``models.common.learned.LearnedModel``)."""
        return cls(model.path, shipped_dir=Path(weights_dir) if weights_dir else default_weights_dir(), learned=model)

    @property
    def home(self) -> Path:
        return self.shipped_dir or self.weights_dir

    @property
    def name(self) -> str | None:
        """The learned composer's name (None for the shipped models)."""
        return self.learned.name if self.learned is not None else None

    @property
    def defaults(self) -> dict:
        """Tempo, meter, key and style read from the learned composer's pieces ({} when shipped)."""
        return dict(self.learned.card.get("defaults", {})) if self.learned is not None else {}

    def available(self) -> dict[str, Path]:
        return {k: self.weights_dir / f for k, f in MODEL_FILES.items() if (self.weights_dir / f).exists()}

    def default_kind(self) -> str:
        """The model with the lower validation NLL recorded in its header (transformer on a tie)."""
        from models.common.checkpoint import read_metadata

        scores = {k: read_metadata(p).get("val_nll", float("inf")) for k, p in self.available().items()}
        if not scores:
            raise ModelFileError(f"no music model in {self.weights_dir}; run `arsnova train music --install`")
        return min(sorted(scores), key=lambda k: (scores[k], k != "transformer"))

    def model(self, kind: str):
        if kind not in MODEL_FILES:
            raise ModelFileError(f"unknown music model {kind!r}; choose transformer or rnn")
        if kind not in self._models:
            from models.music.model import load_music_model

            self._models[kind], self._meta[kind] = load_music_model(self.weights_dir / MODEL_FILES[kind])
        return self._models[kind]

    def model_id(self, kind: str) -> str:
        self.model(kind)
        step = self._meta[kind].get("train_step", "?")
        if self.learned is not None:
            return f"learned/{self.learned.name}@step{step}"
        return f"arsnova/{MODEL_FILES[kind].removesuffix('.safetensors')}@step{step}"

    @property
    def index(self) -> NgramIndex:
        """The built-in corpus's melody n-grams."""
        if self._index is None:
            self._index = _load_index(self.home / INDEX_FILE, "run `arsnova train music --index-only`")
        return self._index

    @property
    def user_index(self) -> NgramIndex | None:
        """The learned composer's own pieces' melody n-grams (None for the shipped models)."""
        if self.learned is not None and self._user_index is None:
            self._user_index = _load_index(self.weights_dir / INDEX_FILE, f"learn {self.learned.name} again")
        return self._user_index

    @property
    def novelty_index(self) -> NgramIndex:
        """Every corpus novelty is measured against: the built-in one and, for a learned composer, its pieces."""
        user = self.user_index
        if user is None:
            return self.index
        if self._union is None:
            self._union = self.index.union(user)
        return self._union

    def novelty_corpora(self) -> list[str]:
        names = ["built-in (music21 Bach chorales and folk collections)"]
        if self.learned is not None:
            names.append(f"{self.learned.name} ({self.learned.card.get('files_used', '?')} pieces from "
                         f"{self.learned.card.get('source', '?')})")
        return names

    @property
    def chords(self):
        """The chord model (``models/music/chords.py``) the accompaniment harmonises with."""
        if self._chords is None:
            from models.music.chords import ChordModel

            path = self.home / CHORDS_FILE
            if not path.exists():
                raise ModelFileError(f"chord model {path} is missing; run `python -m models.music.training.chords`")
            self._chords = ChordModel.load(path)
        return self._chords

    @property
    def chorale_net(self):
        """The four-part chorale network (``models/music/coconet.py``) that writes a chorale's alto,
        tenor and bass; None where its file is missing (the chord model and voicing DP then do)."""
        path = self.home / CHORALE_FILE
        if self._chorale_net is None and path.exists():
            from models.music.coconet import load_coconet

            self._chorale_net = load_coconet(path)[0]
        return self._chorale_net

    def compose(
        self,
        kind: str,
        spec: SampleSpec,
        primer: Score | None = None,
        block: bool = False,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[SampledPiece]:
        model = self.model(kind)
        # a composer learned before the CAD token (199 tokens) samples with its own vocabulary
        vocab = self.vocab if len(self.vocab) == model.config.vocab_size else Vocab.for_model(model)
        return sample(model, vocab, spec, primer, self.novelty_index if block else None, progress, should_stop)


def _load_index(path: Path, fix: str) -> NgramIndex:
    if not path.exists():
        raise ModelFileError(f"melody n-gram index {path} is missing; {fix}")
    index = NgramIndex.load(path)
    if index.n != MELODY_N:
        raise ModelFileError(f"{path} indexes {index.n}-grams, expected {MELODY_N}")
    return index
