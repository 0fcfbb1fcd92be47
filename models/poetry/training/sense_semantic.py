"""The fourth sense critic: the third critic's LM branch + a semantic branch on the frozen sentence
encoder (all-MiniLM-L6-v2), trained on the same windows (models/poetry/training/sense_train.py).

    OMP_NUM_THREADS=1 .venv/bin/python -m models.poetry.training.sense_semantic_train --step all --install

Steps (each resumes from ``--cache``; ``all`` runs them in order):

1. ``data``: the third critic's windows, rebuilt by ``sense_train.build_data`` with its seed and
   negatives (so its held-out half is the one it never saw). Training uses every distinct adversarial window
   once and a seeded subsample of the rest (``--train``, default 20,000: the encoder costs ~22 ms a
   window on one thread); of the held-out half every adversarial window, 3,200 real ones and at
   most 800 of each other kind. The held-out half is split in two: DEV (tuning, variant choice) and TEST
   (reported once): the rewriter's and the critic-guided poet's windows by topic (alternate held-out
   topics), the corpus-made windows by a hash of their text.
2. ``features``: the poet LM's token features and the encoder's token states of every window,
   computed once, in shards of 2,048 windows (a stopped run resumes at the next shard; delete its
   ``*.lock`` files first). A second ``--step features`` process shares the shards.
3. ``train``: the head (models/poetry/sense.py, ``semantic=True``), its LM branch started from the
   third critic's weights (``sense.third.safetensors`` beside the installed critic; copied from
   sense.safetensors on the first run), frozen in the ``*_alone`` variants; the semantic branch adds
   to its logit. Variants (``--variant``):
   ``lines`` (coherence of line vectors added to the LM head), ``tokens`` (the encoder alone: token
   states + coherence), ``all`` (both branches, every feature).
4. (with ``train``) window AUC per kind on DEV and TEST, the third critic beside it; poem-level AUC on
   the held-out rewriter's poems (DEV topics).
5. ``--install``: of the variants that beat the third critic on DEV overall and on the rewriter's
   DEV poems, the best overall is written to sense.safetensors / sense.json (with the real-passage
   quartiles the quality mapping reads). Shipped: ``lines_alone`` (card: AUC per kind).
"""

from __future__ import annotations

import json
import os
import time
import zlib
from pathlib import Path

import numpy as np

from models.poetry.sense import SenseConfig, build_head, line_windows

# (config, LM branch frozen at the third critic's): the first three read line vectors pooled from
# the window's encoder states; the last two encode each line alone
VARIANTS = {"lines": (dict(sem_tokens=False), False), "tokens": (dict(lm_branch=False), False), "all": ({}, False),
            "lines_alone": (dict(sem_tokens=False, line_vectors=True), True),
            "all_alone": (dict(line_vectors=True), True)}
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python -m models.poetry.training.sense_semantic_train --step all --install"
NEGATIVES, REWRITES = Path("bench/poetry_negatives.json"), Path("bench/poetry_rewrite_negatives.json")
SHARD = 2048


def held_out_topics(path: Path, seed: int = 0, test_share: float = 0.25) -> list[str]:
    """The topics ``sense_train.loop_poems`` holds out (same draw)."""
    rows = json.loads(Path(path).read_text())["poems"]
    topics = sorted({r["topic"] for r in rows})
    order = np.random.default_rng(seed).permutation(len(topics))
    return sorted(topics[i] for i in order[: max(1, round(test_share * len(topics)))])


def topic_of_window(path: Path, topics: list[str]) -> dict[str, str]:
    """Window text -> topic, for the held-out topics' poems."""
    out = {}
    for r in json.loads(Path(path).read_text())["poems"]:
        if r["topic"] in topics:
            for lines in [r["kept"]["lines"]] + list(r.get("written", [])):
                for w in line_windows(list(lines)):
                    out.setdefault("\n".join(w), r["topic"])
    return out


