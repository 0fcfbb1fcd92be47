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


@dataclass
class MusicGenerator:
    weights_dir: Path
    vocab: Vocab = field(default_factory=Vocab)
    _models: dict = field(default_factory=dict)
    _meta: dict = field(default_factory=dict)
    _index: NgramIndex | None = None
    _chords: object | None = None

    @classmethod
    def from_dir(cls, weights_dir: Path | None = None) -> "MusicGenerator":
        return cls(Path(weights_dir) if weights_dir else default_weights_dir())

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
        return f"arsnova/{MODEL_FILES[kind].removesuffix('.safetensors')}@step{step}"

    @property
    def index(self) -> NgramIndex:
        if self._index is None:
            path = self.weights_dir / INDEX_FILE
            if not path.exists():
                raise ModelFileError(f"corpus n-gram index {path} is missing; run `arsnova train music --index-only`")
            self._index = NgramIndex.load(path)
            if self._index.n != MELODY_N:
                raise ModelFileError(f"{path} indexes {self._index.n}-grams, expected {MELODY_N}")
        return self._index

    @property
    def chords(self):
        """The chord model (``models/music/chords.py``) the accompaniment harmonises with."""
        if self._chords is None:
            from models.music.chords import ChordModel

            path = self.weights_dir / CHORDS_FILE
            if not path.exists():
                raise ModelFileError(f"chord model {path} is missing; run `python -m models.music.training.chords`")
            self._chords = ChordModel.load(path)
        return self._chords

    def compose(
        self,
        kind: str,
        spec: SampleSpec,
        primer: Score | None = None,
        block: bool = False,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[SampledPiece]:
        return sample(self.model(kind), self.vocab, spec, primer, self.index if block else None, progress, should_stop)
