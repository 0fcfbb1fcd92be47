"""`arsnova learn poems FILE_OR_FOLDER --name NAME`: fine-tune the embedded poet on a person's poems.

1. read plain-text / Markdown files (each kept or skipped with one reason; Markdown headings,
front matter, emphasis and code are dropped), 2. cut the poems into passages as the shipped
poet was trained (keyword prefix + lines) and hold out whole poems, 3. fine-tune the shipped
GPT-2 from its weights with its tokenizer (lower learning rate, early stopping on the held-out
NLL, a wall-time cap; resumable), 4. index the person's word 4- and 5-grams (what novelty is
measured against) and add their words to the lexicon, 5. sample plain lines to measure how much
of the poems they copy, 6. register the poet under NAME with its card.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from models.common import learned
from models.common.errors import Cancelled, UserFixableError

POEM_SUFFIXES = (".txt", ".md", ".markdown", ".text")
STYLE_FILE = "style.npy"  # the mean sentence vector of the person's poems: how near a poem is to them
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_LINES = 200_000
MAX_LINE_CHARS = 120
_MD_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|`+|~~)")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HTML = re.compile(r"<[^>]{0,200}>")
_ROMAN = re.compile(r"^[IVXLCDM]+\.?$")
_LETTER = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class LearnPoemsSettings:
    steps: int = 600
    lr: float = 2e-4  # the shipped poet trained at 1.5e-3: adapt it, do not wipe it
    min_lr: float = 2e-5
    warmup: int = 20
    batch_size: int = 16
    block_size: int = 128
    eval_every: int = 25
    patience: int = 4
    dropout: float = 0.0  # measured on the unseen sonnets: 0.1 ended at 4.62 nats held out, none at 4.53
    val_fraction: float = 0.1  # of the poems, held out whole
    max_seconds: float = 600.0
    max_files: int = 2000
    seed: int = 0
    threads: int = 1
    samples: int = 6  # plain passages sampled to measure the copy rate the card reports


def clean_lines(text: str) -> list[str]:
    """A poem file's lines, Markdown taken off: front matter, headings, code blocks, emphasis
    marks, links (their text kept), HTML tags, block quotes, hard-break backslashes. Blank lines
    stay (they separate stanzas and poems)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = next((i for i, ln in enumerate(lines[:2000]) if ln.startswith("*** START OF")), None)
    if start is not None:  # a Project Gutenberg book: its licence header and footer are not poems
        end = next((i for i, ln in enumerate(lines) if ln.startswith("*** END OF")), len(lines))
        lines = lines[start + 1 : end]
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((i for i, ln in enumerate(lines[1:], 1) if ln.strip() in ("---", "...")), None)
        if end is not None:
            lines = lines[end + 1 :]
    out, fenced = [], False
    for ln in lines[:MAX_LINES]:
        s = ln.strip()
        if s.startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced or s.startswith("#") or set(s) <= set("-=*_ ") and len(s) >= 3:
            out.append("")  # a heading or a rule ends a poem
            continue
        s = s.lstrip("> ").rstrip("\\").strip()
        s = _MD_LINK.sub(r"\1", s)
        s = _HTML.sub("", s)
        s = _MD_EMPHASIS.sub("", s)
        s = " ".join(s.split())
        out.append(s)
    return drop_prose(out)


