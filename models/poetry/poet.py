"""The poet: form-constrained sampling from any causal LM (Hafez-style, forward).

For every line of the form plan, a batch of candidate lines is sampled with the key/value
cache of the poem so far:

* syllables are counted with CMUdict as words complete; a newline is allowed only inside the
  line's syllable range, a line that has reached its count may only take punctuation and end,
  and a candidate that overshoots is rejected;
* rhymed lines are planned around end words: the first line of a rhyme group ends in one of a
  few topic-related words that have enough rhyming partners; later lines of the group end in a
  partner of the word actually chosen. Each candidate samples its prefix to the syllables left
  by its end word, then the end word and the most likely closing punctuation are appended;
* with ``block_n`` set, a candidate whose last ``block_n`` words occur in the training corpus
  (hashed word n-gram index) is rejected while sampling;
* candidates are ranked by mean log-probability under the model, meter fit (iambic/anapestic
  tendency from CMUdict stress) and topic words used; all rejected -> bounded retries at a
  higher temperature, then the nearest miss is kept and reported.

Topic conditioning: the embedded model was trained with keyword prefixes, so the topic's own
content words and their nearest neighbours in the poet's vocabulary (sentence-encoder
similarity) become the prefix; other models get a plain-text prompt. Rhyme words are drawn
from the same topic ranking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.poetry import prosody
from models.common.causal_lm import cache_name
from models.common.errors import Cancelled, ModelFileError
from models.poetry.corpus import FUNCTION_WORDS, KW, POEM
from models.poetry.forms import FormPlan, LineSpec

FUNCTION_END = FUNCTION_WORDS


@dataclass
class PoetLM:
    """A causal LM plus what the sampler needs to know about its tokens."""

    model: object
    tokenizer: object
    name: str
    keyword_prompt: bool
    max_positions: int
    pieces: list[str] = field(repr=False, default_factory=list)
    newline: np.ndarray = field(repr=False, default=None)  # token contains a newline
    punct: np.ndarray = field(repr=False, default=None)  # no letters, no newline, not special
    banned: np.ndarray = field(repr=False, default=None)  # special tokens: never inside a line
    word_start: np.ndarray = field(repr=False, default=None)  # first char is not a letter
    cache_key: str = field(repr=False, default="past_key_values")  # "cache" from transformers 5 (causal_lm.cache_name)

    def __post_init__(self):
        self.cache_key = cache_name(self.model)
        tok = self.tokenizer
        n = int(self.model.get_output_embeddings().weight.shape[0])
        self.pieces = [tok.decode([i]) if i < len(tok) else "" for i in range(n)]
        specials = set(getattr(tok, "all_special_ids", []) or [])
        self.newline = np.array(["\n" in p for p in self.pieces])
        self.punct = np.array([bool(p) and not any(c.isalnum() for c in p) and "\n" not in p and "\ufffd" not in p
                               for p in self.pieces])
        self.banned = np.zeros(n, bool)
        self.banned[[i for i in specials if i < n]] = True
        self.banned |= np.array([p == "" or "\ufffd" in p for p in self.pieces])  # unfinished bytes
        self.punct &= ~self.banned
        self.newline &= ~self.banned
        self.word_start = np.array([bool(p) and not p[0].isalpha() for p in self.pieces])
        nl = [i for i in range(n) if self.pieces[i] == "\n"]
        self.newline_id = nl[0] if nl else int(np.flatnonzero(self.newline)[0])

    def context_cache(self, context: list[int], batch: int):
        """Read ``context`` once (batch 1) -> (key/value cache repeated for ``batch`` rows, next-token
        logits (batch, vocab)): every candidate line continues the same poem so far."""
        import torch

        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([context]), use_cache=True, logits_to_keep=1)
        past = getattr(out, self.cache_key)
        past.batch_repeat_interleave(batch)
        return past, out.logits[:, -1, :].float().repeat(batch, 1)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def continuations(self, context: list[int], texts: list[str]):
        """Every text after ``context`` in one batch over one cached read of it -> (each text's
        token ids, log-probabilities (batch, longest + 1, vocab)): row r, position k predicts
        token k of text r, and position len(text r) the token after it."""
        import torch

        enc = [self.encode(t) for t in texts]
        T = max(len(e) for e in enc)
        past, first = self.context_cache(context, len(texts))
        x = torch.tensor([e + [self.newline_id] * (T - len(e)) for e in enc])  # right padding: causal attention never looks at it
        with torch.inference_mode():
            rest = self.model(input_ids=x, **{self.cache_key: past}, use_cache=True).logits.float()
        return enc, torch.log_softmax(torch.cat([first[:, None, :], rest], 1), -1)

    def prompt(self, topic: str, keywords: list[str], form: str) -> list[int]:
        if self.keyword_prompt:
            return self.encode(f"{KW}{' '.join(keywords)}{POEM}")
        return self.encode(f"A {form if form != 'free' else 'poem'} about {topic.strip()}:\n\n")

    def nll(self, context: list[int], text: str) -> float:
        """Mean negative log-likelihood (nats/token) of ``text`` after ``context``: the fluency critic."""
        import torch

        ids = self.encode(text)
        room = self.max_positions - len(ids)
        ctx = context[-room:] if room > 0 else []
        x = torch.tensor([(ctx + ids)[-self.max_positions :]])
        with torch.inference_mode():
            logits = self.model(x).logits[0, :-1].float()
        lp = torch.log_softmax(logits, -1)
        tgt = x[0, 1:]
        k = min(len(ids), len(tgt))
        return float(-lp[-k:].gather(1, tgt[-k:, None]).mean())


def load_poet_lm(spec: str | None, weights_dir: Path) -> PoetLM:
    """``None``/``embedded`` -> models/weights/poet; ``hf:ID``, ``hf:/dir`` or ``hf:/dir#file.gguf`` -> that model."""
    from models.common.causal_lm import load_causal_lm, parse_hf_spec

    if spec in (None, "", "embedded"):
        path = weights_dir / "poet"
        if not (path / "config.json").exists():
            raise ModelFileError(f"the embedded poet is missing at {path}; run `arsnova train poetry --install`")
        model, tok = load_causal_lm(str(path), role="poet")
        name = "arsnova-poet"
    else:
        p, gguf = parse_hf_spec(spec)
        model, tok = load_causal_lm(p, gguf, role="poet")
        name = spec
    kw = KW in tok.get_vocab() and POEM in tok.get_vocab()
    n_pos = int(getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 1024))
    return PoetLM(model, tok, name, kw, min(n_pos, 1024))


