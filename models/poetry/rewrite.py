"""The rewriting poet: imitation to novelty by retrieving real sentences and rewriting them.

A 3.4M-parameter LM samples lines that scan and rhyme but rarely make sense (issue 20); the
corpus it learned from is full of sentences that do. This poet starts from those:

1. **Retrieve.** Whole sentences of the poet's own training passages (1-4 lines that begin after
   a sentence end and end on one; ``retrieval_units.npz``, models/poetry/training/units.py) that
   hold the topic's words or their embedding neighbours, re-ranked by the sentence encoder's
   similarity to the topic; per segment also the next sentence of the passage just used, units
   whose ends already rhyme with an open group, and random units when nothing on the topic fits.
2. **Fit.** The poem's lines are filled left to right, a unit at a time, with units whose line
   count fits the stanza (refrains are one-line sentences) and whose lines substitution can bring
   to the plan's syllables and rhymes.
3. **Rewrite.** Content words (not function words) are replaced with words the LM expects there,
   the word's embedding neighbours and the topic's words, all of the word's shape
   (-s/-ed/-ing/-ly/-est); one batched forward scores every single-word variant and a small
   dynamic programme picks one choice per word so the line has its planned syllables, its end
   word rhymes with its group, and the change is as likely as possible. Which words *must* change
   is set by novelty: round 0 changes a word in every 5-word window the corpus has and one word
   of every line (no copied 5-gram, no line copied whole), round 1 in every 4-word window, round 2
   and later every content word that is not a topic word; a line still closing a corpus 5-gram is
   refused in every round. While the poem lacks the request's own words, a unit must take one.
   The rewritten units of a segment are judged by the sense critic in their window, topic
   similarity and the LM's cost of the rewrite, and the best kept. When no unit fits a segment,
   the sampling poet (models/poetry/poet.py) writes the poem.

What it copies: the syntax, the function words and the untouched content words of real
sentences of the training corpus (the source units are recorded in ``Poem.sources``); novelty
is measured against that same corpus by the word n-gram indexes (5-gram copy rate, lines copied
whole), exactly as for the sampling poet. Measured in models/weights/POETRY_CARD.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from models.common.errors import Cancelled
from models.poetry import prosody
from models.poetry.corpus import FUNCTION_WORDS, ids_of, words
from models.poetry.forms import FormPlan, rhyme_groups
from models.poetry.poet import LineResult, Poem, SampleSettings

FALLBACK = SampleSettings(temperature=0.8, top_p=0.9, candidates=12)  # write_poem's round 0 for the sampler
UNITS_FILE = "retrieval_units.npz"  # beside the embedded poet (models/poetry/training/units.py)
_TOKEN = re.compile(r"([A-Za-z]+(?:'[A-Za-z]+)*)")


@dataclass(frozen=True)
class RewriteSettings:
    round: int = 0  # words that change: 0, one in every corpus 5-gram; 1, in every 4-gram; 2+, every non-topic content word
    pool: int = 100  # units re-ranked by the sentence encoder
    units_per_segment: int = 3  # units rewritten and judged by the sense critic for each segment
    neighbours: int = 12  # embedding neighbours offered for a content word
    topic_choices: int = 8  # topic words offered for a content word
    max_syllable_gap: int = 3  # a unit line may be this far from the plan (substitution closes it)
    any_units: int = 6000  # units drawn from the whole store when the topic's units do not fit
    spare_partners: int = 5  # a rhyme group opens on a word with this many more partners than it needs
    max_variants: int = 72  # single-word variants of a line scored in one forward
    max_tries: int = 12  # units tried for a segment once one has been rewritten (4x while none has)
    lm_choices: int = 10  # words the LM expects at the position, offered for a content word
    topic_weight: float = 1.5  # per unit of a substitute's topic similarity
    keep_weight: float = 1.0  # per unit of a substitute's similarity to the word it replaces
    sense_weight: float = 2.0
    relevance_weight: float = 1.0
    gap_cost: float = 0.1  # per syllable a unit's lines are off the plan (made up by substitution)
    native_rhyme: float = 0.3  # per line whose source already rhymes with its group
    follow_bonus: float = 0.6  # the next sentence of the passage just used (sense carries across segments)
    own_words: bool = True  # the topic a poem must carry is the request's own words (else any near word)
    lm_weight: float = 1.0  # per nat/token the rewrite costs against its source


@dataclass(frozen=True)
class UnitStore:
    """Whole-sentence units of the training passages with a content word -> units index."""

    texts: np.ndarray  # (n,) lines joined by newlines
    syllables: np.ndarray  # (n,) per-line counts, comma-joined
    keys: dict  # word -> (start, end) in ids
    ids: np.ndarray
    passage: np.ndarray  # (n,) the training passage each unit comes from

    def follows(self, u: int) -> int | None:
        """The next sentence of u's passage, if the store holds it."""
        v = u + 1
        return v if v < len(self.texts) and self.passage[v] == self.passage[u] else None

    def with_word(self, w: str) -> np.ndarray:
        s = self.keys.get(w)
        return self.ids[s[0] : s[1]] if s else self.ids[:0]

    def lines(self, u: int) -> list[str]:
        return str(self.texts[u]).split("\n")

    def line_syllables(self, u: int) -> list[int]:
        return [int(x) for x in str(self.syllables[u]).split(",")]