def step_data(cache: Path, home: Path, seed: int, n_train: int, per_kind: int = 800, redo: bool = False,
              log=print) -> dict:
    from models.poetry.training.sense_train import build_data

    path = cache / "items.json"
    if path.exists() and not redo:
        return json.loads(path.read_text())
    _, _, tr, te, _, val, real_te, _, _ = build_data(home, seed, 10000, 3500, log, NEGATIVES, 2, REWRITES, cache)
    adv = list(dict.fromkeys(tuple(it) for it in tr if it[2] in ("loop", "loop_kept", "rewrite")))  # once each
    rest = [it for it in tr if it[2] not in ("loop", "loop_kept", "rewrite")]
    pick = np.random.default_rng(seed + 1).permutation(len(rest))[: max(0, n_train - len(adv))]
    train = adv + [rest[i] for i in sorted(pick)]
    # the held-out half, every adversarial window and at most ``per_kind`` of each other kind (cost)
    rng, keep = np.random.default_rng(seed + 2), []
    for kind in sorted({k for _, _, k in te}):
        idx = [i for i, it in enumerate(te) if it[2] == kind]
        cap = len(idx) if kind in ("loop", "loop_kept", "rewrite") else per_kind * (4 if kind == "real" else 1)
        keep += list(rng.permutation(idx)[:cap])
    te = [te[i] for i in sorted(keep)]
    # DEV / TEST: adversarial windows by topic (alternate held-out topics), the rest by a text hash
    dev_topics = {}
    for path_ in (NEGATIVES, REWRITES):
        held = held_out_topics(path_, seed)
        dev_topics.update({t: i % 2 == 0 for i, t in enumerate(held)})
    topic = {**topic_of_window(NEGATIVES, list(dev_topics)), **topic_of_window(REWRITES, list(dev_topics))}
    split = []
    for text, _, kind in te:
        if kind in ("loop", "loop_kept", "rewrite"):
            split.append("dev" if dev_topics[topic[text]] else "test")
        else:
            split.append("dev" if zlib.crc32(text.encode()) % 2 == 0 else "test")
    rew_dev = [(r["topic"], list(r["kept"]["lines"])) for r in json.loads(REWRITES.read_text())["poems"]
               if dev_topics.get(r["topic"]) is True]
    data = {"train": train, "heldout": te, "split": split, "dev_topics": sorted(t for t, d in dev_topics.items() if d),
            "real_te": real_te, "calibration": val[300:600], "rewrite_dev_poems": [p for _, p in rew_dev],
            "train_all": len(tr)}
    cache.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".tmp").write_text(json.dumps(data))
    path.with_suffix(".tmp").rename(path)
    return data


def load_critic(home: Path, cfg: SenseConfig, encoder=None):
    """A SenseCritic with a fresh head of ``cfg`` over the embedded poet's LM (+ the encoder)."""
    from models.common.causal_lm import load_causal_lm
    from models.common.encoder import load_encoder
    from models.poetry.corpus import KW, POEM
    from models.poetry.sense import SenseCritic

    model, tok = load_causal_lm(str(home), role="poet")
    return SenseCritic(model, tok, build_head(cfg), cfg, tok.encode(KW + POEM, add_special_tokens=False),
                       encoder or load_encoder())


