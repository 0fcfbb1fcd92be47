"""Sampling music from either model: a batch of candidates decoded in lockstep.

Per step, each row's logits pass through (1) the REMI grammar mask, so every result decodes,
(2) a key prior that lowers out-of-scale pitches by ``key_strictness`` nats, (3) optional
corpus n-gram blocking: a melody note whose (interval, inter-onset) 6-gram with the previous
notes occurs in the training corpus is lowered by ``block_strength`` nats, then temperature and
nucleus (top-p) sampling with an explicit ``torch.Generator``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.common.errors import Cancelled
from models.music.accompany import unit_length
from models.music.tokens import MIN_PITCH, Grammar, Key, Score, Vocab, meter_sixteenths
from models.common.ngram_index import NgramIndex, hash_windows

MELODY_N = 6  # joint (interval, ioi) n-gram length used for copy detection and blocking


def melody_tokens(intervals: np.ndarray, iois: np.ndarray) -> np.ndarray:
    """Joint symbols for melody n-grams: interval clipped to ±24, inter-onset 0..32."""
    return (np.clip(intervals, -24, 24) + 24) * 33 + np.clip(iois, 0, 32)


def score_melody(score: Score) -> np.ndarray:
    """Joint melody symbols of the top line of ``score``."""
    top: dict[int, int] = {}
    for n in score.notes:
        top[n.start] = max(top.get(n.start, 0), n.pitch)
    onsets = np.array(sorted(top), dtype=np.int64)
    pitches = np.array([top[t] for t in onsets], dtype=np.int64)
    return melody_tokens(np.diff(pitches), np.diff(onsets))


@dataclass(frozen=True)
class BarGuide:
    """How one bar of a phrase plan is sampled. ``top``: pitch classes the melody (the first pitch
    at each onset) may take; ``chord``: those the notes under it may take (None: free);
    ``bonus``: pitch classes raised by ``bonus_nats``; ``hold``: one sonority on the downbeat held
    through the bar (a final cadence); ``copy_of``: the bar (index among the sampled bars) whose
    tokens this bar restates, written out by forcing them through the model."""

    top: frozenset[int] | None = None
    chord: frozenset[int] | None = None
    bonus: frozenset[int] = frozenset()
    bonus_nats: float = 0.0
    hold: bool = False
    copy_of: int | None = None
    downbeat: bool = False  # the bar's first note falls on its downbeat (no opening rest)
    cadence: bool = False  # a phrase-final bar: its BAR is followed by CAD (a version-2 vocabulary), others never
    long_bonus: float = 0.0  # nats added to melody durations of a beat or more (a cadence comes to rest)
    # the bar's last harmonic unit (``accompany.unit_length``: half a 4/4 bar, a whole 3/4 one) before a
    # full close: its notes on the beats (and any note held into it) take ``tail``'s pitch classes; off
    # the beat also ``tail_passing`` ones a step (<= 2 semitones) from the note before, the next note
    # then a tail tone a step on, in the same bar (the dominant under it: an authentic close)
    tail: frozenset[int] | None = None
    tail_passing: frozenset[int] = frozenset()
    # the final close's approach (the bar before the final tonic): this pitch class (scale degree 4, the
    # seventh of the V7 under it) is not the bar's last melody note; it is held short of the bar's end,
    # another melody note follows it in the bar, a step (<= 2 semitones) on (a passing or neighbour
    # note), so the seventh is never left by a leap to the final tonic
    seventh: int | None = None


@dataclass(frozen=True)
class MelodyShape:
    """How the melody (the first pitch at each onset) is kept from reciting, as sampling constraints.

    - ``repeat_nats``: lowers a pitch equal to the melody's previous note (an immediate repeat);
    - ``max_run``: at most this many notes in a row on one pitch (0: no cap), where another pitch is allowed;
    - ``span``: (target, most) semitones between the melody's lowest and highest notes: while the
      range is under ``target``, a pitch that widens it by at most ``reach`` from the note before
      gets up to ``span_nats`` (scaled by how far the range falls short); past ``most`` a pitch
      loses ``span_nats`` per semitone beyond;
    - ``max_note``: the longest melody note (sixteenths) outside the plan's cadence bars (0: any),
      and the longest time from one melody onset to the next there (no long rest, and no note that
      legato joins to the next held over a bar: a chorale soprano's whole-bar E5s); ``running_nats``
      raised on notes ``running`` sixteenths long (a reel's or jig's eighths); ``max_note_cadence``
      the same in the cadence bars.

    The range pull waits for the second bar (the first leans to the tonic triad, ``plan``). The
    pitch rules do not apply to the final bar (it holds the tonic), nor the longest note to the
    plan's cadence bars (a phrase comes to rest) unless ``max_note_cadence`` says so. A restated bar is forced from its source, so a
    run may continue across into it. The figures per kind of piece come from the corpus
    (``STYLE_SHAPES``)."""

    repeat_nats: float = 0.0
    max_run: int = 0
    span: tuple[int, int] | None = None
    span_nats: float = 0.0
    reach: int = 7
    max_note: int = 0
    max_note_cadence: int = 0  # the same in cadence bars (not the final one; 0: any)
    running: int = 2
    running_nats: float = 0.0


# The corpus's melodies, the first 16 bars of each training piece (``bench/music_eval.py bands`` ->
# bench/music_melody_bands.json; 10th / 50th / 90th percentiles): Bach's chorale sopranos (331) range
# 9 / 12 / 15 semitones over 6 / 8 / 11 pitches, 6 / 13 / 26% of notes repeating the one before;
# German folk songs (essenFolksong, 776; the style a slow piece, waltz or lullaby samples with)
# 8 / 12 / 14 semitones, 6 / 8 / 10 pitches, 7 / 20 / 37% repeats; Irish tunes (O'Neill's 1850, 294)
# 13 / 17 / 19 semitones, 8 / 10 / 13 pitches, 3 / 10 / 19% repeats. Each row aims the range at the
# median (``span`` target) and caps it near the 90th percentile, and presses on repeats. A blind
# composer heard the sopranos before this recite (E5 repeated, or held for whole bars, 4-6 pitches).
STYLE_SHAPES = {
    # a chorale soprano moves in quarters and halves, a half note at its fermatas too (the last bar holds)
    "chorale": MelodyShape(repeat_nats=1.5, max_run=2, span=(12, 16), span_nats=1.5, max_note=8, max_note_cadence=8),
    "song": MelodyShape(repeat_nats=1.0, max_run=3, span=(12, 16), span_nats=1.5),
    "dance": MelodyShape(repeat_nats=0.5, max_run=3, span=(16, 21), span_nats=1.0),
}


@dataclass(frozen=True)
class SampleSpec:
    key: Key
    meter: str = "4/4"
    bars: int = 16
    style: str = "folk"
    density: str = "moderate"
    temperature: float = 1.0
    top_p: float = 0.95
    key_strictness: float = 4.0
    block_strength: float = 0.0  # 0 = no corpus n-gram blocking
    candidates: int = 1
    seed: int = 0
    max_chord: int = 4
    max_bar_tokens: int = 64  # per-bar token budget: bounds every loop
    plan: tuple[BarGuide, ...] = ()  # per sampled bar (models/music/plan.py); empty: free sampling
    pitch_range: tuple[int, int] | None = None  # the melody's register (e.g. a soprano's), inclusive
    onset_grid: int = 1  # onsets only on multiples of this many sixteenths (4: a chorale's quarter-note tread)
    # the melody's shape (``MelodyShape``; None: as the model samples it): repeated notes, range, rhythm
    shape: "MelodyShape | None" = None


@dataclass(frozen=True)
class SampledPiece:
    score: Score
    tokens: tuple[int, ...]
    nll: float  # mean negative log-likelihood per sampled token under the model (nats)
    hit_limit: bool  # a token budget ended the piece early


def sample(
    model,
    vocab: Vocab,
    spec: SampleSpec,
    primer: Score | None = None,
    index: NgramIndex | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[SampledPiece]:
    import torch

    if len(vocab) != model.config.vocab_size:  # a version-1 model needs Vocab.sized(199)
        raise ValueError(f"vocabulary of {len(vocab)} tokens for a model with {model.config.vocab_size}; "
                         "use Vocab.for_model(model)")
    B = spec.candidates
    gen = torch.Generator().manual_seed(spec.seed)
    header = vocab.header(spec.style, spec.key, spec.meter, spec.density)
    primer_body: list[int] = []
    primer_bars = 0
    if primer is not None:
        ptoks = vocab.encode(Score(primer.notes, spec.meter, spec.key, spec.style, spec.density, primer.n_bars), eos=False)
        primer_body = ptoks[len(header):]
        primer_bars = primer.bars
    grammars = [Grammar(vocab, spec.meter, primer_bars + spec.bars, spec.max_chord) for _ in range(B)]
    for g in grammars:
        for t in primer_body:
            g.step(t)
    seqs = [list(header) + list(primer_body) for _ in range(B)]
    melodies = [_Melody.from_tokens(vocab, s, meter_sixteenths(spec.meter)) for s in seqs]
    scale_mask = np.zeros(len(vocab), bool)
    pitch_ids = vocab.ids_with_prefix("PITCH_")
    for pid in pitch_ids:
        if (int(vocab.names[pid][6:]) % 12) not in spec.key.scale():
            scale_mask[pid] = True
    guide = _Guide(vocab, spec, primer_bars)
    bar_toks: list[dict[int, list[int]]] = [{} for _ in range(B)]  # row -> sampled bar -> its tokens
    forced: list[list[int]] = [[] for _ in range(B)]
    nll = np.zeros(B)
    counts = np.zeros(B)
    bar_tokens = np.zeros(B, int)
    hit = [False] * B
    budget = (primer_bars + spec.bars) * spec.max_bar_tokens + 8
    limit = getattr(model, "context_limit", 1 << 30)
    model.eval()
    with torch.inference_mode():
        if len(seqs[0]) >= limit:  # a primer longer than the context: its most recent part
            logits, state, length = _reprime(model, seqs, len(header), limit)
        else:
            logits, state = model.start(torch.tensor(seqs))
            length = len(seqs[0])
        for _ in range(budget):
            if all(g.done for g in grammars):
                break
            if should_stop and should_stop():
                raise Cancelled("music generation cancelled")
            masks = np.stack([g.allowed() for g in grammars])
            for b, g in enumerate(grammars):
                if bar_tokens[b] >= spec.max_bar_tokens and not g.done:
                    hit[b] = True
                    keep = masks[b] & np.isin(np.arange(len(vocab)), [vocab.id("BAR"), vocab.id("EOS")])
                    masks[b] = keep if keep.any() else masks[b]
            bonus = np.zeros((B, len(vocab)), np.float32)
            for b, g in enumerate(grammars):
                if (spec.plan or spec.pitch_range or spec.onset_grid > 1 or spec.shape) and not g.done:
                    masks[b], bonus[b] = guide.apply(g, masks[b], melodies[b])
            lp = torch.log_softmax(logits.float(), -1)
            lp = lp.masked_fill(~torch.from_numpy(masks), float("-inf"))
            adj = lp.clone() + torch.from_numpy(bonus)
            adj[:, torch.from_numpy(scale_mask)] -= spec.key_strictness
            if index is not None and spec.block_strength > 0:
                for b in range(B):
                    if grammars[b].last == "POS":
                        pen = melodies[b].blocked_pitches(index, grammars[b].pos)
                        if pen is not None:
                            adj[b, torch.from_numpy(pitch_ids)] -= spec.block_strength * torch.from_numpy(pen)
            tok = nucleus(adj / max(spec.temperature, 1e-3), spec.top_p, gen)
            for b in range(B):
                if forced[b] and not grammars[b].done:
                    tok[b] = forced[b].pop(0)
                    was_forced = True
                else:
                    was_forced = False
                t = int(tok[b])
                if not grammars[b].done:
                    if not was_forced:
                        nll[b] -= float(lp[b, t])
                        counts[b] += 1
                    new_bar = grammars[b].bar - 1 - primer_bars
                    if vocab.names[t] == "BAR":
                        new_bar += 1
                        src = guide.copy_source(new_bar)
                        if src is not None:
                            forced[b] = list(bar_toks[b].get(src, []))
                    elif new_bar >= 0:
                        bar_toks[b].setdefault(new_bar, []).append(t)
                    bar_tokens[b] = 0 if vocab.names[t] == "BAR" else bar_tokens[b] + 1
                    melodies[b].observe(vocab, t)
                    if progress and vocab.names[t] == "BAR" and b == 0:
                        progress(grammars[0].bar - primer_bars, spec.bars)
                grammars[b].step(t)
                seqs[b].append(t)
            length += 1
            if length >= limit:
                logits, state, length = _reprime(model, seqs, len(header), limit)
                continue
            logits, state = model.step(tok, state)
    out = []
    for b in range(B):
        if not grammars[b].done:
            hit[b] = True
        score = vocab.decode(seqs[b])
        out.append(SampledPiece(score, tuple(seqs[b]), float(nll[b] / max(counts[b], 1)), hit[b]))
    if progress:
        progress(spec.bars, spec.bars)
    return out


class _Guide:
    """Applies a phrase plan (``SampleSpec.plan``) to one row's grammar mask at each step."""

    def __init__(self, vocab: Vocab, spec: SampleSpec, primer_bars: int) -> None:
        self.v = vocab
        self.plan = spec.plan
        self.primer_bars = primer_bars
        self.bar_len = meter_sixteenths(spec.meter)
        n = len(vocab)
        self.pitch_pc = np.full(n, -1)
        for i, name in enumerate(vocab.names):
            if name.startswith("PITCH_"):
                self.pitch_pc[i] = int(name[6:]) % 12
        self.is_pos = np.array([nm.startswith("POS_") for nm in vocab.names])
        self.hold_dur = np.array([nm == f"DUR_{min(self.bar_len, 32)}" for nm in vocab.names])
        self.is_dur = np.array([nm.startswith("DUR_") for nm in vocab.names])
        self.pos0 = np.array([nm == "POS_0" for nm in vocab.names])
        self.bar_or_eos = np.array([nm in ("BAR", "EOS") for nm in vocab.names])
        self.is_cad = np.array([nm == "CAD" for nm in vocab.names])
        self._masks: dict[object, np.ndarray] = {}
        self.long_dur = np.array([nm.startswith("DUR_") and int(nm[4:]) >= 4 for nm in vocab.names])
        self.tail_start = self.bar_len - unit_length(spec.meter, self.bar_len)
        self.beat = 6 if spec.meter in ("6/8", "9/8", "12/8", "3/8") else 4
        self.pitch = np.array([int(nm[6:]) if nm.startswith("PITCH_") else -1 for nm in vocab.names])
        self.dur = np.array([int(nm[4:]) if nm.startswith("DUR_") else 0 for nm in vocab.names])
        self.shape = spec.shape
        self.max_chord = spec.max_chord
        self.pos_at = np.array([int(nm[4:]) if nm.startswith("POS_") else -1 for nm in vocab.names])
        self.range_mask = None
        self.off_grid = None
        if spec.onset_grid > 1:
            self.off_grid = np.array([nm.startswith("POS_") and int(nm[4:]) % spec.onset_grid != 0 for nm in vocab.names])
        if spec.pitch_range is not None:
            lo, hi = spec.pitch_range
            pitch = np.array([int(nm[6:]) if nm.startswith("PITCH_") else -1 for nm in vocab.names])
            self.range_mask = (pitch < 0) | ((pitch >= lo) & (pitch <= hi))

    def _keep(self, pcs: frozenset[int]) -> np.ndarray:
        """Tokens that are not pitches, or pitches of these pitch classes (cached per set)."""
        mask = self._masks.get(pcs)
        if mask is None:
            mask = self._masks[pcs] = (self.pitch_pc < 0) | np.isin(self.pitch_pc, list(pcs))
        return mask

    def copy_source(self, bar: int) -> int | None:
        if 0 <= bar < len(self.plan):
            return self.plan[bar].copy_of
        return None

    def _tail(self, bar: int) -> BarGuide | None:
        gd = self.plan[bar] if 0 <= bar < len(self.plan) else None
        return gd if gd is not None and gd.tail is not None and gd.copy_of is None else None

    def _tail_mask(self, g: Grammar, gd: BarGuide, mel: "_Melody | None") -> np.ndarray | None:
        """The pitches the note now being placed in ``gd``'s tail may take (None: not in the tail)."""
        if g.pos < self.tail_start:
            return None
        keep = self._keep(gd.tail)
        if g.last == "DUR" or mel is None or not mel.pitches:  # a note under the melody: a chord tone
            return keep
        prev = mel.pitches[-1]
        bar_start = (g.bar - 1) * self.bar_len
        step = np.abs(self.pitch - prev) <= 2
        if mel.onsets[-1] >= bar_start + self.tail_start and prev % 12 not in gd.tail:
            return keep & step  # after a passing note: a chord tone a step on
        on_beat = (g.pos - self.tail_start) % self.beat == 0
        if not on_beat and gd.tail_passing and g.pos < self.bar_len - 1:  # room for the note it passes to
            keep = keep | (self._keep(gd.tail_passing) & step)
        return keep

    def apply(self, g: Grammar, mask: np.ndarray, mel: "_Melody | None" = None) -> tuple[np.ndarray, np.ndarray]:
        m, bonus = self._apply_plan(g, mask, mel)
        bar = g.bar - 1 - self.primer_bars
        if self.shape is not None and bar >= 0 and g.last != "HEADER":  # within what the plan allows
            m = m.copy()
            self._melody_shape(g, m, bonus, mel, bar)
        return m, bonus

    def _apply_plan(self, g: Grammar, mask: np.ndarray, mel: "_Melody | None" = None) -> tuple[np.ndarray, np.ndarray]:
        bonus = np.zeros(len(mask), np.float32)
        bar = g.bar - 1 - self.primer_bars
        if bar < 0 or g.last == "HEADER":
            return mask, bonus
        m = mask.copy()
        if g.last == "POS" and self.range_mask is not None:
            m &= self.range_mask
        if self.off_grid is not None and g.last in ("BAR", "DUR"):
            m &= ~self.off_grid
        if bar >= len(self.plan):
            return (m if m.any() else mask), bonus
        gd = self.plan[bar]
        if g.last == "BAR" and not g.cadence and self.is_cad.any():  # the plan says where phrases end
            if gd.cadence and gd.copy_of is None:
                return self.is_cad.copy(), bonus
            m &= ~self.is_cad
        if g.last == "POS" or (g.last == "DUR" and g.chord > 0):
            allowed = gd.top if g.last == "POS" else gd.chord
            if allowed is not None:
                m &= self._keep(allowed)
            tail = self._tail_mask(g, gd, mel) if gd.tail is not None else None
            if tail is not None and (m & tail).any():
                m &= tail
            if gd.bonus and gd.bonus_nats:
                bonus[self._keep(gd.bonus) & (self.pitch_pc >= 0)] = gd.bonus_nats
        if gd.long_bonus and g.last == "PITCH" and g.chord == 1:
            bonus[self.long_dur] += gd.long_bonus
        if g.last == "PITCH" and gd.copy_of is None:  # a note foreign to V is not held into a tail,
            start = self._next_tail_start(bar, g.pos, g.chord_low)  # nor a tail's note into the tonic
            if gd.tail is not None and g.pos >= self.tail_start:
                start = self.bar_len
            if start is not None:
                short = ~self.is_dur | (self.dur <= start - g.pos)
                m = m & short if (m & short & self.is_dur).any() else m
        if gd.seventh is not None and gd.copy_of is None:
            m = self._seventh(g, m, gd, mel)
        if (g.last == "DUR" and gd.tail is not None and mel is not None and mel.pitches and gd.copy_of is None
                and g.pos >= self.tail_start and mel.pitches[-1] % 12 not in gd.tail
                and mel.onsets[-1] == (g.bar - 1) * self.bar_len + g.pos):
            m &= ~self.bar_or_eos  # a passing note passes to a note in this bar
        if gd.copy_of is not None:  # a restated bar ends where its source ended
            m &= self.bar_or_eos
        elif gd.hold or (gd.downbeat and g.last == "BAR"):
            if g.last == "BAR":
                m &= self.pos0
            elif g.last == "PITCH":
                m &= ~self.is_dur | self.hold_dur
            elif g.last == "DUR":
                m &= ~self.is_pos
                if gd.hold and gd.top is not None:  # the closing sonority stands on the melody's final:
                    m = self._final_bass(g, m, gd.top)  # notes under it end on that pitch class
        return (m if m.any() else mask), bonus

    def _seventh(self, g: Grammar, m: np.ndarray, gd: BarGuide, mel: "_Melody | None") -> np.ndarray:
        """``BarGuide.seventh`` on the token now being placed (a softened mask: never emptied). A
        passing note in the tail needs a tail tone other than the seventh a step on, in the melody's
        range (3 over a low 2 otherwise has only 4 to pass to)."""
        seventh = gd.seventh
        last7 = (mel is not None and bool(mel.pitches) and mel.pitches[-1] % 12 == seventh
                 and mel.onsets[-1] >= (g.bar - 1) * self.bar_len)  # a seventh sounding from this bar
        if g.last == "POS":  # the melody note: a step from a seventh before it; a seventh only with room after it
            keep = np.ones(len(m), bool)
            if last7:
                keep &= (self.pitch < 0) | (np.abs(self.pitch - mel.pitches[-1]) <= 2)
            if g.pos >= self.bar_len - 1:
                keep &= self.pitch_pc != seventh
            if gd.tail is not None and g.pos >= self.tail_start:
                keep &= self._passes_on(gd.tail - {seventh}) | self._keep(gd.tail)
            return m & keep if (m & keep & (self.pitch >= 0)).any() else m
        if g.last == "PITCH" and g.chord == 1 and g.chord_low % 12 == seventh:  # it ends before the bar does
            short = ~self.is_dur | (self.dur <= self.bar_len - 1 - g.pos)
            return m & short if (m & short & self.is_dur).any() else m
        if g.last == "DUR" and last7:  # another melody note follows it in this bar
            more = m & ~self.bar_or_eos
            return more if more.any() else m
        return m

    def _passes_on(self, to: frozenset[int]) -> np.ndarray:
        """Tokens that are not pitches, or pitches with a pitch of ``to`` a step (<= 2 semitones)
        away inside the melody's range (cached per set)."""
        key = ("on", to)
        mask = self._masks.get(key)
        if mask is None:
            target = self._keep(to) & (self.pitch >= 0)
            if self.range_mask is not None:
                target &= self.range_mask
            ps = set(self.pitch[target].tolist())
            mask = self._masks[key] = np.array([p < 0 or any(abs(p - q) <= 2 for q in ps) for p in self.pitch.tolist()])
        return mask

    def _final_bass(self, g: Grammar, m: np.ndarray, final: frozenset[int]) -> np.ndarray:
        """In the held final bar, after a note of its sonority (placed high to low): while the
        lowest so far is not the final's pitch class, the sonority goes on (no BAR or EOS yet) and
        its last possible note takes that pitch class; once it is, only that pitch class may go
        under it. A tune that closes with a chord closes in root position, not over its third or
        fifth (2 of 24 bench jigs did)."""
        if g.chord >= self.max_chord:
            return m
        if g.chord_low % 12 in final:  # below the final only the final again (an octave), or the end
            return m & ((self.pitch_pc < 0) | self._keep(final))
        more = m & ~self.bar_or_eos
        if g.chord == self.max_chord - 1:
            more &= self._keep(final)
        return more if (more & (self.pitch_pc >= 0)).any() else m

    def _melody_shape(self, g: Grammar, m: np.ndarray, bonus: np.ndarray, mel: "_Melody | None", bar: int) -> None:
        """``MelodyShape`` on the melody note now being placed (in place on ``m`` and ``bonus``): the
        repeat penalty and cap and the range pull when a pitch follows a POS, the longest note and
        the running-note bonus when a melody note's duration follows its PITCH."""
        sh = self.shape
        cadence_bar = 0 <= bar < len(self.plan) and (self.plan[bar].cadence or self.plan[bar].hold)
        final_bar = 0 <= bar < len(self.plan) and self.plan[bar].hold
        longest = 0 if final_bar else sh.max_note_cadence if cadence_bar else sh.max_note
        if longest and g.last in ("BAR", "DUR") and mel is not None and mel.onsets:
            # nor a gap: the next onset comes within max_note of the last (a rest, or a note that
            # legato joins to the next, does not stretch one pitch over a bar)
            limit = mel.onsets[-1] + longest - (g.bar - 1) * self.bar_len  # in this bar's positions
            near = ~self.is_pos | (self.pos_at <= limit)
            if self.bar_len > limit:
                near &= ~self.bar_or_eos
            if (m & near & (self.is_pos | self.bar_or_eos)).any():
                m &= near
        if g.last == "PITCH" and g.chord == 1:  # the melody note's duration
            if longest:
                short = ~self.is_dur | (self.dur <= longest)
                if (m & short & self.is_dur).any():
                    m &= short
            if sh.running_nats:
                bonus[self.is_dur & (self.dur == sh.running)] += sh.running_nats
            return
        if g.last != "POS" or mel is None or not mel.pitches or (cadence_bar and self.plan[bar].hold):
            return  # the final bar holds its tonic
        prev = mel.pitches[-1]
        same = self.pitch == prev
        if sh.repeat_nats:
            bonus[same] -= sh.repeat_nats
        if sh.max_run and len(mel.pitches) >= sh.max_run and all(p == prev for p in mel.pitches[-sh.max_run:]):
            if (m & ~same & (self.pitch >= 0)).any():
                m &= ~same
        if sh.span is not None and sh.span_nats and bar > 0:  # the opening bar keeps to its tonic lean
            target, most = sh.span
            lo, hi = min(mel.pitches), max(mel.pitches)
            p = self.pitch
            new_span = np.maximum(hi, p) - np.minimum(lo, p)
            isp = p >= 0
            short = max(0, target - (hi - lo)) / max(target, 1)
            widen = isp & ((p > hi) | (p < lo)) & (new_span <= target) & (np.abs(p - prev) <= sh.reach)
            bonus[widen] += sh.span_nats * short
            over = isp & (new_span > most)
            bonus[over] -= sh.span_nats * (new_span[over] - most)

    def _next_tail_start(self, bar: int, pos: int, pitch: int) -> int | None:
        """Where (sixteenths from this bar's start) the tail this note at ``pos`` would sound into
        begins, when the note is not one of that tail's tones; None when no tail constrains it."""
        longest = int(self.dur.max())
        for k in range(0, (pos + longest) // self.bar_len + 1):  # the bars a held note may reach
            gd = self._tail(bar + k)
            start = k * self.bar_len + self.tail_start
            if gd is not None and start > pos and pitch % 12 not in gd.tail:
                return start
        return None


def nucleus(logits, top_p: float, gen):
    import torch

    probs = torch.softmax(logits, -1)
    sp, si = probs.sort(-1, descending=True)
    cum = sp.cumsum(-1)
    drop = cum - sp > top_p
    sp = sp.masked_fill(drop, 0.0)
    choice = torch.multinomial(sp / sp.sum(-1, keepdim=True), 1, generator=gen)
    return si.gather(-1, choice).squeeze(-1)


def _reprime(model, seqs: list[list[int]], header_len: int, limit: int):
    """Past the context limit: keep the header and the most recent half window, re-run it."""
    import torch

    windows = [s[:header_len] + s[-(limit // 2):] for s in seqs]
    logits, state = model.start(torch.tensor(windows))
    return logits, state, len(windows[0])


class _Melody:
    """Running top-line history of one row: recent pitches and onsets for n-gram blocking."""

    def __init__(self, bar_len: int) -> None:
        self.bar_len = bar_len
        self.pitches: list[int] = []
        self.onsets: list[int] = []
        self.bar = 0
        self._pending_onset: int | None = None

    @classmethod
    def from_tokens(cls, vocab: Vocab, tokens: list[int], bar_len: int) -> "_Melody":
        m = cls(bar_len)
        for t in tokens[5:]:  # after the header
            m.observe(vocab, t)
        return m

    def observe(self, vocab: Vocab, t: int) -> None:
        name = vocab.names[t]
        if name == "BAR":
            self.bar += 1
        elif name.startswith("POS_"):
            self._pending_onset = (self.bar - 1) * self.bar_len + int(name[4:])
        elif name.startswith("PITCH_") and self._pending_onset is not None:
            # first pitch after POS is the top line (encode sorts pitches high to low)
            self.onsets.append(self._pending_onset)
            self.pitches.append(int(name[6:]))
            self._pending_onset = None

    def blocked_pitches(self, index: NgramIndex, pos: int) -> np.ndarray | None:
        """1.0 for each pitch (MIN_PITCH..) whose melody n-gram is in the corpus, else 0."""
        need = MELODY_N  # n symbols need n+1 notes: n previous + the candidate
        if len(self.pitches) < need:
            return None
        onset = (self.bar - 1) * self.bar_len + pos
        p = np.array(self.pitches[-need:])
        o = np.array(self.onsets[-need:] + [onset])
        prev = melody_tokens(np.diff(p), np.diff(o[:-1]))  # need-1 symbols
        cands = np.arange(MIN_PITCH, MIN_PITCH + 88)
        last = melody_tokens(cands - p[-1], np.full(88, o[-1] - o[-2]))
        grams = np.concatenate([np.tile(prev, (88, 1)), last[:, None]], axis=1)
        return index.contains(hash_windows(grams)).astype(np.float32)
