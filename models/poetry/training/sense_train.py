"""Training the sense critic (models/poetry/sense.py) and the corpus lexicon, reproducibly.

    OMP_NUM_THREADS=1 .venv/bin/python bench/poetry_eval.py --split critic --no-score --resume --out bench/poetry_negatives.json
    OMP_NUM_THREADS=1 .venv/bin/python -m models.poetry.training.sense_train --out models/weights/poet \
        --negatives bench/poetry_negatives.json --epochs 6

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
3. Features are the frozen poet's (last hidden state, token log-prob), computed once; the head
   trains for a few epochs with one thread. ROC AUC on the test half, overall and per negative kind.
4. Writes ``sense.safetensors`` (the head, fp16) + ``sense.json`` (data sizes, AUCs, the command),
   and ``lexicon_extra.json`` (corpus words seen >= 3 times that CMUdict lacks).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from models.poetry.sense import SENSE_FILE, SenseConfig, build_head, line_windows

COMMAND = ("OMP_NUM_THREADS=1 .venv/bin/python -m models.poetry.training.sense_train --out models/weights/poet"
           " --negatives bench/poetry_negatives.json --epochs 6")
KINDS = ("poet", "shuffled", "substituted", "loop")


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
               loop_repeat: int = 2):
    from models.common.causal_lm import load_causal_lm

    train, val, rest = corpus_split()
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(rest))
    real_tr = [rest[i] for i in pick[:n_real]]
    real_te = [rest[i] for i in pick[n_real : n_real + n_real // 4]]
    model, tok = load_causal_lm(str(home), role="poet")
    model.name_or_path = str(home)
    gen = poet_samples(model, tok, n_poet, seed, log)
    gen_tr, gen_te = gen[: int(0.8 * len(gen))], gen[int(0.8 * len(gen)):]
    loop_tr, loop_te = loop_poems(negatives, seed) if negatives else ([], [])

    def split(real, gen_p, rng, loop, repeat):
        pos = windows_of(real, rng)
        vocab = [w.strip(".,;:!?'\"()-").lower() for p in real for ln in p for w in ln.split()]
        vocab = [w for w in vocab if w.isalpha()]
        neg = [(w, "poet") for w in windows_of(gen_p, rng, per=4)[: len(pos) // 2]]
        base = windows_of(real, rng, per=1)
        neg += [(shuffled(w, rng), "shuffled") for w in base[: len(pos) // 4]]
        neg += [(substituted(w, vocab, rng), "substituted") for w in base[len(pos) // 4 : len(pos) // 2]]
        # the adversarial round: what the critic-guided poet wrote, window by window as it is judged
        neg += [(w, "loop_kept" if kept else "loop") for lines, kept in loop for w in line_windows(lines)] * repeat
        items = [("\n".join(w), 1, "real") for w in pos] + [("\n".join(w), 0, k) for w, k in neg]
        return [items[i] for i in rng.permutation(len(items))]

    return (model, tok, split(real_tr, gen_tr, rng, loop_tr, loop_repeat), split(real_te, gen_te, rng, loop_te, 1),
            train, val, real_te, loop_te)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney: P(score of a random positive > a random negative), ties half."""
    from scipy.stats import rankdata

    r = rankdata(scores)
    pos = labels == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / max(1, n1 * n0))


def train_sense(home: Path, out: Path, seed: int = 0, n_real: int = 10000, n_poet: int = 3500, epochs: int = 10,
                log=print, negatives: Path | None = None, loop_repeat: int = 2) -> dict:
    import torch

    from models.poetry.corpus import KW, POEM
    from models.poetry.sense import SenseCritic

    torch.manual_seed(seed)
    t0 = time.time()
    model, tok, tr, te, poet_train, poet_val, real_te, loop_te = build_data(home, seed, n_real, n_poet, log, negatives,
                                                                         loop_repeat)
    write_lexicon(poet_train, out)
    cfg = SenseConfig(features=model.config.n_embd + 1)
    head = build_head(cfg)
    critic = SenseCritic(model, tok, head, cfg, tok.encode(KW + POEM, add_special_tokens=False))

    log(f"features: {len(tr)} train, {len(te)} test windows")
    head, history, (y, p, k) = fit_head(critic, tr, te, epochs, seed, log)
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
                       "negatives": str(negatives) if negatives else None, "loop_repeat": loop_repeat}}
    if loop_te:  # whole poems on held-out topics: the kept ones against real test passages of their length
        kept = [lines for lines, is_kept in loop_te if is_kept]
        report["loop_poems_test"] = {"kept": len(kept), "auc_real_vs_kept": poem_auc(critic, real_te, kept)}
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


def fit_head(critic, tr: list, te: list, epochs: int, seed: int = 0, log=print):
    """Train ``critic.head`` on (text, label, kind) items with features computed once by the frozen
    LM -> (head, AUC per epoch, (labels, P(real), kinds) on ``te``)."""
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

    head.train()
    for ep in range(epochs):
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
                      negatives=args.negatives, loop_repeat=args.loop_repeat)
    print(json.dumps(rep["test_auc"], indent=1))


if __name__ == "__main__":
    main()