@dataclass(frozen=True)
class Vocabulary:
    """The poet's content words (from the training corpus) with sentence-encoder vectors."""

    words: list[str]
    vectors: np.ndarray  # (n, d) unit rows
    rhyme_index: dict  # rhyme part -> word indices

    def rank(self, query_vec: np.ndarray) -> np.ndarray:
        return self.vectors @ query_vec

    def partners(self, word: str) -> list[int]:
        out: set[int] = set()
        for part in prosody.rhyme_parts(word):
            out.update(self.rhyme_index.get(part, ()))
        return [i for i in out if prosody.rhymes(self.words[i], word)]


def load_vocabulary(words_file: Path, encoder, cache_dir: Path | None, max_words: int = 8000) -> Vocabulary:
    """Content words known to CMUdict (so rhymes and syllables are exact), embedded once and cached."""
    data = json.loads(Path(words_file).read_text())
    words = [w for w, _ in data["words"] if prosody.phones(w) and w.isalpha()][:max_words]
    vecs = cached_vectors(encoder, words, cache_dir, "poet-words")
    index: dict[str, list[int]] = {}
    for i, w in enumerate(words):
        for part in prosody.rhyme_parts(w):
            index.setdefault(part, []).append(i)
    return Vocabulary(words, vecs, index)