def drop_prose(lines: list[str]) -> list[str]:
    """Blank out paragraphs of prose (a preface, notes, a dedication): blocks of three or more
    long lines (median 55+ characters) that mostly run on into the next line in lower case, as a
    book's wrapped paragraphs do and verse, line by line, does not."""
    out = list(lines)
    i = 0
    while i < len(out):
        if not out[i]:
            i += 1
            continue
        j = i
        while j < len(out) and out[j]:
            j += 1
        block = out[i:j]
        if len(block) >= 3:
            lengths = sorted(len(x) for x in block)
            run_on = sum(x[:1].islower() for x in block[1:]) / (len(block) - 1)
            if lengths[len(lengths) // 2] >= 55 and run_on >= 0.5:
                out[i:j] = [""] * len(block)
        i = j
    return out


def is_poem_line(line: str) -> bool:
    """A line of verse: letters, not too long, not a title made of capitals or a roman numeral."""
    if not line or len(line) > MAX_LINE_CHARS or not _LETTER.search(line) or _ROMAN.match(line):
        return False
    letters = [c for c in line if c.isalpha()]
    return not (len(letters) > 3 and all(c.isupper() for c in letters))  # "THE SONNETS"


def poems_of(lines: list[str]) -> list[list[str]]:
    """Poems: runs of verse lines; one blank line is a stanza break, two or a heading end a poem.
    A line that is not verse (a title, a number) ends a poem too."""
    poems: list[list[str]] = []
    cur: list[str] = []
    blank = 0
    for ln in lines:
        if not ln:
            blank += 1
            if blank >= 2 and cur:
                poems.append(cur)
                cur = []
            continue
        if not is_poem_line(ln):
            if cur:
                poems.append(cur)
            cur, blank = [], 0
            continue
        blank = 0
        cur.append(ln)
    if cur:
        poems.append(cur)
    return [p for p in poems if len(p) >= 2]


def passages_of(poem: list[str], rng: np.random.Generator, max_lines: int = 14) -> list[list[str]]:
    """A poem cut into passages of at most ``max_lines`` (a sonnet stays whole)."""
    if len(poem) <= max_lines:
        return [poem]
    out, i = [], 0
    while i < len(poem):
        k = int(rng.integers(6, max_lines + 1))
        part = poem[i : i + k]
        if len(part) >= 2:
            out.append(part)
        i += k
    return out


@dataclass(frozen=True)
class ReadPoems:
    poems: list[list[str]]
    files_used: int
    skipped: dict[str, int]
    sources: list[str]


def read_poems(source: Path, max_files: int, log: Callable[[str], None] = print) -> ReadPoems:
    from models.common.files import read_capped

    found = learned.collect_files(source, POEM_SUFFIXES, max_files, "poems")
    skips = found.skips(log, max_files, "text files")
    poems: list[list[str]] = []
    used: list[str] = []
    for p in found.files:
        try:
            raw = read_capped(p, MAX_FILE_BYTES, "poem file")
        except UserFixableError as e:
            why = str(e).removeprefix(f"{p}: ")
            skips.add(p, why, "too large" if "byte limit" in why else "cannot be read")
            continue
        if b"\x00" in raw[:4096]:
            skips.add(p, "binary data, not text", "not text")
            continue
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            skips.add(p, f"not UTF-8 text (byte {e.start}); save it as UTF-8", "not UTF-8")
            continue
        found_poems = poems_of(clean_lines(text))
        if not found_poems:
            skips.add(p, "no lines of verse found", "no verse")
            continue
        poems += found_poems
        used.append(str(p))
    return ReadPoems(poems, len(used), skips.as_dict(), used)


def learn_poems(source: Path, name: str, data_dir: Path, weights_dir: Path,
                settings: LearnPoemsSettings = LearnPoemsSettings(), log: Callable[[str], None] = print,
                progress: Callable[[int, int, float], None] | None = None,
                should_stop: Callable[[], bool] | None = None, replace: bool = False,
                encoder=None) -> learned.LearnedModel:
    """Read, fine-tune, index, measure and register; see the module docstring. ``encoder``: the
    sentence encoder for the style vector (the shipped MiniLM when None)."""
    import shutil

    from models.poetry.training.train import PoetryTrainConfig, train

    t0 = time.time()
    learned.check_name(name)
    learned.check_free(data_dir, "poet", name, replace)
    home = Path(weights_dir) / "poet"
    if not (home / "config.json").exists():
        raise UserFixableError(f"the embedded poet is missing at {home}; reinstall Ars Nova or pass --weights")
    read = read_poems(source, settings.max_files, log)
    n_lines = sum(len(p) for p in read.poems)
    if len(read.poems) < 2 or n_lines < 8:
        raise UserFixableError(f"{source}: {len(read.poems)} poems, {n_lines} lines of verse found "
                               f"({sum(read.skipped.values())} files skipped); learning needs at least 2 poems and 8 "
                               "lines (plain text or Markdown, UTF-8, a blank line between stanzas)")
    log(f"read {len(read.poems)} poems, {n_lines} lines from {read.files_used} files "
        f"({sum(read.skipped.values())} skipped)")
    digest = hashlib.sha256(json.dumps([read.poems, asdict(settings)]).encode()).hexdigest()[:16]
    run = learned.open_run(data_dir, "poet", name, digest, source, log)
    data = run / "data"
    data.mkdir(parents=True, exist_ok=True)
    split = prepare_poems(read.poems, home, data, settings)
    tc = PoetryTrainConfig(steps=settings.steps, batch_size=settings.batch_size, block_size=settings.block_size,
                           lr=settings.lr, min_lr=settings.min_lr, warmup=settings.warmup,
                           eval_every=settings.eval_every, ckpt_every=settings.eval_every, val_windows=32,
                           seed=settings.seed, threads=settings.threads, max_seconds=settings.max_seconds,
                           init_from=str(home), patience=settings.patience, dropout=settings.dropout)
    state = train(data, run / "train", tc, log=log, progress=progress, should_stop=should_stop)
    if state.get("cancelled"):
        raise Cancelled(f"learning {name} cancelled at step {state['step']}; run the same command again to resume")

    stage = learned.staging_dir(data_dir, "poet", name)
    try:
        install_learned_poet(run / "train", home, stage)
        for f in ("poetry-ngrams4.npz", "poetry-ngrams5.npz", "lexicon_extra.json"):
            shutil.copyfile(data / f, stage / f)
        write_style_vector(read.poems, stage / STYLE_FILE, encoder)
        copy, samples = plain_copy_rate(stage, split["train"], settings)
        card = {
            "kind": "poet", "name": name, "unit": "poems", "source": str(source), "files_used": read.files_used,
            "files_skipped": sum(read.skipped.values()), "skipped": read.skipped, "poems": len(read.poems),
            "lines": n_lines, "held_out": split["held_out"], "base": f"arsnova-poet@step{_base_step(home)}",
            "steps": state["step"], "best_step": state["best_step"], "early_stopped": bool(state.get("early_stopped")),
            "train_seconds": round(state["seconds"], 1), "seconds": round(time.time() - t0, 1),
            "val_nll_before": round(state["val_before"], 4), "val_nll_after": round(state["best_val"], 4),
            "copy_rate_plain": round(copy, 4), "settings": asdict(settings), "plain_samples": samples,
            "learned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": read.sources[:200],
        }
        (stage / "CARD.md").write_text(learned.card_lines(card))
        model = learned.register(stage, data_dir, "poet", name, card, replace)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    shutil.rmtree(run, ignore_errors=True)
    return model


def write_style_vector(poems: list[list[str]], path: Path, encoder=None) -> None:
    """The unit mean of the poems' sentence vectors (stanzas of up to 8 lines): the critique's
    "how near to NAME" is a poem's cosine to it, against random verse's."""
    if encoder is None:
        from models.common.encoder import load_encoder

        encoder = load_encoder()
    chunks = ["\n".join(p[i : i + 8]) for p in poems for i in range(0, len(p), 8)][:4000]
    vecs = encoder(chunks, batch_size=64).astype(np.float32)
    centre = vecs.mean(0)
    np.save(path, (centre / max(float(np.linalg.norm(centre)), 1e-9)).astype(np.float32))


def _base_step(home: Path) -> object:
    try:
        return json.loads((home / "training.json").read_text()).get("train_step", "?")
    except (OSError, ValueError):
        return "?"


def prepare_poems(poems: list[list[str]], home: Path, out: Path, settings: LearnPoemsSettings) -> dict:
    """Keyword documents in the shipped poet's format and tokenizer (train/val token arrays, whole
    poems held out), the person's word 4/5-gram indexes and the words to add to the lexicon."""
    from tokenizers import Tokenizer

    from models.poetry.corpus import FUNCTION_WORDS, KeywordPicker, document, passage_word_ngrams, words
    from models.poetry.lexicon import load_lexicon

    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(len(poems))
    n_val = max(1, round(len(poems) * settings.val_fraction))
    val_poems = [poems[i] for i in order[:n_val]]
    train_poems = [poems[i] for i in order[n_val:]]
    train = [p for poem in train_poems for p in passages_of(poem, rng)]
    val = [p for poem in val_poems for p in passages_of(poem, rng)]
    shipped = json.loads((home / "content_words.json").read_text())
    counts = Counter(w for p in train for ln in p for w in set(words(ln)))
    known = {w for w, _ in shipped["words"]} | {w for w, n in counts.items() if n >= 2 and len(w) >= 3}
    picker = KeywordPicker(FUNCTION_WORDS, frozenset(known))
    tok = Tokenizer.from_file(str(home / "tokenizer.json"))
    repeat = max(1, 4000 // max(1, sum(len(p) for p in train)))  # a few poems: several keyword draws each
    for name, ps, reps in (("train", train, repeat), ("val", val, 1)):
        docs = [document(p, picker.pick(p, rng)) for _ in range(reps) for p in ps]
        ids = np.concatenate([np.array(e.ids, dtype=np.uint16) for e in tok.encode_batch(docs)])
        np.save(out / f"{name}.npy", ids)
    for n in (4, 5):
        passage_word_ngrams(poems, n).save(out / f"poetry-ngrams{n}.npz")
    lexicon = load_lexicon(home)
    every = Counter(w for p in poems for ln in p for w in words(ln))
    extra = sorted(w for w, n in every.items() if n >= 2 and not lexicon.known(w))
    (out / "lexicon_extra.json").write_text(json.dumps({"words": extra, "source": "the person's poems, seen twice"}))
    return {"train": train, "held_out": len(val_poems)}


def install_learned_poet(run_dir: Path, home: Path, dest: Path) -> None:
    """The best checkpoint as a transformers model directory (fp16 safetensors) with the shipped tokenizer."""
    import torch

    from models.common.causal_lm import load_causal_lm
    from models.common.checkpoint import load_safetensors
    from models.poetry.training.train import load_poet_weights

    model, tok = load_causal_lm(str(home), role="poet")
    tensors, _ = load_safetensors(run_dir / "best.safetensors")
    load_poet_weights(model, tensors)
    model.to(torch.float16).save_pretrained(dest, safe_serialization=True)
    tok.save_pretrained(dest)


def plain_copy_rate(model_dir: Path, passages: list[list[str]], settings: LearnPoemsSettings) -> tuple[float, list[str]]:
    """Word 5-gram copy rate, against the person's poems, of plain samples (the LM alone, on the
    keywords of their own passages, no form and no revision): how much round 0 imitates them;
    and the samples themselves (chosen by seed, for the card)."""
    import torch

    from models.common.causal_lm import load_causal_lm
    from models.common.ngram_index import NgramIndex
    from models.poetry.corpus import EOS, KW, POEM, word_ids

    model, tok = load_causal_lm(str(model_dir), role="poet")
    index = NgramIndex.load(model_dir / "poetry-ngrams5.npz")
    rng = np.random.default_rng(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    rates, texts = [], []
    for i in rng.permutation(len(passages))[: settings.samples]:
        first = passages[int(i)][0].split()
        prompt = f"{KW}{' '.join(w for w in first if len(w) > 3)[:40]}{POEM}"
        x = torch.tensor([tok.encode(prompt, add_special_tokens=False)])
        room = int(getattr(model.config, "n_positions", 128)) - x.shape[1]
        with torch.inference_mode():
            for _ in range(min(96, room)):
                logits = model(x).logits[0, -1].float()
                probs = torch.softmax(logits / 0.9, -1)
                nxt = torch.multinomial(probs, 1, generator=gen)
                x = torch.cat([x, nxt[None]], 1)
                if tok.decode(nxt) == EOS:
                    break
        text = tok.decode(x[0].tolist()).split(POEM, 1)[-1].replace(EOS, " ")
        texts.append(text.strip())
        ids = word_ids(text)
        if len(ids) >= 5:
            rates.append(index.copy_rate(ids))
    return (float(np.mean(rates)) if rates else 0.0), texts
