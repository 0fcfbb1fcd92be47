"""REMI-style event tokens for symbolic music (after Huang & Yang, "Pop Music Transformer", 2020).

A piece is a header of control tokens followed by bars::

    BOS STYLE_x KEY_k METER_n/d DENSITY_d  BAR POS_p PITCH_m DUR_l [PITCH_m DUR_l ...] POS_q ... BAR ... EOS

Time is on a sixteenth-note grid. ``POS`` is the onset inside the bar, ``DUR`` the length in
sixteenths (1..32), ``PITCH`` a MIDI number (21..108). Several PITCH/DUR pairs after one POS form
a chord. Control tokens: style (corpus family), key (tonic pitch class + mode), meter, and note
density (a proxy for "slow / moderate / lively" feel; tempo in BPM is a rendering parameter
because the corpora carry almost no metronome marks).

Version 2 adds one phrase-position token, ``CAD``, right after the ``BAR`` of a phrase-final bar
(``BAR CAD POS_p ...``): a chorale's fermata bars, else every 4th bar from the first full one, and
the last bar (``phrase_end_bars``). Trained with it, a model knows a cadence is due; sampling emits
it at the phrase plan's cadence bars. ``CAD`` is the last id, so a version-1 model (199 tokens, no
``CAD``) keeps every id and is read with ``Vocab.sized(199)``, which never emits it.

The encoding is the 4-method interface note-seq uses: ``encode``, ``decode``, ``vocab_size``
and token names; plus ``grammar_mask`` which sampling uses to keep every sequence decodable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STYLES = ("chorale", "folk", "irish", "scottish", "english")
METERS = ("2/4", "3/4", "4/4", "2/2", "3/2", "4/2", "6/8", "9/8", "12/8", "3/8", "6/4")
DENSITIES = ("slow", "moderate", "lively")
MODES = ("major", "minor")
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MIN_PITCH, MAX_PITCH = 21, 108
MAX_POS = 32  # sixteenths per bar, up to 4/2
MAX_DUR = 32
PHRASE_GRID = 4  # bars per phrase where a piece marks none (the ABC tunes; the plan's phrase length)
VOCAB_SIZES = {199: 1, 200: 2}  # vocabulary size -> token version (2: with CAD)


# a church mode asked for -> the key the models write it in (they know major and minor only): the
# minor modes as the minor key on the same final, the major ones as the major key; the tool says so
CHURCH_MODES = {"dorian": "minor", "phrygian": "minor", "aeolian": "minor", "locrian": "minor",
                "ionian": "major", "lydian": "major", "mixolydian": "major"}


def church_mode(text: str | None) -> str | None:
    """The church mode a key names ('A dorian' -> 'dorian'), else None."""
    import re

    m = re.search(r"\b(" + "|".join(CHURCH_MODES) + r")\b", (text or "").lower())
    return m.group(1) if m else None


def parse_key(text: str) -> Key:
    """'D minor', 'F# major', 'Bb', 'ebm', 'C sharp minor', 'A dorian' -> Key (a church mode as the
    major or minor key on its final: ``CHURCH_MODES``); ValueError with the accepted forms."""
    import re

    m = re.fullmatch(r"\s*([a-gA-G])\s*(#|♯|sharp|b|♭|flat|-sharp|-flat)?\s*(major|minor|maj|min|m|"
                     + "|".join(CHURCH_MODES) + r")?\s*", text or "", re.IGNORECASE)
    if not m:
        raise ValueError(f"unknown key {text!r}; write it like 'D minor', 'F# major' or 'Bb major'")
    pc = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}[m.group(1).lower()]
    acc = (m.group(2) or "").lower().strip("-")
    pc += 1 if acc in ("#", "♯", "sharp") else -1 if acc in ("b", "♭", "flat") else 0
    word = (m.group(3) or "").lower()
    mode = CHURCH_MODES.get(word) or ("minor" if word in ("minor", "min", "m") else "major")
    return Key(pc % 12, mode)


def meter_sixteenths(meter: str) -> int:
    """Bar length in sixteenth notes, e.g. '6/8' -> 12."""
    num, den = (int(x) for x in meter.split("/"))
    return num * 16 // den


def density_bin(onsets_per_quarter: float) -> str:
    """Map distinct onsets per quarter note to a feel bin (thresholds from the corpus quartiles)."""
    if onsets_per_quarter < 1.1:
        return "slow"
    if onsets_per_quarter < 1.9:
        return "moderate"
    return "lively"


def phrase_end_bars(score: "Score") -> frozenset[int]:
    """The bars a ``CAD`` token marks: the marked phrase ends (a chorale's fermatas, when it has at
    least two) or every ``PHRASE_GRID``-th bar counted from the first full bar (bar 1 after a
    pickup), and always the last bar."""
    bars = score.bars
    if bars <= 0:
        return frozenset()
    if len(score.phrase_ends) >= 2:
        ends = set(score.phrase_ends)
    else:
        first = min((n.start for n in score.notes), default=0)
        start = 1 if 0 < first < score.bar_length else 0  # a pickup bar opens the piece
        ends = set(range(start + PHRASE_GRID - 1, bars, PHRASE_GRID))
    return frozenset(b for b in ends | {bars - 1} if 0 <= b < bars)


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class 0..11
    mode: str  # "major" | "minor"

    def __post_init__(self) -> None:
        if not 0 <= self.tonic < 12 or self.mode not in MODES:
            raise ValueError(f"bad key {self.tonic} {self.mode}")

    @property
    def index(self) -> int:
        return self.tonic + 12 * MODES.index(self.mode)

    @property
    def name(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {self.mode}"

    def scale(self) -> frozenset[int]:
        """Pitch classes counted as in the key: major scale; natural minor plus the raised 7th."""
        steps = (0, 2, 4, 5, 7, 9, 11) if self.mode == "major" else (0, 2, 3, 5, 7, 8, 10, 11)
        return frozenset((self.tonic + s) % 12 for s in steps)

    def transpose(self, semitones: int) -> "Key":
        return Key((self.tonic + semitones) % 12, self.mode)


@dataclass(frozen=True)
class NoteEvent:
    start: int  # sixteenths from the start of bar 0
    duration: int  # sixteenths, >= 1
    pitch: int  # MIDI number
    voice: int = 0  # part: 0 melody / soprano; accompaniment and lower voices count up (not tokenised)

    def __post_init__(self) -> None:
        if self.start < 0 or self.duration < 1 or not 0 <= self.pitch <= 127 or not 0 <= self.voice < 16:
            raise ValueError(f"invalid note {self}")


@dataclass(frozen=True)
class Score:
    """A quantised piece: what the tokenizer reads and writes."""

    notes: tuple[NoteEvent, ...]
    meter: str
    key: Key
    style: str = "folk"
    density: str = "moderate"
    n_bars: int = 0  # bars including trailing empty ones; 0 = derive from notes
    phrase_ends: tuple[int, ...] = ()  # marked phrase-final bars (a chorale's fermatas); () = the 4-bar grid

    def __post_init__(self) -> None:
        if self.meter not in METERS:
            raise ValueError(f"unsupported meter {self.meter}; supported: {', '.join(METERS)}")
        if self.style not in STYLES:
            raise ValueError(f"unknown style {self.style}; known: {', '.join(STYLES)}")

    @property
    def bar_length(self) -> int:
        return meter_sixteenths(self.meter)

    @property
    def bars(self) -> int:
        if self.n_bars:
            return self.n_bars
        if not self.notes:
            return 0
        return max(n.start for n in self.notes) // self.bar_length + 1


@dataclass(frozen=True)
class Vocab:
    """Token ids; one instance is enough, but it is built, not global."""

    names: tuple[str, ...] = field(default_factory=lambda: _token_names())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ids", {n: i for i, n in enumerate(self.names)})

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def sized(cls, n: int) -> "Vocab":
        """The vocabulary of a model with ``n`` output rows: 199 = version 1 (no ``CAD``), 200 = version 2."""
        if n not in VOCAB_SIZES:
            from models.common.errors import ModelFileError

            raise ModelFileError(f"this music model has a {n}-token vocabulary; Ars Nova reads "
                                 f"{' or '.join(map(str, VOCAB_SIZES))} tokens — train or learn it again")
        return cls(_token_names()[:n])

    @classmethod
    def for_model(cls, model) -> "Vocab":
        return cls.sized(int(model.config.vocab_size))

    @property
    def has_cadence(self) -> bool:
        return "CAD" in self._ids  # type: ignore[attr-defined]

    def id(self, name: str) -> int:
        return self._ids[name]  # type: ignore[attr-defined]

    def ids_with_prefix(self, prefix: str) -> np.ndarray:
        return np.array([i for i, n in enumerate(self.names) if n.startswith(prefix)], dtype=np.int64)

    # ---- encode / decode --------------------------------------------------------------
    def header(self, style: str, key: Key, meter: str, density: str) -> list[int]:
        return [
            self.id("BOS"),
            self.id(f"STYLE_{style}"),
            self.id(f"KEY_{key.index}"),
            self.id(f"METER_{meter}"),
            self.id(f"DENSITY_{density}"),
        ]

    def encode(self, score: Score, eos: bool = True) -> list[int]:
        bar_len = score.bar_length
        out = self.header(score.style, score.key, score.meter, score.density)
        by_bar: dict[int, dict[int, list[NoteEvent]]] = {}
        for n in score.notes:
            if not MIN_PITCH <= n.pitch <= MAX_PITCH:
                continue  # outside the piano range the vocabulary covers
            by_bar.setdefault(n.start // bar_len, {}).setdefault(n.start % bar_len, []).append(n)
        cad = phrase_end_bars(score) if self.has_cadence else frozenset()
        for bar in range(score.bars):
            out.append(self.id("BAR"))
            if bar in cad:
                out.append(self.id("CAD"))
            for pos in sorted(by_bar.get(bar, {})):
                out.append(self.id(f"POS_{pos}"))
                for n in sorted(by_bar[bar][pos], key=lambda n: -n.pitch):
                    out.append(self.id(f"PITCH_{n.pitch}"))
                    out.append(self.id(f"DUR_{min(n.duration, MAX_DUR)}"))
        if eos:
            out.append(self.id("EOS"))
        return out

    def decode(self, tokens: list[int] | np.ndarray) -> Score:
        """Inverse of ``encode``; ignores tokens out of grammar instead of guessing."""
        names = [self.names[int(t)] for t in tokens]
        style, key, meter, density = "folk", Key(0, "major"), "4/4", "moderate"
        notes: list[NoteEvent] = []
        bar, pos, pitch = -1, None, None
        for name in names:
            kind, _, val = name.partition("_")
            if kind == "STYLE":
                style = val
            elif kind == "KEY":
                k = int(val)
                key = Key(k % 12, MODES[k // 12])
            elif kind == "METER":
                meter = val
            elif kind == "DENSITY":
                density = val
            elif kind == "BAR":
                bar, pos, pitch = bar + 1, None, None
            elif kind == "POS" and bar >= 0:
                pos, pitch = int(val), None
            elif kind == "PITCH" and pos is not None:
                pitch = int(val)
            elif kind == "DUR" and pitch is not None and pos is not None:
                notes.append(NoteEvent(bar * meter_sixteenths(meter) + pos, int(val), pitch))
                pitch = None
            elif kind == "EOS":
                break
        return Score(tuple(notes), meter, key, style, density, n_bars=max(bar + 1, 0))


def _token_names() -> tuple[str, ...]:
    names = ["PAD", "BOS", "EOS", "BAR"]
    names += [f"STYLE_{s}" for s in STYLES]
    names += [f"KEY_{k}" for k in range(24)]
    names += [f"METER_{m}" for m in METERS]
    names += [f"DENSITY_{d}" for d in DENSITIES]
    names += [f"POS_{p}" for p in range(MAX_POS)]
    names += [f"PITCH_{p}" for p in range(MIN_PITCH, MAX_PITCH + 1)]
    names += [f"DUR_{d}" for d in range(1, MAX_DUR + 1)]
    names += ["CAD"]  # version 2: last, so version-1 ids are unchanged
    return tuple(names)


class Grammar:
    """Tracks where a body sequence is and which tokens may follow, so sampled music always decodes.

    The sampler asks ``allowed()`` for a boolean mask and reports each chosen token to ``step``.
    ``bars`` ends the piece after that many bars; ``max_chord`` bounds notes per onset. ``CAD`` may
    follow a ``BAR`` (once); it leaves ``last`` at ``"BAR"`` and sets ``cadence`` for the bar.
    """

    def __init__(self, vocab: Vocab, meter: str = "4/4", bars: int = 16, max_chord: int = 4) -> None:
        self.v = vocab
        self.bar_len = meter_sixteenths(meter)
        self.bars_target = bars
        self.max_chord = max_chord
        self.bar = 0  # bars started
        self.pos = -1
        self.last = "HEADER"
        self.chord = 0
        self.chord_low = 1 << 10  # lowest pitch so far at this onset: chords are sorted high to low
        self.done = False
        self.cadence = False  # this bar carries CAD
        self._cad = vocab.id("CAD") if vocab.has_cadence else None
        n = len(vocab)
        self._pos_ids = vocab.ids_with_prefix("POS_")
        self._pitch_ids = vocab.ids_with_prefix("PITCH_")
        self._pitch = np.zeros(n, bool)
        self._pitch[self._pitch_ids] = True
        self._dur = np.zeros(n, bool)
        self._dur[vocab.ids_with_prefix("DUR_")] = True

    def allowed(self) -> np.ndarray:
        m = np.zeros(len(self.v), bool)
        if self.done:
            m[self.v.id("EOS")] = True
            return m
        if self.last in ("HEADER",):
            m[self.v.id("BAR")] = True
        elif self.last == "POS":
            m |= self._pitch
        elif self.last == "PITCH":
            m |= self._dur
        else:  # after BAR or DUR
            if self.last == "DUR" and self.chord < self.max_chord:
                m[self._pitch_ids[self._pitch_ids < self._pitch_ids[0] + self.chord_low - MIN_PITCH]] = True
            first = self.pos + 1
            m[self._pos_ids[first : self.bar_len]] = True
            if self.last == "BAR" and self._cad is not None and not self.cadence:
                m[self._cad] = True
            if self.bar < self.bars_target:
                m[self.v.id("BAR")] = True
            else:
                m[self.v.id("EOS")] = True
        return m

    def step(self, token: int) -> None:
        kind = self.v.names[token].partition("_")[0]
        if kind == "BAR":
            self.bar += 1
            self.pos, self.chord, self.chord_low = -1, 0, 1 << 10
            self.cadence = False
        elif kind == "CAD":
            self.cadence = True
        elif kind == "POS":
            self.pos = int(self.v.names[token][4:])
            self.chord, self.chord_low = 0, 1 << 10
        elif kind == "PITCH":
            self.chord += 1
            self.chord_low = int(self.v.names[token][6:])
        elif kind == "EOS":
            self.done = True
        self.last = kind if kind in ("BAR", "POS", "PITCH", "DUR") else self.last
