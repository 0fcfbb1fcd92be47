"""Training the embedded poet: corpus preparation, then a GPT-2 (transformers GPT2LMHeadModel)
trained from scratch on verse with keyword prefixes; resumable across sessions.

    arsnova train poetry --prepare      # passages, tokenizer, token arrays, n-gram indexes
    arsnova train poetry --preset base  # train (or resume) in <data>/runs/poetry-base
    arsnova train poetry --install      # copy the run into models/weights/poet/
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from models.common.runtime import use_threads
from models.common.training import resume_state, train_loop


@dataclass(frozen=True)
class PrepConfig:
    train_lines: int = 600_000  # verse lines in the training set (bounds the shipped n-gram index)
    val_passages: int = 2000
    vocab_size: int = 8192
    tokenizer_docs: int = 150_000
    seed: int = 0


@dataclass(frozen=True)
class PoetryTrainConfig:
    model: dict = field(default_factory=lambda: {"n_layer": 6, "n_head": 8, "n_embd": 256})
    steps: int = 20000
    batch_size: int = 16
    block_size: int = 128
    lr: float = 1.5e-3
    min_lr: float = 1e-4
    warmup: int = 300
    weight_decay: float = 0.05
    dropout: float = 0.0  # well under one epoch: no dropout needed
    eval_every: int = 250
    ckpt_every: int = 100
    val_windows: int = 128
    seed: int = 0
    threads: int = 2
    max_seconds: float = 0.0
    init_from: str = ""  # fine-tune: a poet model directory to start from (its shape replaces ``model``)
    patience: int = 0  # early stopping: evaluations without a better validation NLL (0 = off); the best is kept


PRESETS = {
    "small": PoetryTrainConfig(model={"n_layer": 4, "n_head": 6, "n_embd": 192}, steps=7000),  # the shipped poet
    "base": PoetryTrainConfig(model={"n_layer": 6, "n_head": 8, "n_embd": 256}),
    "wide": PoetryTrainConfig(model={"n_layer": 6, "n_head": 8, "n_embd": 384}),
}


def prepare(out_dir: Path, config: PrepConfig = PrepConfig(), df=None, log: Callable[[str], None] = print) -> dict:
    """Passages -> keyword documents -> tokenizer + uint16 token arrays + word n-gram indexes."""
    from models.poetry.corpus import KeywordPicker, document, passage_word_ngrams, train_tokenizer, verse_passages
    from models.poetry.training.data import load_gutenberg_lines

    t0 = time.time()
    out_dir.mkdir(parents=True, exist_ok=True)
    if df is None:
        df = load_gutenberg_lines()
    passages = verse_passages(df["text"].tolist(), df["syllables"].tolist(), seed=config.seed)
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(passages))
    val = [passages[i] for i in order[: config.val_passages]]
    train, n_lines = [], 0
    for i in order[config.val_passages :]:
        if n_lines >= config.train_lines:
            break
        train.append(passages[i])
        n_lines += len(passages[i])
    log(f"{len(passages)} passages; train {len(train)} ({n_lines} lines), val {len(val)}")
    picker = KeywordPicker.from_passages(train)
    docs = [document(p, picker.pick(p, rng)) for p in train]
    vdocs = [document(p, picker.pick(p, rng)) for p in val]
    tok = train_tokenizer(docs[: config.tokenizer_docs], config.vocab_size)
    tok.save(str(out_dir / "tokenizer.json"))
    for name, ds in (("train", docs), ("val", vdocs)):
        ids = np.concatenate([np.array(e.ids, dtype=np.uint16) for e in tok.encode_batch(ds)])
        np.save(out_dir / f"{name}.npy", ids)
        log(f"{name}: {len(ids)} tokens")
    for n in (4, 5):
        idx = passage_word_ngrams(train, n)
        idx.save(out_dir / f"poetry-ngrams{n}.npz")
        log(f"word {n}-grams: {len(idx)}")
    counts: dict[str, int] = {}
    for p in train:
        for w in picker.content_words(" ".join(p)):
            counts[w] = counts.get(w, 0) + 1
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:20000]
    stats = {"passages": len(train), "lines": n_lines, "val_passages": len(val), "vocab_size": tok.get_vocab_size(),
             "seconds": round(time.time() - t0), "prep": asdict(config)}
    # the topic-adherence baseline: random held-out passages (a poem should beat them on its topic)
    (out_dir / "baseline_passages.json").write_text(json.dumps(["\n".join(p) for p in val[:300]]))
    (out_dir / "content_words.json").write_text(json.dumps({"stop": sorted(picker.stop), "words": top}))
    (out_dir / "corpus.json").write_text(json.dumps(stats, indent=1))
    return stats


def build_poet_model(vocab_size: int, block_size: int, model: dict, dropout: float = 0.0):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=vocab_size, n_positions=block_size, n_embd=model["n_embd"], n_layer=model["n_layer"],
                     n_head=model["n_head"], resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
                     bos_token_id=0, eos_token_id=0, loss_type="ForCausalLM")
    return GPT2LMHeadModel(cfg)


def _save_weights(model, path: Path, extra: dict) -> None:
    from models.common.checkpoint import save_safetensors

    sd = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}  # tied to wte
    save_safetensors(sd, path, {"config": model.config.to_dict(), **extra})


def _batch(data: np.ndarray, starts: np.ndarray, length: int):
    import torch

    return torch.from_numpy(np.stack([data[s : s + length] for s in starts]).astype(np.int64))


def evaluate(model, batches: list) -> float:
    """Mean NLL (nats) per token on fixed validation windows."""
    import torch

    model.eval()
    tot, n = 0.0, 0
    with torch.inference_mode():
        for x in batches:
            out = model(x, labels=x)
            k = x.shape[0] * (x.shape[1] - 1)
            tot += float(out.loss) * k
            n += k
    model.train()
    return tot / max(n, 1)


def train(data_dir: Path, out_dir: Path, config: PoetryTrainConfig, log: Callable[[str], None] = print,
          progress: Callable[[int, int, float], None] | None = None, should_stop: Callable[[], bool] | None = None) -> dict:
    """Train (or resume) on ``data_dir``'s token arrays; see ``models.common.training.train_loop``."""
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        return _train(data_dir, out_dir, config, log, progress, should_stop)