@dataclass(frozen=True)
class SampleSettings:
    temperature: float = 0.9
    top_p: float = 0.95
    candidates: int = 16
    block_n: int | None = None  # reject candidates completing a corpus word n-gram
    max_line_tokens: int = 40
    retries: int = 2
    meter_weight: float = 0.6
    topic_weight: float = 0.4
    unknown_weight: float = 2.0  # penalty per share of words CMUdict does not know
    topic_ends: bool = True  # offer topic words as line endings for unrhymed lines
    sense_weight: float = 2.0  # times the sense critic's P(real) of the line in its window
    topic_need_weight: float = 1.0  # bonus for a topic word while the poem has none yet
    weak_sense: float = 0.35  # a best line below this P(real) gets another batch of candidates
    extra_batches: int = 1


@dataclass(frozen=True)
class LineResult:
    text: str
    end_word: str
    logp: float  # mean log-prob per token
    ok: bool  # met its syllable/rhyme target
    syllables: int
    sense: float = float("nan")  # the sense critic's P(real) of the line in its window


@dataclass
class Poem:
    title: str
    lines: list[str]
    stanzas: tuple[int, ...]
    keywords: list[str]
    form: str
    line_results: list[LineResult]
    rhyme_words: dict[str, list[str]]
    sources: tuple[str, ...] = ()  # the corpus sentences a rewriting poet started from
    route: str = "sample"  # "sample": constrained sampling; "rewrite rN": models/poetry/rewrite.py

    @property
    def text(self) -> str:
        out, i = [], 0
        for n in self.stanzas or (len(self.lines),):
            out.append("\n".join(self.lines[i : i + n]))
            i += n
        if i < len(self.lines):
            out.append("\n".join(self.lines[i:]))
        return "\n\n".join(out)


