"""Rewriting one line of a real sentence: content-word substitution under the form and novelty.

The second half of the rewriting poet (models/poetry/rewrite.py retrieves and fits the sentences):
given a source line, its place in the plan (syllables, rhyme group) and the lines before it,
``LineRewriter.rewrite_line`` decides which words must change (novelty: a word in every corpus
n-gram, n = 5 in round 0, 4 in round 1, every non-topic content word from round 2), offers each
changeable content word the words the LM expects there, its embedding neighbours and the topic's
words, all of the word's shape (-s/-ed/-ing/-ly/-est), scores every single-word variant in one
batched LM forward (with the unit's next line after it, so a substitute is read with the words on
both sides), picks one choice per word by a small dynamic programme over syllables (the rhyme
word from its group's partners), re-reads the best few whole choices with the LM and returns the
line with what the rewrite cost against its source.
"""

from __future__ import annotations

import re
import numpy as np

from models.poetry import prosody
from models.poetry.corpus import FUNCTION_WORDS, ids_of, words
from models.poetry.poet import LineResult

_TOKEN = re.compile(r"([A-Za-z]+(?:'[A-Za-z]+)*)")


def shape_of(w: str) -> str:
    """A crude part-of-speech stand-in: substitutes keep the word's inflection."""
    for suf in ("ing", "ed", "est", "ly", "s"):
        if w.endswith(suf) and len(w) > len(suf) + 2 and not w.endswith("ss"):
            return suf
    return ""


def _a_an(text: str) -> str:
    text = re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", lambda m: m.group(1) + "n ", text)
    return re.sub(r"\b([Aa])n (?=[b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z])", lambda m: m.group(1) + " ", text)