def load_poet_weights(model, tensors: dict) -> None:
    model.load_state_dict(tensors, strict=False)  # lm_head is tied to the embeddings
    model.tie_weights()


def _train(data_dir: Path, out_dir: Path, config: PoetryTrainConfig, log: Callable[[str], None],
           progress=None, should_stop=None) -> dict:
    import torch

    use_threads(config.threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    tr = np.load(data_dir / "train.npy", mmap_mode="r")
    va = np.load(data_dir / "val.npy")
    if config.init_from:  # transfer learning: the shipped poet's shape and weights, in fp32
        from models.common.causal_lm import load_causal_lm

        model = load_causal_lm(config.init_from, role="poet")[0]
        model.loss_type = "ForCausalLM"  # from_pretrained leaves it unset (a warning on every loss)
        for m in model.modules():  # a small corpus is learned in a few passes: dropout against memorising it
            if isinstance(m, torch.nn.Dropout):
                m.p = config.dropout
        L = min(config.block_size, int(model.config.n_positions))
    else:
        vocab = json.loads((data_dir / "corpus.json").read_text())["vocab_size"]
        model = build_poet_model(vocab, config.block_size, config.model, config.dropout)
        L = config.block_size
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.98))
    state = resume_state(model, opt, out_dir, config, load_poet_weights, log)
    if len(tr) <= L + 1 or len(va) <= L + 1:
        L = int(min(len(tr), len(va))) - 2  # a small corpus: windows as long as it allows
    vstarts = np.linspace(0, len(va) - L - 1, config.val_windows).astype(np.int64)
    val_batches = [_batch(va, vstarts[j : j + 16], L) for j in range(0, len(vstarts), 16)]
    rng = np.random.default_rng(config.seed + state["step"])
    n_params = sum(p.numel() for p in model.parameters())
    shape = {k: getattr(model.config, k) for k in ("n_layer", "n_head", "n_embd")}
    log(f"GPT-2 {shape}: {n_params / 1e6:.2f}M params, {len(tr)} train tokens")

    def step_loss():
        x = _batch(tr, rng.integers(0, len(tr) - L - 1, config.batch_size), L)
        return model(x, labels=x).loss, x.numel()

    return train_loop(model, opt, state, config, out_dir, step_loss=step_loss,
                      evaluate=lambda: evaluate(model, val_batches), save_model=_save_weights, log=log,
                      progress=progress, should_stop=should_stop)


def install_poet(data_dir: Path, run_dir: Path, weights_dir: Path) -> Path:
    """The run as a transformers model directory (fp16 safetensors) + tokenizer + n-gram indexes."""
    import shutil

    import torch

    from models.common.checkpoint import load_safetensors
    from models.poetry.corpus import wrap_tokenizer

    state = json.loads((run_dir / "state.json").read_text())
    corpus = json.loads((data_dir / "corpus.json").read_text())
    tensors, _ = load_safetensors(run_dir / "model.safetensors")
    c = state["config"]
    model = build_poet_model(corpus["vocab_size"], c["block_size"], c["model"])
    load_poet_weights(model, tensors)
    dest = weights_dir / "poet"
    dest.mkdir(parents=True, exist_ok=True)
    model.to(torch.float16).save_pretrained(dest, safe_serialization=True)
    from tokenizers import Tokenizer

    wrap_tokenizer(Tokenizer.from_file(str(data_dir / "tokenizer.json"))).save_pretrained(dest)
    for f in ("poetry-ngrams4.npz", "poetry-ngrams5.npz", "content_words.json", "baseline_passages.json"):
        shutil.copyfile(data_dir / f, dest / f)
    card = {"val_nll": state.get("val_nll") or state["history"][-1]["val_nll"], "train_step": state["step"],
            "tokens_seen": state["tokens_seen"], "train_seconds": round(state["seconds"]),
            "params": state.get("params"), "corpus": corpus, "config": c}
    (dest / "training.json").write_text(json.dumps(card, indent=1))
    return dest