class Poet:
    """Writes poems to a form plan with a PoetLM, a Vocabulary and an encoder."""

    def __init__(self, lm: PoetLM, vocab: Vocabulary, encoder, corpus_index: dict | None = None,
                 lexicon=None, sense=None):
        self.lm, self.vocab, self.encoder = lm, vocab, encoder
        self.corpus_index = corpus_index or {}  # n -> NgramIndex over word ids
        self.lexicon = lexicon  # models.poetry.lexicon.Lexicon: no word outside it is sampled
        self.sense = sense  # models.poetry.sense.SenseCritic: ranks candidate lines
        self.sampled_tokens = 0  # candidate tokens sampled so far (for tokens/s in the benchmarks)
        self.sample_seconds = 0.0  # time spent sampling and scoring candidate lines

    # -- topic -----------------------------------------------------------------------------
    def topic_ranking(self, topic: str) -> tuple[np.ndarray, list[str]]:
        """Similarity of every vocabulary word to the topic, and the prefix keywords."""
        q = self.encoder([topic])[0]
        sims = self.vocab.rank(q)
        known = set(self.vocab.words)
        own = [w for w in prosody.line_words(topic) if w in known and w not in FUNCTION_END]
        near = [self.vocab.words[i] for i in np.argsort(-sims)[:20]]
        kws: list[str] = []
        for w in own + near:  # the topic's own words first, then neighbours; one word per stem
            if not any(w[:4] == k[:4] for k in kws):
                kws.append(w)
        return sims, kws[:3]

    def topic_words(self, topic: str, neighbours: int = 40) -> set[str]:
        """The topic's own content words (and their plurals) and its nearest vocabulary words:
        a poem must use at least one of them in its lines."""
        q = self.encoder([topic])[0]
        own = [w for w in prosody.line_words(topic) if w not in FUNCTION_END and len(w) > 2]
        near = [self.vocab.words[i] for i in np.argsort(-self.vocab.rank(q))[:neighbours]]
        return set(own) | {w + "s" for w in own} | {w + "es" for w in own} | set(near)

    def plan_end_words(self, sims: np.ndarray, need: int, used: set[str], rng: np.random.Generator,
                       options: int = 6, max_syllables: int = 3) -> list[str]:
        """Topic-related words with at least ``need - 1`` rhyming partners in the vocabulary."""
        order = np.argsort(-sims[:COMMON_END_WORDS])  # the vocabulary is in corpus-frequency order: rare
        out: list[str] = []                             # words ("reindeer") made lines the LM could not use
        for i in order[:600]:
            w = self.vocab.words[i]
            if w in used or w in FUNCTION_END or prosody.syllables(w) > min(3, max_syllables):
                continue
            if len([j for j in self.vocab.partners(w) if j < 2 * COMMON_END_WORDS
                    and self.vocab.words[j] not in used]) >= need - 1:
                out.append(w)
            if len(out) >= options * 2:
                break
        if len(out) > options:  # a little variety between seeds, still near the top
            keep = sorted(rng.choice(len(out), size=options, replace=False))
            out = [out[k] for k in keep]
        return out

    def partner_words(self, word: str, sims: np.ndarray, used: set[str], options: int = 8) -> list[str]:
        ps = [j for j in self.vocab.partners(word) if self.vocab.words[j] not in used
              and self.vocab.words[j] not in FUNCTION_END]
        common = [j for j in ps if j < 2 * COMMON_END_WORDS]
        ps = common or ps  # the common partners, or any partner rather than none
        ps.sort(key=lambda j: -sims[j])
        return [self.vocab.words[j] for j in ps[:options]]

    # -- writing ---------------------------------------------------------------------------
    def write(self, topic: str, plan: FormPlan, seed: int = 0, settings: SampleSettings = SampleSettings(),
              on_line: Callable[[int, str], None] | None = None, cancelled: Callable[[], bool] | None = None) -> Poem:
        import torch

        rng = np.random.default_rng(seed)
        gen = torch.Generator().manual_seed(seed)
        sims, keywords = self.topic_ranking(topic)
        prompt = self.lm.prompt(topic, keywords, plan.form)
        topic_words = {self.vocab.words[i] for i in np.argsort(-sims)[:60]} | set(keywords)
        required = self.topic_words(topic)
        lines: list[str] = []
        results: list[LineResult] = []
        group_words: dict[str, list[str]] = {}
        refrains: dict[str, str] = {}
        used: set[str] = set()
        need = _group_sizes(plan)
        for li, spec in enumerate(plan.lines):
            if cancelled and cancelled():
                raise Cancelled()
            if spec.refrain and spec.refrain in refrains:
                line = refrains[spec.refrain]
                lines.append(line)
                results.append(LineResult(line, prosody.last_word(line), results[-1].logp if results else 0.0, True,
                                          prosody.line_syllables(line)))
                continue
            ends = None
            if spec.rhyme:
                if spec.rhyme in group_words:
                    ends = self.partner_words(group_words[spec.rhyme][0], sims, used)
                else:
                    ends = self.plan_end_words(sims, need[spec.rhyme], used, rng)
                ends = ends or None
            elif settings.topic_ends:  # unrhymed: half the candidates end on a topic word (Hafez)
                ends = self.plan_end_words(sims, 1, used, rng, options=3, max_syllables=spec.syllables[0] - 1)
                ends = (ends + [None] * len(ends)) if ends else None
            context = prompt + self.lm.encode("".join(ln + "\n" for ln in lines))
            # the line that ends the poem (a villanelle ends on its second refrain) closes a sentence
            rest = plan.lines[li + 1 :]
            final = all(sp.refrain and (sp.refrain in refrains or sp.refrain == spec.refrain) for sp in rest) or bool(
                spec.refrain and spec.refrain == plan.lines[-1].refrain)
            missing = None if any(w in required for ln in lines for w in prosody.line_words(ln)) else required
            res = self._best_line(context, prompt, spec, ends, lines, plan.foot, topic_words, settings, gen, rng,
                                  final=final, need=missing)
            lines.append(res.text)
            results.append(res)
            if spec.rhyme:
                group_words.setdefault(spec.rhyme, []).append(res.end_word)
            if spec.refrain:
                refrains[spec.refrain] = res.text
            used.add(res.end_word)
            if on_line:
                on_line(li, res.text)
        title = self.title(topic, lines)
        return Poem(title, lines, plan.stanzas, keywords, plan.form, results, group_words)

    def _best_line(self, context, prompt, spec: LineSpec, ends, lines, foot, topic_words, s: SampleSettings,
                   gen, rng, final: bool = False, need: set | None = None) -> LineResult:
        """The best of a batch of candidates by LM probability, sense, meter and topic; a weak best
        (sense below ``weak_sense``, or no topic word while one is needed) earns another batch."""
        prev_words = [w for ln in lines for w in prosody.line_words(ln)]

        def batch(temp: float) -> list[LineResult]:
            best: list[LineResult] = []
            for _attempt in range(s.retries + 1):
                cands = self._sample_lines(context, prompt, spec, ends, prev_words, s, temp, gen, rng, final)
                good = [c for c in cands if c.ok]
                if good:
                    return self._with_sense(lines, good)
                best = best or cands
                temp += 0.2
            return self._with_sense(lines, best)

        def has_topic(c: LineResult) -> bool:
            return bool(need) and any(w in need for w in prosody.line_words(c.text))

        def score(c: LineResult) -> float:
            sc = c.logp
            if c.sense == c.sense:  # not NaN: a critic is loaded
                sc += s.sense_weight * c.sense
            if has_topic(c):
                sc += s.topic_need_weight
            if foot:
                sc += s.meter_weight * prosody.meter_fit(c.text, foot)
            ws = prosody.line_words(c.text)
            sc += s.topic_weight * sum(w in topic_words for w in ws) / max(1, len(ws))
            sc -= 0.5 * sum(w in prev_words for w in ws if w not in FUNCTION_END) / max(1, len(ws))
            known = self.lexicon.known if self.lexicon is not None else prosody.phones
            sc -= s.unknown_weight * sum(not known(w) for w in ws) / max(1, len(ws))  # not a word
            if ws and ws[-1] in FUNCTION_END:  # "…and that," is no way to end a line
                sc -= 0.5
            sc -= 2.0 * len(_PUNCT_RUN.findall(c.text))  # ". . . . ." and ",--;" runs
            if not c.ok:
                sc -= 100 + abs(c.syllables - spec.syllables[0])
            return sc

        best = batch(s.temperature)
        for _extra in range(s.extra_batches):
            top = max(best, key=score, default=None)
            weak = top is None or not top.ok or (top.sense == top.sense and top.sense < s.weak_sense)
            if need and final and not any(has_topic(c) for c in best):
                weak = True
            if not weak:
                break
            best = best + batch(s.temperature + 0.1)
        if not best:
            return LineResult("", "", -99.0, False, 0)
        if need and final and any(has_topic(c) and c.ok for c in best):  # the poem's last chance for its topic
            best = [c for c in best if has_topic(c) and c.ok]

        return max(best, key=score)

    def _with_sense(self, lines: list[str], cands: list[LineResult]) -> list[LineResult]:
        if self.sense is None or not cands:
            return cands
        import time

        from dataclasses import replace as _replace

        t0 = time.perf_counter()
        p = self.sense.candidates(lines, [c.text for c in cands])
        self.sample_seconds += time.perf_counter() - t0
        return [_replace(c, sense=float(v)) for c, v in zip(cands, p)]

    def _sample_lines(self, context, prompt, spec: LineSpec, ends, prev_words, s: SampleSettings, temperature: float,
                      gen, rng, final: bool = False) -> list[LineResult]:
        import time

        t0 = time.perf_counter()
        try:
            return self._sample_lines_timed(context, prompt, spec, ends, prev_words, s, temperature, gen, rng, final)
        finally:
            self.sample_seconds += time.perf_counter() - t0

    def _sample_lines_timed(self, context, prompt, spec: LineSpec, ends, prev_words, s: SampleSettings,
                            temperature: float, gen, rng, final: bool = False) -> list[LineResult]:
        import torch

        lm = self.lm
        B = s.candidates
        room = lm.max_positions - s.max_line_tokens - 8
        if len(context) > room:  # keep the prompt and the most recent lines
            tail = context[len(prompt):][-(room - len(prompt)):]
            context = prompt + tail
        lo, hi = spec.syllables
        targets = rng.integers(lo, hi + 1, size=B)
        end_for = [ends[i % len(ends)] for i in range(B)] if ends else [None] * B
        forced_end = any(e is not None for e in end_for)
        prefix_target = np.array([t - (prosody.syllables(e) if e else 0) for t, e in zip(targets, end_for)])
        texts = [""] * B
        toks: list[list[int]] = [[] for _ in range(B)]
        done = np.zeros(B, bool)
        dead = np.zeros(B, bool)
        index = self.corpus_index.get(s.block_n) if s.block_n else None
        past, first = self.lm.context_cache(context, B)
        x = None
        banned = torch.from_numpy(lm.banned)
        newline = torch.from_numpy(lm.newline)
        allowed_end = torch.from_numpy(lm.newline | lm.punct)
        continuation = torch.from_numpy(~lm.word_start)
        with torch.inference_mode():
            for _step in range(s.max_line_tokens):
                if x is None:  # the context was read once, for all candidates
                    logits = first.clone() / temperature
                else:
                    out = lm.model(input_ids=x, **{lm.cache_key: past}, use_cache=True, logits_to_keep=1)
                    past = getattr(out, lm.cache_key)
                    logits = out.logits[:, -1, :].float() / temperature
                logits[:, banned] = -float("inf")
                for r in range(B):
                    if done[r] or dead[r]:
                        continue
                    closed, partial = _count(texts[r])
                    has_words = bool(prosody.line_words(texts[r]))
                    if end_for[r] is None:
                        continues = continuation if texts[r][-1:].isalpha() else torch.zeros_like(continuation)
                        if partial >= prefix_target[r] and has_words:  # full: finish the word, punctuate, end
                            logits[r, ~(allowed_end | continues)] = -float("inf")
                        if not (has_words and lo <= partial <= hi):
                            logits[r, newline] = -float("inf")
                    else:
                        logits[r, newline] = -float("inf")
                probs = torch.softmax(logits, -1)
                nxt = sample_nucleus(probs, s.top_p, gen)
                nxt[torch.from_numpy(done | dead)] = lm.newline_id  # finished rows just idle
                for r in range(B):
                    if done[r] or dead[r]:
                        continue
                    t = int(nxt[r])
                    if self.lexicon is not None and not self._in_lexicon(texts[r], lm.pieces[t]):
                        t = self._resample_in_lexicon(probs[r], texts[r], t, s.top_p, gen)
                        if t < 0:
                            dead[r] = True
                            continue
                        nxt[r] = t
                    piece = lm.pieces[t]
                    if end_for[r] is not None and lm.word_start[t]:
                        _, complete = _count(texts[r])  # a word-start token completes the last word
                        if complete == prefix_target[r] and (prefix_target[r] == 0 or prosody.line_words(texts[r])):
                            done[r] = True  # prefix complete: the end word goes here
                            continue
                        if complete > prefix_target[r]:
                            dead[r] = True
                            continue
                    if lm.newline[t]:
                        texts[r] += piece.split("\n")[0]
                        done[r] = True
                        continue
                    texts[r] += piece
                    toks[r].append(t)
                    if lm.word_start[t] and index is not None and copies(prev_words, texts[r], index, closed_only=True):
                        dead[r] = True
                    if end_for[r] is None:
                        closed, _ = _count(texts[r])
                        if closed > hi:
                            dead[r] = True
                self.sampled_tokens += B  # every row goes through the model at each step, as in generate()
                if (done | dead).all():
                    break
                x = nxt[:, None]
        results = []
        for r in range(B):
            if dead[r] or not done[r]:
                continue
            line = texts[r].strip()
            if end_for[r] is not None:  # the end word follows the prefix's last word, not its full stop
                line = (line.rstrip(TRAILING) + " " + end_for[r]).strip()
            if not prosody.line_words(line):
                continue
            results.append(line)
        if final:  # the poem ends on a finished sentence: its last line gets a terminal mark
            results = [ln.rstrip(TRAILING) for ln in results]
            results = [ln for ln in results if prosody.line_words(ln)]
        scored = self._score_lines(context, results, spec, end_for_any=forced_end or final, index=index,
                                   prev_words=prev_words, final=final)
        return scored

    def _in_lexicon(self, text: str, piece: str) -> bool:
        """Would ``text + piece`` still consist of lexicon words (the last one possibly unfinished)?"""
        piece = piece.split("\n")[0] + (" " if "\n" in piece else "")
        if any(c.isalpha() and not c.isascii() for c in piece):  # "Kauśish": CMUdict spells in ASCII
            return False
        new = text + piece
        old_words = prosody.line_words(text)
        old_done = len(old_words) - (1 if text[-1:].isalpha() else 0)
        new_words = prosody.line_words(new)
        partial = new_words[-1] if new_words and new[-1:].isalpha() else None
        closed = new_words[old_done : len(new_words) - (partial is not None)]
        if any(not self.lexicon.known(w) for w in closed):
            return False
        return partial is None or self.lexicon.prefix_ok(partial)

    def _resample_in_lexicon(self, probs, text: str, bad: int, top_p: float, gen, tries: int = 8) -> int:
        """Another token from the row's distribution with the refused ones removed; -1 if none fits."""
        import torch

        p = probs.clone()
        for _ in range(tries):
            p[bad] = 0.0
            if float(p.sum()) <= 0:
                return -1
            bad = int(sample_nucleus((p / p.sum())[None], top_p, gen)[0])
            if self._in_lexicon(text, self.lm.pieces[bad]):
                return bad
        return -1

    def _score_lines(self, context, lines: list[str], spec: LineSpec, end_for_any: bool, index, prev_words,
                     final: bool = False) -> list[LineResult]:
        """Batched log-probability of each finished line; rhymed lines get their best closing mark
        (a terminal one, . ! ?, on the poem's last line)."""
        if not lines:
            return []
        lm = self.lm
        enc, lp = lm.continuations(context, lines)
        out = []
        marks = {".", "!", "?"} if final else {",", ".", ";", "!", "?", ":"}
        closers = [(t, lm.pieces[t]) for t in range(len(lm.pieces)) if lm.pieces[t] in marks]
        for r, (ln, e) in enumerate(zip(lines, enc)):
            tok_lp = [float(lp[r, k, e[k]]) for k in range(len(e))]
            last = lp[r, len(e)]
            text = ln
            if end_for_any and ln[-1:].isalpha():
                opts = ([] if final else [(float(last[lm.newline_id]), "")]) + [(float(last[t]), p) for t, p in closers]
                best_lp, mark = max(opts)
                text = ln + mark
                tok_lp.append(best_lp)
            else:
                tok_lp.append(float(last[lm.newline_id]))
            syl = prosody.line_syllables(text)
            ok = spec.syllables[0] <= syl <= spec.syllables[1]
            if index is not None and copies(prev_words, text, index, closed_only=False):
                ok = False
            if _PUNCT_RUN.search(text):  # ". . . . ." is no line of verse: another candidate, or another batch
                ok = False
            out.append(LineResult(text, prosody.last_word(text), float(np.mean(tok_lp)), ok, syl))
        return out

    def title(self, topic: str, lines: list[str]) -> str:
        """The phrase of the poem (1-3 words ending in a content word) closest to the topic and the poem."""
        cands: dict[str, None] = {}
        vocab = set(self.vocab.words)
        for ln in lines:
            ws = prosody.line_words(ln)
            for j, w in enumerate(ws):
                if w not in vocab or w in FUNCTION_END:
                    continue
                for k in (1, 2, 3):
                    span = ws[max(0, j - k + 1) : j + 1]
                    if span and span[0] not in FUNCTION_END - {"the"} and len(span) == min(k, j + 1):
                        cands[" ".join(span)] = None
        # the phrases whose last word is nearest the topic (a cheap look-up), then the encoder decides
        sims = dict(zip(self.vocab.words, self.vocab.rank(self.encoder([topic])[0]))) if cands else {}
        cands_l = sorted(cands, key=lambda c: -sims.get(c.split()[-1], -1.0))[:16]
        if not cands_l:  # words only: a topic may hold control characters or markup
            return " ".join(prosody.line_words(topic)[:6]).capitalize()[:60] or "Untitled"
        vec = self.encoder([topic + ". " + " ".join(lines)] + cands_l)
        best = cands_l[int(np.argmax(vec[1:] @ vec[0]))]
        return " ".join(w if w in ("of", "and", "the") and i else w.capitalize() for i, w in enumerate(best.split()))