def step_features(cache: Path, critic, texts: list[str], name: str, part: tuple[int, int] = (0, 1), log=print):
    """Shards ``{name}_{i}.pt``: per window (LM features (T, 193) fp16, encoder states (S, 384) fp16,
    line ids (S,) int8), in the order of ``texts``."""
    import torch

    for i in range(part[0], (len(texts) + SHARD - 1) // SHARD, part[1]):
        path, lock = cache / f"{name}_{i}.pt", cache / f"{name}_{i}.lock"
        if path.exists():
            continue
        try:  # a second process (the other CPU slot) takes the next free shard
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            continue
        t0, chunk = time.time(), texts[i * SHARD : (i + 1) * SHARD]
        order = np.argsort([len(t) for t in chunk], kind="stable")  # similar lengths per batch
        rows: list = [None] * len(chunk)
        for b in range(0, len(chunk), 64):
            idx = order[b : b + 64]
            batch = [chunk[j] for j in idx]
            f, m = critic.features(batch)
            s, sm, li = critic.semantic_features(batch)
            for r, j in enumerate(idx):
                n = int(m[r].sum())
                k = int(sm[r].nonzero().max()) + 2 if sm[r].any() else 2  # through [SEP]: padding trimmed
                rows[j] = (f[r, :n].half(), s[r, :k].half(), li[r, :k].to(torch.int8))
        torch.save(rows, path)
        lock.unlink()
        log(f"{name} shard {i}: {len(chunk)} windows, {time.time() - t0:.0f}s")


def unique_lines(texts: list[str]) -> list[str]:
    return sorted({ln for t in texts for ln in t.split("\n")}, key=lambda x: (len(x), x))


def step_lines(cache: Path, encoder, lines: list[str], name: str, log=print) -> None:
    """Each distinct line encoded alone (the sentence vector, (384,) fp16), in shards ``{name}_{i}.npy``."""
    for i in range((len(lines) + 4 * SHARD - 1) // (4 * SHARD)):
        path, lock = cache / f"{name}_{i}.npy", cache / f"{name}_{i}.lock"
        if path.exists():
            continue
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            continue
        t0 = time.time()
        np.save(path, encoder(lines[i * 4 * SHARD : (i + 1) * 4 * SHARD], batch_size=128).astype(np.float16))
        lock.unlink()
        log(f"{name} shard {i}: {time.time() - t0:.0f}s")


def load_lines(cache: Path, name: str, lines: list[str]) -> dict:
    vecs = np.concatenate([np.load(cache / f"{name}_{i}.npy") for i in range((len(lines) + 4 * SHARD - 1) // (4 * SHARD))])
    return dict(zip(lines, vecs))


def load_features(cache: Path, name: str, n: int) -> list:
    import torch

    rows: list = []
    for i in range((n + SHARD - 1) // SHARD):
        rows += torch.load(cache / f"{name}_{i}.pt", weights_only=True)
    return rows


def batches(rows: list, labels: list[float], bs: int = 64, order=None, texts=None, vecs=None) -> list:
    """Padded batches of similar length: (feats, mask, states, smask, line_ids, (line vectors, presence),
    labels, index); the line vectors from ``vecs`` (line -> vector) when given."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    from models.poetry.sense import MAX_LINES

    order = np.argsort([r[1].shape[0] * 1000 + r[0].shape[0] for r in rows], kind="stable") if order is None else order
    out = []
    for b in range(0, len(order), bs):
        idx = order[b : b + bs]
        f = pad_sequence([rows[j][0] for j in idx], batch_first=True)
        m = pad_sequence([torch.ones(rows[j][0].shape[0]) for j in idx], batch_first=True)
        li = pad_sequence([rows[j][2].long() for j in idx], batch_first=True, padding_value=-1)
        s = pad_sequence([rows[j][1] for j in idx], batch_first=True)
        lines = None
        if vecs is not None:
            v, present = torch.zeros(len(idx), MAX_LINES, 384), torch.zeros(len(idx), MAX_LINES, dtype=torch.bool)
            for r, j in enumerate(idx):
                for k, ln in enumerate(texts[j].split("\n")[:MAX_LINES]):
                    v[r, k], present[r, k] = torch.from_numpy(vecs[ln].astype(np.float32)), True
            lines = (v, present)
        out.append((f, m, s, (li >= 0).long(), li, lines, torch.tensor([labels[j] for j in idx]), idx))
    return out


def predict(head, bs: list) -> np.ndarray:
    import torch

    head.eval()
    out = np.zeros(sum(len(b[-1]) for b in bs))
    with torch.inference_mode():
        for f, m, s, sm, li, lines, _, idx in bs:
            out[idx] = torch.sigmoid(head(f.float(), m, s.float(), sm, li, lines=lines)).numpy()
    return out


def fit(cfg: SenseConfig, init: dict, btr: list, epochs: int, seed: int, ckpt: Path, freeze: bool = False, log=print):
    """Train the head (LM branch from ``init``; with ``freeze`` it stays the installed critic's and
    only the semantic branch learns) with AdamW + cosine decay; checkpoint every epoch."""
    import torch

    torch.manual_seed(seed)
    head = build_head(cfg)
    if cfg.lm_branch:
        head.load_state_dict(init, strict=False)
    if freeze:
        for name, p in head.named_parameters():
            p.requires_grad_(name.startswith("sem_"))
    opt = torch.optim.AdamW([p for p in head.parameters() if p.requires_grad], lr=2e-3, weight_decay=0.01)
    rng, start = np.random.default_rng(seed), 0
    if ckpt.exists():
        ck = torch.load(ckpt, weights_only=True)
        head.load_state_dict(ck["head"])
        opt.load_state_dict(ck["opt"])
        start, rng.bit_generator.state = ck["epoch"], json.loads(ck["rng"])
    head.train()
    for ep in range(start, epochs):
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = 2e-3 * (0.5 * (1 + np.cos(np.pi * ep / epochs)))
        for j in rng.permutation(len(btr)):
            f, m, s, sm, li, lines, y, _ = btr[j]
            logit = head(f.float(), m, s.float(), sm, li, lines=lines)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        torch.save({"head": head.state_dict(), "opt": opt.state_dict(), "epoch": ep + 1,
                    "rng": json.dumps(rng.bit_generator.state)}, ckpt)  # a string: loadable with weights_only
        log(f"epoch {ep + 1}/{epochs}: {time.time() - t0:.0f}s")
    head.eval()
    return head


def aucs(y: np.ndarray, p: np.ndarray, kinds: np.ndarray) -> dict:
    from models.poetry.training.sense_train import KINDS, roc_auc

    kinds = np.where(kinds == "loop_kept", "loop", kinds)
    out = {"all": roc_auc(y, p)}
    for kind in KINDS:
        if (kinds == kind).any():
            sel = (kinds == "real") | (kinds == kind)
            out[kind] = roc_auc(y[sel], p[sel])
    return out
