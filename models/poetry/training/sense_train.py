"""Training the sense critic (models/poetry/sense.py) and the corpus lexicon, reproducibly.
(The third critic; the fourth (measured, not shipped) adds a sentence-encoder branch on top of it
(models/poetry/training/sense_semantic.py); the fifth, shipped, adds a fine-tuned cross-encoder's logit
to it (models/poetry/training/sense_cross.py), and the third stays beside it as sense.third.safetensors.
This trainer writes the third to ``--out``/sense.safetensors: to rebuild it under the fifth, write it
to a scratch directory, copy it to weights/poet/sense.third.safetensors and rerun sense_cross.)

    OMP_NUM_THREADS=1 .venv/bin/python bench/poetry_eval.py --split critic --no-score --resume --out bench/poetry_negatives.json
    OMP_NUM_THREADS=1 .venv/bin/python -m models.poetry.training.sense_train --out models/weights/poet \
        --negatives bench/poetry_negatives.json --rewrites bench/poetry_rewrite_negatives.json --epochs 6

(the first line ran with the first critic installed; the dev-topic rewritten poems with the
previous critic, on the bench's DEV topics only, never its test topics:
    OMP_NUM_THREADS=1 .venv/bin/python bench/poetry_eval.py --split dev --no-score --resume --out bench/poetry_rewrite_negatives.json)

1. The Gutenberg passages are rebuilt exactly as ``arsnova train poetry --prepare`` cuts them
   (same seed, same permutation); the poet trained on the first 600,001 lines of it. The critic's
   real windows come from the passages after those (never seen by the poet), split by passage into
   the critic's train and test halves; the held-out passages of the poet (``baseline_passages.json``)
   stay untouched as the bench's yardstick.
2. Generated windows: the poet's own unconstrained samples (keyword prompts, temperature 0.7-1.0),
   and two hard negatives made from real windows: words shuffled within each line, and ~40% of
   the words replaced by random corpus words. Adversarial negatives (``--negatives``): every poem
   the poet wrote through the chat's own path (constrained sampling with the previous critic ranking
   each line, revision, the kept poem) on bench/poetry_eval.py's CRITIC_TOPICS, read as the critic
   reads a poem (the window ending at each line); split by topic into train and test.
   The second adversarial round is on the rewriting poet (models/poetry/rewrite.py), whose poems
   the previous critic scored above real verse: its poems on the DEV topics (``--rewrites``, split
   by topic the same way) and three made negatives that imitate how it fails, from real windows:
   *stitched* (a window finished by another passage after a sentence end: the subject changes),
   *lm_substituted* (content words replaced by whole words the LM expects from the left context,
   of the same inflection, as the rewriter proposes them) and *fragments* (comma lists of words
   and short chunks of other lines, with interjections and echoes: "Ding, dong, rose, the dog is
   in the town!").
3. Features are the frozen poet's (last hidden state, token log-prob), computed once; the head
   trains for a few epochs with one thread. ROC AUC on the test half, overall and per negative kind.
4. Writes ``sense.safetensors`` (the head, fp16) + ``sense.json`` (data sizes, AUCs, the command),
   and ``lexicon_extra.json`` (corpus words seen >= 3 times that CMUdict lacks).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from models.poetry.sense import SENSE_FILE, SenseConfig, build_head, line_windows

COMMAND = ("OMP_NUM_THREADS=1 .venv/bin/python -m models.poetry.training.sense_train --out models/weights/poet"
           " --negatives bench/poetry_negatives.json --rewrites bench/poetry_rewrite_negatives.json --epochs 6")
KINDS = ("poet", "shuffled", "substituted", "loop", "stitched", "lm_substituted", "fragments", "rewrite")
# a rewritten limerick that read as nonsense by hand and scored sense 0.97 with the first critic
NONSENSE_LIMERICK = ("Ah! kindly bird, fly down, flew down.", "Ding, dong, rose, the dog is in the town!")
INTERJECTIONS = ("Ah!", "O", "Oh!", "Lo!", "Alas!", "Hark!", "Ho!")


def corpus_split(seed: int = 0, train_lines: int = 600_000, val_passages: int = 2000):
    """(poet's training passages, poet's validation passages, the rest) exactly as prepare() cuts them."""
    from models.poetry.corpus import verse_passages
    from models.poetry.training.data import load_gutenberg_lines

    df = load_gutenberg_lines()
    passages = verse_passages(df["text"].tolist(), df["syllables"].tolist(), seed=seed)
    order = np.random.default_rng(seed).permutation(len(passages))
    val = [passages[i] for i in order[:val_passages]]
    train, n, k = [], 0, val_passages
    while n < train_lines:
        train.append(passages[order[k]])
        n += len(train[-1])
        k += 1
    rest = [passages[i] for i in order[k:]]
    return train, val, rest


def windows_of(passages: list[list[str]], rng: np.random.Generator, per: int = 2) -> list[list[str]]:
    out = []
    for p in passages:
        for _ in range(per):
            k = int(rng.integers(1, 5))
            if len(p) < k:
                continue
            i = int(rng.integers(0, len(p) - k + 1))
            out.append(p[i : i + k])
    return out


def shuffled(window: list[str], rng: np.random.Generator) -> list[str]:
    out = []
    for ln in window:
        ws = ln.rstrip(".,;:!?").split()
        tail = ln[len(ln.rstrip(".,;:!?")):]
        perm = list(rng.permutation(len(ws)))
        if len(ws) > 2 and perm == list(range(len(ws))):
            perm = perm[1:] + perm[:1]
        out.append(" ".join(ws[i] for i in perm) + tail)
    return out


def substituted(window: list[str], pool: list[str], rng: np.random.Generator, p: float = 0.4) -> list[str]:
    out = []
    for ln in window:
        ws = ln.split()
        for i, w in enumerate(ws):
            core = w.strip(".,;:!?'\"()-")
            if core.isalpha() and rng.random() < p:
                new = pool[int(rng.integers(len(pool)))]
                ws[i] = w.replace(core, new.capitalize() if core[0].isupper() else new)
        out.append(" ".join(ws))
    return out


def stitched(a: list[str], b: list[str], rng: np.random.Generator) -> list[str]:
    """The rewriter's stitching: a window whose first lines come from one passage and the rest from
    another, cut where ``a`` ends a sentence when it can (the subject changes mid-poem)."""
    k = max(2, len(a))
    ends = [j + 1 for j, ln in enumerate(a[: k - 1]) if ln.rstrip(" '\"").endswith((".", "!", "?", ";"))]
    j = int(rng.choice(ends)) if ends else int(rng.integers(1, k))
    return a[:j] + b[: k - j]


def fragments(window: list[str], pool: list[list[str]], rng: np.random.Generator) -> list[str]:
    """Lists of fragments ("Ah! kindly bird, fly down, flew down. / Ding, dong, rose, the dog is in
    the town!"): single words and 1-3 word chunks of other real lines (echoed now and then), with an
    interjection or a real clause's tail, joined by commas; some lines of the window stay real."""
    keep = int(rng.integers(0, len(window))) if len(window) > 1 and rng.random() < 0.5 else -1
    out = []
    for i, ln in enumerate(window):
        if i == keep:
            out.append(ln)
            continue
        parts: list[str] = [str(rng.choice(INTERJECTIONS))] if rng.random() < 0.3 else []
        for _ in range(int(rng.integers(2, 5))):
            ws = [w.strip(".,;:!?'\"()-") for w in pool[int(rng.integers(len(pool)))][0].split()]
            ws = [w for w in ws if w.isalpha()] or ["down"]
            n = int(rng.choice([1, 1, 2, 3]))
            a = int(rng.integers(0, max(1, len(ws) - n + 1)))
            parts.append(" ".join(w if w == "I" else w.lower() for w in ws[a : a + n]))
            if rng.random() < 0.15:  # "fly down, flew down"
                parts.append(parts[-1])
        if rng.random() < 0.4:  # a real clause closes the list ("the dog is in the town")
            tail = ln.rstrip(".,;:!?").split()
            parts.append(" ".join(tail[len(tail) // 2 :]))
        text = ", ".join(p for p in parts if p).replace("!,", "!")
        out.append(text[:1].upper() + text[1:] + str(rng.choice([".", "!", ",", ".", ""])))
    return out


def lm_substituted(windows: list[list[str]], model, tok, rng: np.random.Generator, p: float = 0.4,
                   top: int = 30, batch: int = 64) -> list[list[str]]:
    """The rewriter's substitution: ~``p`` of the content words of each line replaced by a whole word
    the LM expects at that position from the left context (one forward over the source window, as
    models/poetry/rewrite.py proposes them), of the same shape (-s/-ed/-ing/-ly/-est). These read
    fluently token by token; what breaks is the sentence."""
    import torch

    from models.poetry.corpus import FUNCTION_WORDS, KW, POEM
    from models.poetry.substitute import shape_of

    prefix = tok.encode(KW + POEM, add_special_tokens=False)
    pieces = tok.convert_ids_to_tokens(list(range(len(tok))))
    pieces = [(pc or "").replace("\u0120", " ") for pc in pieces]
    out: list[list[str]] = []
    for b0 in range(0, len(windows), batch):
        chunk = ["\n".join(w) for w in windows[b0 : b0 + batch]]
        enc = [tok.encode(t, add_special_tokens=False)[:72] for t in chunk]
        T = max(len(e) for e in enc)
        x = torch.tensor([prefix + e + [prefix[-1]] * (T - len(e)) for e in enc])
        with torch.inference_mode():
            logits = model(input_ids=x).logits.float()
        for r, text in enumerate(chunk):
            toks = re.split(r"([A-Za-z]+(?:'[A-Za-z]+)*)", text)
            new = list(toks)
            for k in range(1, len(toks), 2):
                w = toks[k].lower()
                if w in FUNCTION_WORDS or len(w) < 3 or "'" in w or rng.random() >= p:
                    continue
                head = "".join(toks[:k])
                t = len(tok.encode(head.rstrip(" "), add_special_tokens=False)) if head.strip() else 0
                if t == 0 or not head.endswith(" ") or t >= len(enc[r]):
                    continue
                row = logits[r, len(prefix) + t - 1]
                cands = []
                for tid in torch.topk(row, top).indices.tolist():
                    c = pieces[tid]
                    if c.startswith(" ") and c[1:].isalpha() and c[1:].lower() not in FUNCTION_WORDS and \
                            c[1:].lower() != w and len(c) > 3 and shape_of(c[1:].lower()) == shape_of(w):
                        cands.append(c[1:].lower())
                if cands:
                    c = cands[min(int(rng.geometric(0.4)) - 1, len(cands) - 1)]
                    new[k] = c.capitalize() if toks[k][:1].isupper() else c
            out.append("".join(new).split("\n"))
    return out


def loop_poems(path: Path, seed: int, test_share: float = 0.25) -> tuple[list, list]:
    """The poems the critic-in-the-loop poet wrote (bench/poetry_eval.py --split critic), split by
    topic -> (train, test), each a list of (lines, kept?) with duplicates dropped."""
    rows = json.loads(Path(path).read_text())["poems"]
    topics = sorted({r["topic"] for r in rows})
    order = np.random.default_rng(seed).permutation(len(topics))
    test_topics = {topics[i] for i in order[: max(1, round(test_share * len(topics)))]}
    out: tuple[list, list] = ([], [])
    seen: set = set()
    for r in rows:
        kept = tuple(r["kept"]["lines"])
        for lines in [kept] + [tuple(w) for w in r.get("written", [])]:
            if lines and lines not in seen:
                seen.add(lines)
                out[r["topic"] in test_topics].append((list(lines), lines == kept))
    return out


def poet_samples(model, tok, n: int, seed: int, log=print, batch: int = 50) -> list[list[str]]:
    """Unconstrained passages from the poet: keyword prompts as in training, varied temperature."""
    import torch

    from models.poetry.corpus import KW, POEM

    words = [w for w, _ in json.loads((Path(model.name_or_path) / "content_words.json").read_text())["words"][:4000]]
    rng = np.random.default_rng(seed)
    out: list[list[str]] = []
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    while len(out) < n:
        k = int(rng.integers(0, 4))
        kws = " ".join(words[int(i)] for i in rng.choice(len(words), size=k, replace=False)) if k else ""
        ids = torch.tensor([tok.encode(f"{KW}{kws}{POEM}", add_special_tokens=False)] * batch)
        temp = float(rng.uniform(0.7, 1.0))
        with torch.inference_mode():
            g = model.generate(ids, do_sample=True, temperature=temp, top_p=float(rng.choice([0.9, 0.95])),
                               max_new_tokens=100, pad_token_id=eos, eos_token_id=eos)
        for row in g[:, ids.shape[1]:].tolist():
            ended = eos in row
            text = tok.decode(row[: row.index(eos)] if ended else row)
            lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
            if not ended:
                lines = lines[:-1]  # cut mid-line
            if lines:
                out.append(lines)
        log(f"poet samples: {len(out)}/{n}")
    return out[:n]


def build_data(home: Path, seed: int, n_real: int, n_poet: int, log=print, negatives: Path | None = None,
               loop_repeat: int = 2, rewrites: Path | None = None, cache: Path | None = None):
    from models.common.causal_lm import load_causal_lm

    train, val, rest = corpus_split()
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(rest))
    real_tr = [rest[i] for i in pick[:n_real]]
    real_te = [rest[i] for i in pick[n_real : n_real + n_real // 4]]
    model, tok = load_causal_lm(str(home), role="poet")
    model.name_or_path = str(home)
    cached = cache / f"poet_samples_{seed}_{n_poet}.json" if cache else None
    if cached and cached.exists():  # a resumed run: the samples are the slow part of the data
        gen = json.loads(cached.read_text())
    else:
        gen = poet_samples(model, tok, n_poet, seed, log)
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(gen))
    gen_tr, gen_te = gen[: int(0.8 * len(gen))], gen[int(0.8 * len(gen)):]
    loop_tr, loop_te = loop_poems(negatives, seed) if negatives else ([], [])
    rew_tr, rew_te = loop_poems(rewrites, seed) if rewrites else ([], [])

    def split(real, gen_p, rng, loop, rew, repeat):
        pos = windows_of(real, rng)
        n = len(pos)
        vocab = [w.strip(".,;:!?'\"()-").lower() for p in real for ln in p for w in ln.split()]
        vocab = [w for w in vocab if w.isalpha()]
        neg = [(w, "poet") for w in windows_of(gen_p, rng, per=4)[: 2 * n // 5]]
        base = windows_of(real, rng, per=2)  # ~n windows, cut into the made negatives
        cut = [int(f * n) for f in (0.12, 0.24, 0.44, 0.60, 0.90)]
        neg += [(shuffled(w, rng), "shuffled") for w in base[: cut[0]]]
        neg += [(substituted(w, vocab, rng), "substituted") for w in base[cut[0] : cut[1]]]
        other = windows_of(real[::-1], rng, per=2)  # second halves from other passages
        neg += [(stitched(w, other[i % len(other)], rng), "stitched") for i, w in enumerate(base[cut[1] : cut[2]])]
        neg += [(fragments(w, base, rng), "fragments") for w in base[cut[2] : cut[3]]]
        log(f"LM-guided substitutions: {cut[4] - cut[3]} windows")
        neg += [(w, "lm_substituted") for w in lm_substituted(base[cut[3] : cut[4]], model, tok, rng)]
        # the adversarial rounds: what the critic-guided poet and the rewriting poet wrote, window by
        # window as it is judged
        neg += [(w, "loop_kept" if kept else "loop") for lines, kept in loop for w in line_windows(lines)] * repeat
        neg += [(w, "rewrite") for lines, _ in rew for w in line_windows(lines)] * repeat
        items = [("\n".join(w), 1, "real") for w in pos] + [("\n".join(w), 0, k) for w, k in neg]
        return [items[i] for i in rng.permutation(len(items))]

    return (model, tok, split(real_tr, gen_tr, rng, loop_tr, rew_tr, loop_repeat),
            split(real_te, gen_te, rng, loop_te, rew_te, 1), train, val, real_te, loop_te, rew_te)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney: P(score of a random positive > a random negative), ties half."""
    from scipy.stats import rankdata

    r = rankdata(scores)
    pos = labels == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / max(1, n1 * n0))


def train_sense(home: Path, out: Path, seed: int = 0, n_real: int = 10000, n_poet: int = 3500, epochs: int = 10,
                log=print, negatives: Path | None = None, loop_repeat: int = 2, rewrites: Path | None = None,
                cache: Path | None = None) -> dict:
    import torch

    from models.poetry.corpus import KW, POEM
    from models.poetry.sense import SenseCritic

    torch.manual_seed(seed)
    t0 = time.time()
    model, tok, tr, te, poet_train, poet_val, real_te, loop_te, rew_te = build_data(
        home, seed, n_real, n_poet, log, negatives, loop_repeat, rewrites, cache)
    write_lexicon(poet_train, out)
    cfg = SenseConfig(features=model.config.n_embd + 1)
    head = build_head(cfg)
    critic = SenseCritic(model, tok, head, cfg, tok.encode(KW + POEM, add_special_tokens=False))

    log(f"features: {len(tr)} train, {len(te)} test windows")
    head, history, (y, p, k) = fit_head(critic, tr, te, epochs, seed, log, checkpoint=cache / "head.pt" if cache else None)
    k = np.where(k == "loop_kept", "loop", k)  # kept poems' windows are loop windows too
    aucs = {"all": roc_auc(y, p)}
    for kind in KINDS:
        sel = (k == "real") | (k == kind)
        if (k == kind).any():
            aucs[kind] = roc_auc(y[sel], p[sel])
    from models.common.checkpoint import half_floats, save_safetensors

    state = half_floats(head.state_dict())
    save_safetensors(state, out / SENSE_FILE, {"config": asdict(cfg)})
    head.load_state_dict({n: v.float() for n, v in state.items()})  # measure what is shipped
    counts = {kind: int((k == kind).sum()) for kind in ("real", *KINDS)}
    report = {"command": COMMAND, "seed": seed, "config": asdict(cfg), "epochs": epochs,
              "params": sum(p.numel() for p in head.parameters()), "train_windows": len(tr), "test_windows": counts,
              "test_auc": aucs, "history": history, "seconds": round(time.time() - t0),
              "data": {"real_passages_train": n_real, "real_passages_test": n_real // 4, "poet_samples": n_poet,
                       "negatives": str(negatives) if negatives else None, "loop_repeat": loop_repeat,
                       "rewrites": str(rewrites) if rewrites else None}}
    if loop_te:  # whole poems on held-out topics: the kept ones against real test passages of their length
        kept = [lines for lines, is_kept in loop_te if is_kept]
        report["loop_poems_test"] = {"kept": len(kept), "auc_real_vs_kept": poem_auc(critic, real_te, kept)}
    if rew_te:  # the rewriting poet's poems on held-out dev topics against real passages of their length
        poems = [lines for lines, _ in rew_te]
        report["rewrite_poems_test"] = {"poems": len(poems), "auc_real_vs_rewrite": poem_auc(critic, real_te, poems)}
    report["nonsense_limerick"] = critic.poem(list(NONSENSE_LIMERICK)).score
    report["real_poem"] = calibrate(critic, poet_val[300:600])
    (out / "sense.json").write_text(json.dumps(report, indent=1))
    return report


def cut_passages(passages: list[list[str]], lengths: list[int]) -> list[list[str]]:
    """One real text per length: consecutive passages joined and cut to that many lines."""
    out, i = [], 0
    for k in lengths:
        run: list[str] = []
        while len(run) < k:
            run += passages[i % len(passages)]
            i += 1
        out.append(run[:k])
    return out


def real_and_poem_scores(critic, real_passages: list[list[str]],
                         poems: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Poem sense of real passages (cut to each poem's line count) and of the poems."""
    real = cut_passages(real_passages, [len(p) for p in poems])
    return (np.array([critic.poem(p).score for p in real]), np.array([critic.poem(p).score for p in poems]))


def poem_auc(critic, real_passages: list[list[str]], poems: list[list[str]]) -> float:
    """ROC AUC of real passages (cut to each poem's line count) against the poems, by poem sense."""
    real_s, poem_s = real_and_poem_scores(critic, real_passages, poems)
    return roc_auc(np.r_[np.ones(len(real_s)), np.zeros(len(poem_s))], np.r_[real_s, poem_s])


def calibrate(critic, passages: list[list[str]]) -> dict:
    """Quartiles of the poem sense of real held-out passages (the poet's validation passages after
    the 300 the bench uses): the quality band's floor is their lower quartile."""
    s = np.array([critic.poem(p).score for p in passages])
    return {"passages": len(s), "q1": float(np.percentile(s, 25)), "median": float(np.median(s)),
            "q3": float(np.percentile(s, 75))}


def fit_head(critic, tr: list, te: list, epochs: int, seed: int = 0, log=print, checkpoint: Path | None = None):
    """Train ``critic.head`` on (text, label, kind) items with features computed once by the frozen
    LM -> (head, AUC per epoch, (labels, P(real), kinds) on ``te``). With ``checkpoint``, the head,
    optimiser and history are saved after every epoch and a run with the same data resumes there."""
    import torch

    head = critic.head
    t0 = time.time()

    def featurise(items, bs=64):
        items = sorted(items, key=lambda x: len(x[0]))  # similar lengths per batch: little padding
        batches = []
        for i in range(0, len(items), bs):
            chunk = items[i : i + bs]
            f, m = critic.features([t for t, _, _ in chunk])
            batches.append((f.half(), m, torch.tensor([float(y) for _, y, _ in chunk]), [k for _, _, k in chunk]))
        return batches

    btr, bte = featurise(tr), featurise(te)
    log(f"features done ({time.time() - t0:.0f}s)")
    opt = torch.optim.AdamW(head.parameters(), lr=2e-3, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    history = []

    def evaluate():
        head.eval()
        ys, ps, ks = [], [], []
        with torch.inference_mode():
            for f, m, y, k in bte:
                ps.append(torch.sigmoid(head(f.float(), m)).numpy())
                ys.append(y.numpy())
                ks += k
        head.train()
        return np.concatenate(ys), np.concatenate(ps), np.array(ks)

    start = 0
    if checkpoint and checkpoint.exists():
        ck = torch.load(checkpoint, weights_only=True)  # tensors, plain numbers, strings
        if ck["items"] == (len(tr), len(te)):
            head.load_state_dict(ck["head"])
            opt.load_state_dict(ck["opt"])
            history, start = ck["history"], len(ck["history"])
            rng.bit_generator.state = ck["rng"]
            log(f"resumed after epoch {start}")
    head.train()
    for ep in range(start, epochs):
        for g in opt.param_groups:
            g["lr"] = 2e-3 * (0.5 * (1 + np.cos(np.pi * ep / epochs)))
        for j in rng.permutation(len(btr)):
            f, m, y, _ = btr[j]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(head(f.float(), m), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        y, p, _ = evaluate()
        history.append({"epoch": ep + 1, "test_auc": roc_auc(y, p), "seconds": round(time.time() - t0)})
        log(f"epoch {ep + 1}: test AUC {history[-1]['test_auc']:.4f} ({time.time() - t0:.0f}s)")
        if checkpoint:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"items": (len(tr), len(te)), "head": head.state_dict(), "opt": opt.state_dict(),
                        "history": json.loads(json.dumps(history)),  # plain floats: loadable with weights_only
                        "rng": rng.bit_generator.state}, checkpoint)
    head.eval()
    return head, history, evaluate()


def write_lexicon(passages: list[list[str]], out: Path, min_count: int = 3) -> int:
    """Corpus words seen >= ``min_count`` times that CMUdict lacks: with CMUdict, the poet's lexicon."""
    from collections import Counter

    from models.poetry import prosody

    c = Counter(w for p in passages for ln in p for w in prosody.line_words(ln))
    extra = sorted(w for w, n in c.items() if n >= min_count and not prosody.phones(w))
    (out / "lexicon_extra.json").write_text(json.dumps({"min_count": min_count, "words": extra}))
    return len(extra)


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("models/weights/poet"))
    ap.add_argument("--poet", type=Path, default=None, help="the poet's directory (default: --out)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--real", type=int, default=10000)
    ap.add_argument("--samples", type=int, default=3500)
    ap.add_argument("--negatives", type=Path, default=None,
                    help="poems of the critic-guided poet (bench/poetry_eval.py --split critic) as negatives")
    ap.add_argument("--rewrites", type=Path, default=None,
                    help="poems of the rewriting poet on dev topics (bench/poetry_eval.py --split dev) as negatives")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/arsnova-sense-cache"),
                    help="poet samples and per-epoch checkpoints: a stopped run resumes from here")
    ap.add_argument("--loop-repeat", type=int, default=2, help="times each adversarial window is seen per epoch")
    ap.add_argument("--calibrate-only", action="store_true", help="only re-measure real_poem in sense.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.calibrate_only:
        report = json.loads((args.out / "sense.json").read_text())
        from models.poetry.sense import load_sense_critic

        report["real_poem"] = calibrate(load_sense_critic(args.out), corpus_split()[1][300:600])
        (args.out / "sense.json").write_text(json.dumps(report, indent=1))
        print(report["real_poem"])
        return
    rep = train_sense(args.poet or args.out, args.out, args.seed, args.real, args.samples, args.epochs,
                      negatives=args.negatives, loop_repeat=args.loop_repeat, rewrites=args.rewrites, cache=args.cache)
    print(json.dumps(rep["test_auc"], indent=1))


if __name__ == "__main__":
    main()