COMMON_END_WORDS = 3000  # planned line endings come from the most frequent content words
_PUNCT_RUN = re.compile(r"(?:[.,;:!?\u2014-]\s*){3,}")
TRAILING = " \t.,;:!?-\u2014\u2013\"'\u201c\u201d\u2018\u2019()"


def _group_sizes(plan: FormPlan) -> dict[str, int]:
    from models.poetry.forms import rhyme_groups

    return rhyme_groups(plan)


def _count(text: str) -> tuple[int, int]:
    """(syllables of completed words, syllables counting the unfinished last word too)."""
    ws = prosody.line_words(text)
    total = sum(prosody.syllables(w) for w in ws)
    if ws and text[-1:].isalpha():
        return total - prosody.syllables(ws[-1]), total
    return total, total


def copies(prev_words: list[str], text: str, index, closed_only: bool) -> bool:
    """Do the last ``index.n`` completed words (across line breaks) form a corpus n-gram?"""
    from models.poetry.corpus import word_ids

    ws = prosody.line_words(text)
    if closed_only and ws and text[-1:].isalpha():
        ws = ws[:-1]
    if not ws:
        return False
    if closed_only:  # only the n-gram the last completed word closes
        seq = (prev_words + ws)[-index.n :]
    else:  # every n-gram that ends inside this line
        seq = prev_words[-(index.n - 1) :] + ws if index.n > 1 else ws
    if len(seq) < index.n:
        return False
    return bool(index.copied(word_ids(" ".join(seq))).any())