def load_unit_store(home: Path) -> UnitStore | None:
    path = Path(home) / UNITS_FILE
    if not path.exists():
        return None
    z = np.load(path, allow_pickle=False)
    keys, off = z["keys"].tolist(), z["offsets"]
    return UnitStore(z["texts"], z["syllables"], {k: (int(off[i]), int(off[i + 1])) for i, k in enumerate(keys)},
                     z["ids"], z["passage"] if "passage" in z else np.arange(len(z["texts"])))


def _shape(w: str) -> str:
    """A crude part-of-speech stand-in: substitutes keep the word's inflection."""
    for suf in ("ing", "ed", "est", "ly", "s"):
        if w.endswith(suf) and len(w) > len(suf) + 2 and not w.endswith("ss"):
            return suf
    return ""


def _a_an(text: str) -> str:
    text = re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", lambda m: m.group(1) + "n ", text)
    return re.sub(r"\b([Aa])n (?=[b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z])", lambda m: m.group(1) + " ", text)


class RewritingPoet:
    """Same face as models.poetry.poet.Poet (``write``, ``lm``, ``title``…); writes by rewriting."""

    def __init__(self, poet, store: UnitStore):
        self.poet, self.store = poet, store
        self.lm, self.vocab, self.encoder = poet.lm, poet.vocab, poet.encoder
        self.lexicon, self.sense, self.corpus_index = poet.lexicon, poet.sense, poet.corpus_index
        self._word_row = {w: i for i, w in enumerate(self.vocab.words)}
        self._pools: dict[str, list[tuple[int, float]]] = {}
        self.why: dict[str, int] = {}  # why line rewrites failed, counted (the bench and tuning read it)
        self._shapes: dict[str, set] = {}
        self._ends: dict | None = None
        self._last: dict = {}  # (topic, plan) -> round 0's (first line, unit) per segment  # (last word, line in unit) -> units  # rhyme word -> the shapes of its partners

    def __getattr__(self, name):  # topic_words, topic_ranking, sampled_tokens…: the sampling poet's
        if "poet" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["poet"], name)

    # -- 1. retrieve -----------------------------------------------------------------------
    def retrieve(self, topic: str, sims: np.ndarray, pool: int) -> list[tuple[int, float]]:
        """(unit, cosine to the topic) for the units richest in the topic's words, best first."""
        key = f"{topic}\x00{pool}"
        if key in self._pools:
            return self._pools[key]
        own = [w.removesuffix("'s") for w in words(topic) if w not in FUNCTION_WORDS and len(w) > 2]
        weights = {w: 1.0 for w in own} | {w + "s": 1.0 for w in own}
        for i in np.argsort(-sims)[:40]:
            weights.setdefault(self.vocab.words[i], float(sims[i]))
        lex: dict[int, float] = {}
        for w, wt in weights.items():
            for u in self.store.with_word(w)[:3000]:
                lex[int(u)] = lex.get(int(u), 0.0) + wt
        top = sorted(lex, key=lambda u: (-lex[u], u))[:pool]
        if not top:
            return []
        vecs = self.encoder([str(self.store.texts[u]) for u in top])
        q = self.encoder([topic])[0]
        out = sorted(zip(top, (vecs @ q).tolist()), key=lambda x: -x[1])
        if len(self._pools) > 16:
            self._pools.clear()
        self._pools[key] = out
        return out

    # -- the poem ------------------------------------------------------------------------------
    def write(self, topic: str, plan: FormPlan, seed: int = 0, settings=None,
              on_line: Callable[[int, str], None] | None = None, cancelled: Callable[[], bool] | None = None) -> Poem:
        s = settings if isinstance(settings, RewriteSettings) else RewriteSettings()
        rng = np.random.default_rng(seed)
        sims, keywords = self.poet.topic_ranking(topic)
        topic_set = self.poet.topic_words(topic)
        own = {w for w in topic_set if w in words(topic) or w.removesuffix("s") in words(topic)
               or w.removesuffix("es") in words(topic) or w + "'s" in words(topic)}  # the request's own words
        topics = ({w for w in own if prosody.phones(w)} if s.own_words else set(topic_set), topic_set)
        prompt = self.lm.prompt(topic, keywords, plan.form)
        pool = self.retrieve(topic, sims, s.pool)
        need = rhyme_groups(plan)
        st = _State([], [], {}, {}, set(), [], [])
        memo = (topic, plan)  # later rounds rewrite round 0's units further, where they can
        i = 0
        while i < len(plan.lines):
            if cancelled and cancelled():
                raise Cancelled()
            spec = plan.lines[i]
            if spec.refrain and spec.refrain in st.refrains:
                line = st.refrains[spec.refrain]
                st.lines.append(line)
                st.results.append(LineResult(line, prosody.last_word(line), 0.0, True, prosody.line_syllables(line)))
                i += 1
                continue
            room = self._room(plan, i)
            best, tried = None, 0
            again = [(u, 1.0) for k, u in self._last.get(memo, ()) if k == i and s.round > 0]
            options = again or self._candidates(pool, plan, i, room, st, s, rng)
            for n_try, (u, rel) in enumerate(options):
                if tried >= s.units_per_segment or (best is not None and n_try >= s.max_tries) or n_try >= 4 * s.max_tries:
                    break
                got = self._rewrite_unit(u, plan, i, st, sims, topics, prompt, need, s)
                if got is None:
                    if again and n_try == 0:  # the round-0 unit cannot be rewritten this far: search afresh
                        options += self._candidates(pool, plan, i, room, st, s, rng)
                    continue
                tried += 1
                lines, results, damage = got
                sense = self._sense(st.lines, lines)
                score = s.sense_weight * float(np.mean(sense)) + s.relevance_weight * rel + s.lm_weight * damage
                if best is None or score > best[0]:
                    best = (score, u, [replace(r, sense=float(v)) for r, v in zip(results, sense)])
                if again:
                    break
            if best is None:  # nothing fits here: the sampling poet writes this poem
                self._fail("no unit fits a segment: the sampling poet wrote the poem")
                return self.poet.write(topic, plan, seed=seed, settings=FALLBACK, on_line=on_line, cancelled=cancelled)
            _, u, results = best
            st.chosen.append((i, u))
            st.sources.append(str(self.store.texts[u]))
            st.used_units.add(u)
            for k, r in enumerate(results):
                sp = plan.lines[i + k]
                st.lines.append(r.text)
                st.results.append(r)
                if sp.rhyme:
                    st.groups.setdefault(sp.rhyme, []).append(r.end_word)
                if sp.refrain:
                    st.refrains[sp.refrain] = r.text
                if on_line:
                    on_line(i + k, r.text)
            i += len(results)
        if s.round == 0:
            self._last[memo] = st.chosen
        title = self.poet.title(topic, st.lines)
        return Poem(title, st.lines, plan.stanzas, keywords, plan.form, st.results, st.groups,
                    sources=tuple(st.sources), route=f"rewrite r{s.round}")

    def _candidates(self, pool, plan, i: int, room: int, st, s: RewriteSettings, rng) -> list[tuple[int, float]]:
        """Units for the segment at line i, best first: the topic's, those that rhyme already
        with an open group, and (when those do not fit) any unit of the store."""
        nxt = self.store.follows(st.chosen[-1][1]) if st.chosen else None
        scored = (self._unit_options([(nxt, s.follow_bonus)] if nxt is not None else [], plan, i, room, st, s, rng)
                  + self._unit_options(self._rhyming_units(plan, i, room, st), plan, i, room, st, s, rng)
                  + self._unit_options(pool, plan, i, room, st, s, rng)
                  + self._unit_options(self._any_units(rng, s), plan, i, room, st, s, rng))
        seen, out = set(), []
        for sc, u, rel in sorted(scored, reverse=True):
            if u not in seen:
                seen.add(u)
                out.append((u, rel))
        return out

    def _rhyming_units(self, plan, i: int, room: int, st) -> list[tuple[int, float]]:
        """Units whose line ends already rhyme with the first open rhyme group of this segment
        (a substituted end word is the commonest break in sense, so a natural rhyme is worth most)."""
        for j in range(room):
            group = st.groups.get(plan.lines[i + j].rhyme or "")
            if group:
                break
        else:
            return []
        if self._ends is None:
            self._ends = {}
            for u in range(len(self.store.texts)):
                for k, ln in enumerate(self.store.lines(u)):
                    w = (words(ln) or [""])[-1]
                    self._ends.setdefault((w, k), []).append(u)
        out = []
        for p in self.vocab.partners(group[0]):
            if self.vocab.words[p] not in group:
                out += [(u, 0.0) for u in self._ends.get((self.vocab.words[p], j), ())]
        return out

    def _any_units(self, rng, s: RewriteSettings) -> list[tuple[int, float]]:
        pick = rng.choice(len(self.store.texts), size=min(s.any_units, len(self.store.texts)), replace=False)
        return [(int(u), 0.0) for u in pick]

    def _room(self, plan: FormPlan, i: int) -> int:
        """How many lines a unit starting at line i may fill: to the stanza's end, never over a
        refrain (a refrain's first line is a one-line sentence, so it can stand again alone)."""
        if plan.lines[i].refrain:
            return 1
        bounds, acc = [], 0
        for n in plan.stanzas or (len(plan.lines),):
            acc += n
            bounds.append(acc)
        end = next((b for b in bounds if b > i), len(plan.lines))
        k = 1
        while k < 4 and i + k < end and not plan.lines[i + k].refrain:
            k += 1
        return k

    def _unit_options(self, pool, plan, i, room, st, s: RewriteSettings, rng) -> list[tuple[int, float]]:
        scored = []
        for u, rel in pool:
            if u in st.used_units:
                continue
            syl = self.store.line_syllables(u)
            k = len(syl)
            if k > room:
                continue
            gaps = [max(plan.lines[i + j].syllables[0] - n, n - plan.lines[i + j].syllables[1], 0)
                    for j, n in enumerate(syl)]
            if max(gaps) > s.max_syllable_gap:
                continue
            src_lines = self.store.lines(u)
            if not all(self._can_rhyme(ln, st.groups.get(plan.lines[i + j].rhyme or "")) for j, ln in enumerate(src_lines)):
                continue
            reach = [self._reach(ln) for ln in src_lines]  # what substitution can make of each line
            if any(r[0] > plan.lines[i + j].syllables[1] or r[1] < plan.lines[i + j].syllables[0]
                   for j, r in enumerate(reach)):
                continue
            # longer units carry more sense across lines, rhymes already there keep it; a little
            # seed noise varies the choice
            native = sum(bool(st.groups.get(plan.lines[i + j].rhyme or "")) and prosody.rhymes(
                (words(ln) or [""])[-1], st.groups[plan.lines[i + j].rhyme][0]) for j, ln in enumerate(src_lines))
            scored.append((rel - s.gap_cost * sum(gaps) + 0.03 * k + s.native_rhyme * native
                           + 0.02 * float(rng.gumbel()), u, rel))
        scored.sort(reverse=True)
        return scored[: 4 * s.max_tries]

    def _can_rhyme(self, line: str, group) -> bool:
        """Can this source line end on a partner of its rhyme group's word (already, or by substitution)?"""
        if not group:
            return True
        w = (words(line) or [""])[-1]
        if prosody.rhymes(w, group[0]):
            return True
        if not _content(w):
            return False
        key = group[0]
        if key not in self._shapes:
            self._shapes[key] = {_shape(self.vocab.words[j]) for j in self.vocab.partners(key)}
        return _shape(w) in self._shapes[key]

    def _reach(self, line: str) -> tuple[int, int]:
        """The fewest and most syllables substituting its content words (1-3 syllables each) can give."""
        fixed, slots = 0, 0
        for w in words(line):
            if _content(w):
                slots += 1
            else:
                fixed += prosody.syllables(w)
        return fixed + slots, fixed + 3 * slots

    def _sense(self, before: list[str], lines: list[str]) -> np.ndarray:
        if self.sense is None:
            return np.full(len(lines), 0.5)
        return self.sense.windows(self.sense.line_windows(before + lines)[len(before) :])

    # -- 3. rewrite ------------------------------------------------------------------------------
    def _rewrite_unit(self, u: int, plan, i: int, st, sims, topics, prompt, need, s: RewriteSettings):
        """``topics``: (the request's own words, all topic words)."""
        own, topic_set = topics
        lines, results, damage = [], [], []
        groups = {k: list(v) for k, v in st.groups.items()}
        src_lines = self.store.lines(u)
        # while the poem has no topic word, a unit that brings none gets one on its first line
        lacking = bool(own) and not any(w in own for ln in st.lines + src_lines for w in words(ln))
        for j, src in enumerate(src_lines):
            spec = plan.lines[i + j]
            got = self._rewrite_line(src, spec, st.lines + lines, groups, need, sims, topic_set, prompt, s,
                                     own if lacking and j == 0 else None)
            if got is None:
                return None
            got, dmg = got
            damage.append(dmg)
            lines.append(got.text)
            results.append(got)
            if spec.rhyme:
                groups.setdefault(spec.rhyme, []).append(got.end_word)
        return lines, results, float(np.mean(damage))

    def _rewrite_line(self, src: str, spec, before: list[str], groups, need, sims, topic_set, prompt,
                      s: RewriteSettings, own: set | None = None) -> LineResult | None:
        """``own``: the request's own words, one of which the line must take (else a topic word)."""
        topic_needed = own is not None
        toks = _TOKEN.split(src)  # even: between words, odd: words
        widx = list(range(1, len(toks), 2))
        low = [toks[k].lower() for k in widx]
        # content words, not inside a hyphenated compound ("sea-beat": half a word changed reads wrong)
        slots = [j for j, w in enumerate(low) if _content(w) and (
            toks[widx[j] - 1].endswith("--") or not toks[widx[j] - 1].endswith("-")) and (
            toks[widx[j] + 1].startswith("--") or not toks[widx[j] + 1].startswith("-"))]
        used_words = {w for ln in before for w in words(ln) if w not in FUNCTION_WORDS} | set(low)  # no repeats
        # which words must change: novelty first
        must = self._must_change(before, low, slots, topic_set, s)
        if must is None:
            return self._fail("a copied n-gram of function words only")
        # rhyme: the end word must rhyme with its group (or, opening a group, have enough partners)
        end_opts = None
        last = len(low) - 1
        if spec.rhyme:
            group = groups.get(spec.rhyme)
            ok_end = (prosody.rhymes(low[last], group[0]) and low[last] not in group) if group else (
                self._partners(low[last], set()) >= need[spec.rhyme] + s.spare_partners)
            if not ok_end:
                if last not in slots:
                    return self._fail("the rhyme falls on a function word")
                must.add(last)
                end_opts = self._rhyme_options(low[last], group, need[spec.rhyme] + s.spare_partners + 1, sims, used_words)
                if not end_opts:
                    return self._fail("no rhyme partner of the same shape")
            elif last in must and last in slots:
                end_opts = self._rhyme_options(low[last], group, need[spec.rhyme] + s.spare_partners + 1, sims, used_words)
                if not end_opts:
                    must.discard(last)
        syl = [prosody.syllables(w) for w in low]
        total = sum(syl)
        lo, hi = spec.syllables
        # the words that change: those novelty needs, and any word when the syllables are off
        changeable = sorted(set(must) | (set(slots) if topic_needed or not lo <= total <= hi else set()))
        # every single-word variant, one batched LM forward
        options: dict[int, list[str]] = {}
        ctx = "\n".join(before[-1:])
        proposed = self._lm_proposals(prompt, ctx, toks, widx, changeable, low, s, used_words)
        per = max(6, s.max_variants // max(1, len(changeable)))  # one batched forward of bounded size
        for j in changeable:
            cands = end_opts if (j == last and end_opts) else _interleave(
                proposed.get(j, []), self._substitutes(low[j], sims, s, used_words))
            cands = cands[:per]
            if topic_needed and not (j == last and end_opts):  # the topic's own words are offered everywhere
                cands += [w for w in self._topic_words(own, topic_set, low[j], used_words) if w not in cands][:per // 2]
            options[j] = ([] if j in must else [low[j]]) + [c for c in cands if c != low[j]]
            if not options[j]:
                return self._fail("a word with no substitute")
        variants, keys = [src], [None]
        for j in changeable:
            for c in options[j]:
                if c == low[j]:
                    continue
                variants.append(self._with_words(toks, widx, {j: c}))
                keys.append((j, c))
        lp = self._logp(prompt, ctx, variants)
        base = lp[0]
        gain: dict[tuple[int, str], float] = {}
        for (key, v) in zip(keys[1:], lp[1:]):
            j, c = key
            r, o = self._word_row.get(c), self._word_row.get(low[j])
            near = float(self.vocab.vectors[r] @ self.vocab.vectors[o]) if r is not None and o is not None else 0.0
            topic_gain = (1.0 if c in topic_set and r is None else float(sims[r]) if r is not None else 0.0) - (
                float(sims[o]) if o is not None else 0.0)
            gain[key] = (v - base) + s.topic_weight * topic_gain + s.keep_weight * (near - 1.0) - (
                1.0 if c in used_words else 0.0)
        # one choice per word: in the syllable range, the most likely change in all
        fixed = sum(n for j, n in enumerate(syl) if j not in options)
        best = _choose(options, low, syl, gain, lo - fixed, hi - fixed, own)
        if best is None and topic_needed:  # none of the request's own words fits here: a near one
            best = _choose(options, low, syl, gain, lo - fixed, hi - fixed, topic_set)
        if best is None:
            return self._fail("no choice of words meets the syllables")
        text = _a_an(self._with_words(toks, widx, {j: c for j, c in best.items() if c != low[j]}))
        new_low = words(text)
        if self._copied(before, new_low, s):  # a change made a new corpus n-gram: drop this unit
            return self._fail("a substitution made a corpus 5-gram")
        n_syl = prosody.line_syllables(text)
        ok = lo <= n_syl <= hi
        if spec.rhyme and groups.get(spec.rhyme):
            ok = ok and prosody.rhymes(prosody.last_word(text), groups[spec.rhyme][0])
        if not ok:
            return self._fail("the form missed after rewriting")
        # what the rewrite cost in the LM's eyes: mean log-prob per token, rewritten vs source
        pair = self._logp(prompt, ctx, [src, text])
        n_src, n_new = len(self.lm.encode(src)) + 1, len(self.lm.encode(text)) + 1
        damage = float(pair[1] / n_new - pair[0] / n_src)
        return LineResult(text, prosody.last_word(text), float(pair[1] / n_new), True, n_syl), damage

    def _fail(self, why: str):
        self.why[why] = self.why.get(why, 0) + 1
        return None

    def _must_change(self, before, low, slots, topic_set, s: RewriteSettings) -> set[int] | None:
        """Word positions (in ``low``) to change so that no corpus n-gram survives (n = 5, then 4)."""
        if s.round >= 2:
            return {j for j in slots if low[j] not in topic_set} or set(slots[-1:])
        index = self.corpus_index.get(5 if s.round == 0 else 4)
        if index is None:
            return set()
        n = index.n
        prev = [w for ln in before for w in words(ln)][-(n - 1) :]
        seq = prev + low
        hits = index.copied(ids_of(seq)) if len(seq) >= n else np.zeros(0, bool)
        must: set[int] = set()
        off = len(prev)
        windows = [set(range(max(0, a - off), a - off + n)) & set(range(len(low))) for a in np.flatnonzero(hits)]
        # greedy cover: the slot in the most uncovered windows (topic words last)
        open_w = [w for w in windows if w]
        while open_w:
            counts: dict[int, float] = {}
            for w in open_w:
                for j in w & set(slots):
                    counts[j] = counts.get(j, 0) + 1 - (0.5 if low[j] in topic_set else 0)
            if not counts:
                return None  # a copied window of function words only
            j = max(counts, key=lambda k: (counts[k], k))
            must.add(j)
            open_w = [w for w in open_w if j not in w]
        if not must and slots:  # a line too short for the n-gram test still changes a word: no line is copied whole
            free = [j for j in slots if low[j] not in topic_set] or slots
            must.add(free[0])
        return must

    def _copied(self, before, new_low, s: RewriteSettings) -> bool:
        """Does the rewritten line (with the words before it) still hold a corpus 5-gram? The gate
        is the same in every round; later rounds only change more words."""
        index = self.corpus_index.get(5)
        if index is None:
            return False
        prev = [w for ln in before for w in words(ln)][-(index.n - 1) :]
        seq = prev + new_low
        if len(seq) < index.n:
            return False
        return bool(index.copied(ids_of(seq)).any())

    def _lm_proposals(self, prompt, ctx: str, toks, widx, slots, low, s: RewriteSettings, used) -> dict[int, list[str]]:
        """For each slot, the whole words the LM expects there from the left context (one forward
        over the source line): grammatical stand-ins the embedding neighbours often are not."""
        import torch

        if not slots or s.lm_choices <= 0:
            return {}
        lm = self.lm
        head = prompt + (lm.encode(ctx + "\n") if ctx else [])
        src = "".join(toks)
        starts = {j: len(lm.encode("".join(toks[: widx[j]]))) for j in slots}  # token index of each slot's word
        ids = head + lm.encode(src)
        x = torch.tensor([ids[-lm.max_positions :]])
        off = len(ids) - x.shape[1]
        with torch.inference_mode():
            logits = lm.model(input_ids=x).logits[0].float()
        out: dict[int, list[str]] = {}
        for j, t in starts.items():
            pos = len(head) + t - 1 - off  # the position whose next token starts word j
            if pos < 0:
                continue
            shape = _shape(low[j])
            got = []
            for tid in torch.topk(logits[pos], 200).indices.tolist():
                piece = lm.pieces[tid]
                w = piece.strip().lower()
                if not w.isalpha() or (t > 0 and not piece.startswith(" ")) or w == low[j] or w in used:
                    continue
                if w in self._word_row and w not in FUNCTION_WORDS and len(w) > 2 and _shape(w) == shape:
                    got.append(w)
                    if len(got) >= s.lm_choices:
                        break
            out[j] = got
        return out

    def _topic_words(self, own, topic_set, w: str, used) -> list[str]:
        """The topic's words of ``w``'s shape: the request's own first, then its nearest, commonest first."""
        shape = _shape(w)
        freq = lambda t: self._word_row[t]  # noqa: E731 - the vocabulary is in corpus-frequency order
        order = (sorted(t for t in own if t not in self._word_row) + sorted((t for t in own if t in self._word_row), key=freq)
                 + sorted((t for t in topic_set if t in self._word_row and t not in own), key=freq))
        return [t for t in order if _shape(t) == shape and t not in used and t != w and prosody.phones(t)]

    def _substitutes(self, w: str, sims, s: RewriteSettings, used) -> list[str]:
        r = self._word_row.get(w)
        shape = _shape(w)
        near = np.argsort(-(self.vocab.vectors @ self.vocab.vectors[r]))[1 : 12 * s.neighbours] if r is not None else []
        top = np.argsort(-sims)[: 8 * s.topic_choices]
        out: list[str] = []
        for pool_, k in ((near, s.neighbours), (top, s.topic_choices)):
            got = 0
            for i in pool_:
                c = self.vocab.words[i]
                if (c in out or c == w or c[:4] == w[:4] or _shape(c) != shape or c in FUNCTION_WORDS or len(c) < 3
                        or c in used):
                    continue
                out.append(c)
                got += 1
                if got >= k:
                    break
        return out

    def _partners(self, w: str, used: set) -> int:
        return len([j for j in self.vocab.partners(w) if j < 6000 and self.vocab.words[j] not in used])

    def _rhyme_options(self, w: str, group, need: int, sims, used) -> list[str]:
        shape = _shape(w)
        if group:
            cands = [self.vocab.words[j] for j in self.vocab.partners(group[0])]
            cands = [c for c in cands if c not in group and c not in FUNCTION_WORDS]
        else:
            order = np.argsort(-sims)[:1500]
            cands = [self.vocab.words[j] for j in order if self._partners(self.vocab.words[j], set()) >= need - 1]
        same = [c for c in cands if _shape(c) == shape and c not in used]
        same.sort(key=lambda c: -float(sims[self._word_row[c]]))
        return same[:24]

    def _with_words(self, toks, widx, subs: dict[int, str]) -> str:
        out = list(toks)
        for j, c in subs.items():
            orig = out[widx[j]]
            out[widx[j]] = c.capitalize() if orig[:1].isupper() else c
        return "".join(out)

    def _logp(self, prompt: list[int], ctx: str, texts: list[str]) -> np.ndarray:
        """Summed log-probability of each text's tokens after the prompt and the line before."""
        import torch

        lm = self.lm
        enc, lp = lm.continuations(prompt + (lm.encode(ctx + "\n") if ctx else []), texts)
        out = []
        for r, e in enumerate(enc):
            idx = torch.tensor(e + [lm.newline_id])
            out.append(float(lp[r, torch.arange(len(idx)), idx].sum()))
        return np.array(out)


@dataclass
class _State:
    lines: list
    results: list
    groups: dict
    refrains: dict
    used_units: set
    sources: list
    chosen: list  # (first line, unit)


def _interleave(a: list[str], b: list[str]) -> list[str]:
    out: list[str] = []
    for k in range(max(len(a), len(b))):
        for xs in (a, b):
            if k < len(xs) and xs[k] not in out:
                out.append(xs[k])
    return out


def _content(w: str) -> bool:
    """A word the rewriter may replace: not closed-class, not a contraction, three letters or more."""
    return w not in FUNCTION_WORDS and len(w) > 2 and "'" not in w


def _choose(options: dict[int, list[str]], low, syl, gain, lo: int, hi: int,
            required: set | None = None) -> dict[int, str] | None:
    """One word per changeable position, total syllables in [lo, hi], most gain (keeping scores 0);
    with ``required``, at least one chosen word from it. A DP over (syllables, has a required word)."""
    states: dict[tuple[int, bool], tuple[float, dict]] = {(0, required is None): (0.0, {})}
    for j, opts in options.items():
        nxt: dict[tuple[int, bool], tuple[float, dict]] = {}
        for (tot, got), (g, pick) in states.items():
            for c in opts:
                if c != low[j] and c in pick.values():  # one new word once
                    continue
                n = tot + prosody.syllables(c)
                if n > hi:
                    continue
                key = (n, got or c in required)
                v = g + (0.0 if c == low[j] else gain.get((j, c), -99.0))
                if key not in nxt or v > nxt[key][0]:
                    nxt[key] = (v, {**pick, j: c})
        states = nxt
    ok = [(g, pick) for (n, got), (g, pick) in states.items() if lo <= n <= hi and got]
    return max(ok, key=lambda x: x[0])[1] if ok else None