class LineRewriter:
    """The LM, the vocabulary and the corpus n-gram indexes of the rewriting poet, rewriting a line at a
    time; ``s`` in every method is the poet's ``models.poetry.rewrite.RewriteSettings``."""

    def __init__(self, lm, vocab, corpus_index: dict):
        self.lm, self.vocab, self.corpus_index = lm, vocab, corpus_index
        self._word_row = {w: i for i, w in enumerate(vocab.words)}
        self.why: dict[str, int] = {}  # why line rewrites failed, counted (the bench and tuning read it)

    def rewrite_line(self, src: str, spec, before: list[str], groups, need, sims, topic_set, prompt,
                      s, own: set | None = None, after: list[str] = ()) -> LineResult | None:
        """``own``: the request's own words, one of which the line must take (else a topic word);
        ``after``: the unit's next source line, scored after each variant so a substitute is judged
        by the words on both sides of it ("walking at plain" reads wrong only once "plain" is read,
        and a line's last word only once the next line begins)."""
        topic_needed = own is not None
        toks = _TOKEN.split(src)  # even: between words, odd: words
        widx = list(range(1, len(toks), 2))
        low = [toks[k].lower() for k in widx]
        # content words, not inside a hyphenated compound ("sea-beat": half a word changed reads wrong)
        slots = [j for j, w in enumerate(low) if is_content(w) and (
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
        tail = "\n" + after[0] if after and s.right_context else ""
        lp = self._logp(prompt, ctx, [v + tail for v in variants])
        base = lp[0]
        gain: dict[tuple[int, str], float] = {}
        extra: dict[tuple[int, str], float] = {}  # the gain beyond the LM's: topic, nearness, repeats
        for (key, v) in zip(keys[1:], lp[1:]):
            j, c = key
            r, o = self._word_row.get(c), self._word_row.get(low[j])
            near = float(self.vocab.vectors[r] @ self.vocab.vectors[o]) if r is not None and o is not None else 0.0
            topic_gain = (1.0 if c in topic_set and r is None else float(sims[r]) if r is not None else 0.0) - (
                float(sims[o]) if o is not None else 0.0)
            extra[key] = s.topic_weight * topic_gain + s.keep_weight * (near - 1.0) - (1.0 if c in used_words else 0.0)
            gain[key] = (v - base) + extra[key]
        # one choice per word: in the syllable range, the most likely change in all
        fixed = sum(n for j, n in enumerate(syl) if j not in options)
        picks = _choose(options, low, syl, gain, lo - fixed, hi - fixed, own)
        if not picks and topic_needed:  # none of the request's own words fits here: a near one
            picks = _choose(options, low, syl, gain, lo - fixed, hi - fixed, topic_set)
        if not picks:
            return self._fail("no choice of words meets the syllables")
        texts = [_a_an(self._with_words(toks, widx, {j: c for j, c in p.items() if c != low[j]}))
                 for p in picks[: max(1, s.joint)]]
        if len(texts) > 1:  # single-word gains add up only roughly: the LM reads each whole choice
            joint = self._logp(prompt, ctx, [t + tail for t in texts]) - base
            joint += [sum(extra.get((j, c), 0.0) for j, c in p.items() if c != low[j]) for p in picks[: len(texts)]]
            text = texts[int(np.argmax(joint))]
        else:
            text = texts[0]
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

    def _must_change(self, before, low, slots, topic_set, s) -> set[int] | None:
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

    def _copied(self, before, new_low, s) -> bool:
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

    def _lm_proposals(self, prompt, ctx: str, toks, widx, slots, low, s, used) -> dict[int, list[str]]:
        """For each slot, the whole words the LM expects there from the left context (one forward
        over the source line): grammatical stand-ins the embedding neighbours often are not."""
        import torch

        if not slots or s.lm_choices <= 0:
            return {}
        lm = self.lm
        head = prompt + (lm.encode(ctx + "\n") if ctx else [])
        src = "".join(toks)
        # token index of each slot's word: the space before a word belongs to its first token
        # ("The dark sea" -> The, Ġdark, Ġsea), so the prefix is encoded without it; with it, the
        # extra "Ġ" token shifted every proposal one word right (the LM proposed the *next* word)
        starts = {j: len(lm.encode("".join(toks[: widx[j]]).rstrip(" "))) for j in slots}
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
            shape = shape_of(low[j])
            got = []
            for tid in torch.topk(logits[pos], 200).indices.tolist():
                piece = lm.pieces[tid]
                w = piece.strip().lower()
                if not w.isalpha() or (t > 0 and not piece.startswith(" ")) or w == low[j] or w in used:
                    continue
                if w in self._word_row and w not in FUNCTION_WORDS and len(w) > 2 and shape_of(w) == shape:
                    got.append(w)
                    if len(got) >= s.lm_choices:
                        break
            out[j] = got
        return out

    def _topic_words(self, own, topic_set, w: str, used) -> list[str]:
        """The topic's words of ``w``'s shape: the request's own first, then its nearest, commonest first."""
        shape = shape_of(w)
        freq = lambda t: self._word_row[t]  # noqa: E731 - the vocabulary is in corpus-frequency order
        order = (sorted(t for t in own if t not in self._word_row) + sorted((t for t in own if t in self._word_row), key=freq)
                 + sorted((t for t in topic_set if t in self._word_row and t not in own), key=freq))
        return [t for t in order if shape_of(t) == shape and t not in used and t != w and prosody.phones(t)]

    def _substitutes(self, w: str, sims, s, used) -> list[str]:
        r = self._word_row.get(w)
        shape = shape_of(w)
        near = np.argsort(-(self.vocab.vectors @ self.vocab.vectors[r]))[1 : 12 * s.neighbours] if r is not None else []
        top = np.argsort(-sims)[: 8 * s.topic_choices]
        out: list[str] = []
        for pool_, k in ((near, s.neighbours), (top, s.topic_choices)):
            got = 0
            for i in pool_:
                c = self.vocab.words[i]
                if (c in out or c == w or c[:4] == w[:4] or shape_of(c) != shape or c in FUNCTION_WORDS or len(c) < 3
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
        shape = shape_of(w)
        if group:
            cands = [self.vocab.words[j] for j in self.vocab.partners(group[0])]
            cands = [c for c in cands if c not in group and c not in FUNCTION_WORDS]
        else:
            order = np.argsort(-sims)[:1500]
            cands = [self.vocab.words[j] for j in order if self._partners(self.vocab.words[j], set()) >= need - 1]
        same = [c for c in cands if shape_of(c) == shape and c not in used]
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


def _interleave(a: list[str], b: list[str]) -> list[str]:
    out: list[str] = []
    for k in range(max(len(a), len(b))):
        for xs in (a, b):
            if k < len(xs) and xs[k] not in out:
                out.append(xs[k])
    return out


def is_content(w: str) -> bool:
    """A word the rewriter may replace: not closed-class, not a contraction, three letters or more."""
    return w not in FUNCTION_WORDS and len(w) > 2 and "'" not in w


def _choose(options: dict[int, list[str]], low, syl, gain, lo: int, hi: int,
            required: set | None = None) -> list[dict[int, str]]:
    """Word choices, one word per changeable position, total syllables in [lo, hi], most gain first
    (keeping a word scores 0); with ``required``, at least one chosen word from it. A DP over
    (syllables, has a required word): the best choice for each total that qualifies."""
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
    return [pick for _, pick in sorted(ok, key=lambda x: -x[0])]