def sample_nucleus(probs, p: float, gen, k: int = 1024):
    """One token per row from the top-p nucleus. The nucleus is found and sampled among the top
    ``k`` tokens (a partial sort, and a multinomial over k instead of the vocabulary); rows whose
    top ``k`` hold less than ``p`` of the mass use the whole sorted vocabulary. Same distribution
    as filtering the full vector (tested)."""
    import torch

    k = min(k, probs.shape[-1])
    sp, si = probs.topk(k, dim=-1)
    w = sp * (sp.cumsum(-1) - sp < p)
    nxt = si.gather(1, torch.multinomial(w, 1, generator=gen))[:, 0]
    short = sp.sum(-1) < p
    if bool(short.any()):
        fp, fi = torch.sort(probs[short], descending=True)
        fw = fp * (fp.cumsum(-1) - fp < p)
        nxt[short] = fi.gather(1, torch.multinomial(fw, 1, generator=gen))[:, 0]
    return nxt


def cached_vectors(encoder, texts: list[str], cache_dir: Path | None, stem: str) -> np.ndarray:
    import hashlib
    import io

    from models.common.files import write_atomic

    key = hashlib.sha1(("\x00".join(texts) + str(getattr(encoder, "path", ""))).encode()).hexdigest()[:16]
    cache = Path(cache_dir) / f"{stem}-{key}.npy" if cache_dir else None
    if cache and cache.exists():
        return np.load(cache, allow_pickle=False)
    vecs = encoder(texts, batch_size=128).astype(np.float32)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.save(buf, vecs)
        write_atomic(cache, buf.getvalue())
    return vecs
