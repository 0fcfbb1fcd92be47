"""The sense critic: does a window of verse read like real verse, or like the poet's own samples?

A discriminator in the generator/discriminator sense. It reads a window of 1-4 consecutive lines
through the embedded poet's own language model (frozen) and classifies it from the LM's last
hidden state and the log-probability of each token: a linear projection, a one-layer
bidirectional GRU, mean+max pooling, a logit. Trained (models/poetry/training/sense_train.py)
on held-out corpus windows (real) against the poet's unconstrained samples, word-shuffled and
word-substituted corpus lines (generated), so it hears both word salad and broken syntax, and
against the poems the poet wrote while an earlier critic chose its lines (the adversarial round:
the generator learns to please whichever critic ranks its candidates, so the critic is retrained
on what pleased the last one; poem-level AUC on the bench's test topics 0.55 -> 0.97), and a second
round against the rewriting poet (models/poetry/rewrite.py): its poems on dev topics, stitched
sentences, LM-guided word substitutions and fragment lists (card: AUC per kind). The fourth critic
(``semantic=True``; models/poetry/training/sense_semantic.py) keeps that LM branch frozen and adds
a semantic branch on the frozen sentence encoder (all-MiniLM-L6-v2): each line's sentence vector
against its neighbours and the window, so a change of subject is heard (stitched windows 0.61 ->
0.64 on its test split; a wrong-sense word is still not: card). The fifth, shipped (``cross_tuned``;
models/poetry/training/sense_cross.py), keeps the third's head frozen and adds the logit of a
cross-encoder: the sentence encoder with its top layers fine-tuned, reading the window as one text, so
each word is read against the words on both sides of it (the rewriter's poems against real passages,
poem-level AUC 0.685 -> 0.864 on the test topics: card). Older critics' files load unchanged.

Scores are probabilities that the window is real verse. Per line: the window ending at that
line (up to ``context`` lines before it, so a line is judged with what it continues); per poem:
the mean over its lines. The LM is the embedded poet's even when another model writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SENSE_FILE = "sense.safetensors"
HELDOUT_FILE = "baseline_passages.json"  # held-out passages: the real yardstick (never trained on)


@dataclass(frozen=True)
class SenseConfig:
    features: int = 193  # LM hidden size + the token's log-probability
    hidden: int = 64
    max_tokens: int = 72
    context: int = 2  # lines before a line in its window
    # the semantic branch (issue 20, fourth critic): the frozen sentence encoder (all-MiniLM-L6-v2)
    # reads the same window; off in the older critics' files, which load as they were trained
    semantic: bool = False
    sem_tokens: bool = True  # a projection of its token states, mean+max pooled
    sem_lines: bool = True  # each line's vector against its neighbours and the window (coherence)
    lm_branch: bool = True  # the poet LM's GRU branch (hears shuffles and the poet's samples)
    # line vectors from the encoder reading each line alone (its sentence vector), not pooled from the
    # window's token states (where the lines read each other and all look alike)
    line_vectors: bool = False
    sem_hidden: int = 64
    sem_max_tokens: int = 96
    # the cross-encoder (issue 20, the fifth critic, shipped: models/poetry/training/sense_cross.py):
    # the sentence encoder with its top ``cross_tuned`` layers fine-tuned reads the window as one text,
    # so each word is read against the words on both sides of it; 0: none (the older critics)
    cross_tuned: int = 0
    cross_mix: str = "sum"  # "sum": the LM head's logit + the cross-encoder's; "alone": the cross-encoder's
    cross_max_tokens: int = 64


@dataclass(frozen=True)
class PoemSense:
    score: float  # mean of the per-line scores, 0..1
    lines: tuple[float, ...]


def build_head(cfg: SenseConfig):
    import torch
    from torch import nn

    class SenseHead(nn.Module):
        """LM features (B, T, 193) + mask [+ encoder states (B, S, 384), mask, line ids] -> (B,) logits.
        The semantic branch adds to the LM branch's logit (``out``), so a head starts as the LM one."""

        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(cfg.features, cfg.hidden)
            self.gru = nn.GRU(cfg.hidden, cfg.hidden, batch_first=True, bidirectional=True)
            self.out = nn.Linear(4 * cfg.hidden, 1)
            if cfg.semantic:
                k = cfg.sem_hidden
                width = (4 * cfg.hidden if cfg.lm_branch else 0) + (2 * k if cfg.sem_tokens else 0)
                if cfg.sem_lines:
                    self.sem_cross = nn.Linear(2 * 384, 32)
                    width += 32 + N_COHERENCE
                if cfg.sem_tokens:
                    self.sem_proj = nn.Linear(384, k)
                self.sem_mix = nn.Sequential(nn.Linear(width, k), nn.GELU(), nn.Linear(k, 1))

        def lm(self, feats, mask):
            x = torch.tanh(self.proj(feats))
            if cfg.semantic:  # packed: padding never reaches the GRU, so a score does not depend on its batch
                from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

                lengths = mask.sum(1).clamp(min=1).cpu()
                packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                h, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=x.shape[1])
            else:  # the older critics were trained with the padding read
                h, _ = self.gru(x)  # (B, T, 2H)
            return _pool(h, mask)  # (B, 4H)

        def forward(self, feats, mask, states=None, smask=None, line_ids=None, lines=None):
            """``lines``: (B, 4, 384) unit vectors of each line read alone and (B, 4) presence."""
            if not cfg.semantic:
                return self.out(self.lm(feats, mask))[:, 0]
            parts, logit = [], 0.0
            if cfg.lm_branch:
                pooled = self.lm(feats, mask)
                logit = self.out(pooled)[:, 0]
                parts.append(pooled)
            if cfg.sem_tokens:
                parts.append(_pool(torch.tanh(self.sem_proj(states)), smask))
            if cfg.sem_lines:
                coh, last, ctx = coherence(*(lines if cfg.line_vectors else line_vectors(states, line_ids)))
                parts += [coh, torch.tanh(self.sem_cross(torch.cat([last * ctx, (last - ctx).abs()], -1)))]
            return logit + self.sem_mix(torch.cat(parts, -1))[:, 0]

    return SenseHead()


CROSS_SEP = " / "  # how the cross-encoder reads a line break (its tokenizer hears none in a newline)


def build_cross(encoder_model, cfg: SenseConfig):
    """The cross-encoder: a copy of the sentence encoder (all-MiniLM-L6-v2) whose top ``cfg.cross_tuned``
    layers are trained (the rest stay the encoder's, frozen), mean-pooled to one logit."""
    import copy

    import torch
    from torch import nn

    class CrossReader(nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = copy.deepcopy(encoder_model)
            self.tuned_from = len(self.bert.encoder.layer) - cfg.cross_tuned
            for name, p in self.bert.named_parameters():
                p.requires_grad_(self.tuned(name))
            self.cls = nn.Linear(self.bert.config.hidden_size, 1)

        def tuned(self, name: str) -> bool:
            """A parameter of the encoder (named as in ``self.bert``) that training changes."""
            return name.startswith("encoder.layer.") and int(name.split(".")[2]) >= self.tuned_from

        def train(self, mode: bool = True):
            super().train(mode)
            self.bert.embeddings.eval()  # the frozen part keeps no dropout
            for layer in self.bert.encoder.layer[: self.tuned_from]:
                layer.eval()
            return self

        def forward(self, input_ids, attention_mask):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask[..., None].to(h.dtype)
            return self.cls((h * m).sum(1) / m.sum(1).clamp(min=1))[:, 0]

        def tuned_state(self) -> dict:
            """What a critic file stores of it (``cross.``-prefixed): the tuned layers and the logit."""
            return {f"cross.{k}": v for k, v in self.state_dict().items()
                    if k.startswith("cls.") or (k.startswith("bert.") and self.tuned(k[5:]))}

    return CrossReader()


def cross_ids(tokenizer, texts: list[str], max_tokens: int):
    """Token ids (B, S) and mask of each window read as one text (lines joined by CROSS_SEP); a long
    window loses its first words, never the last line's (the candidate being judged)."""
    import torch

    rows = tokenizer([CROSS_SEP.join(t.split("\n")) for t in texts], add_special_tokens=True)["input_ids"]
    rows = [r if len(r) <= max_tokens else r[:1] + r[len(r) - max_tokens + 1 :] for r in rows]
    S = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id or 0
    ids = torch.tensor([r + [pad] * (S - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (S - len(r)) for r in rows])
    return ids, mask


N_COHERENCE = 8
LINE_CACHE = 4096  # sentence vectors a critic keeps (1.5 MB)
MAX_LINES = 4  # a window is at most 4 lines (the critic's context + the line)


def _pool(h, mask):
    """Mean and max over the unmasked tokens: (B, T, D) -> (B, 2D)."""
    import torch

    m = mask[..., None].float()
    mean = (h * m).sum(1) / m.sum(1).clamp(min=1)
    mx = h.masked_fill(m == 0, -1e4).max(1).values
    return torch.cat([mean, mx], -1)


def line_vectors(states, line_ids):
    """Each line's vector pooled from the window's token states (B, S, 384) by each token's line
    (-1: special or padding) -> (B, 4, 384) unit vectors and (B, 4) presence."""
    import torch
    from torch.nn.functional import normalize

    onehot = torch.stack([(line_ids == i) for i in range(MAX_LINES)], -1).float()  # (B, S, L)
    return normalize(torch.einsum("bsl,bsd->bld", onehot, states.float()), dim=-1), onehot.sum(1) > 0


def coherence(v, present):
    """Does the last line go on with what comes before it? From the lines' unit vectors (B, 4, 384)
    and presence (B, 4) -> (B, 8) cosines (last line to the line before, to the lines before, to the
    window; mean and least of neighbouring lines; mean of line to window; has context; lines/4), the
    last line's vector and the context's (B, 384) each."""
    import torch
    from torch.nn.functional import normalize

    v, present = v.float(), present.bool()
    n = present.sum(1).clamp(min=1)  # lines in the window
    idx = torch.arange(v.shape[0])
    last = v[idx, n - 1]
    before = (torch.arange(MAX_LINES)[None] < (n - 1)[:, None]).float()  # (B, L)
    ctx = normalize((v * before[..., None]).sum(1), dim=-1)  # zero when the window is one line
    prev = v[idx, (n - 2).clamp(min=0)] * (n > 1).float()[:, None]
    win = normalize((v * present[..., None].float()).sum(1), dim=-1)
    adj = (v[:, 1:] * v[:, :-1]).sum(-1)  # (B, L-1)
    pair = present[:, 1:] & present[:, :-1]
    has = pair.any(1).float()
    adj_mean = (adj * pair).sum(1) / pair.sum(1).clamp(min=1)
    adj_min = adj.masked_fill(~pair, 2.0).min(1).values * has
    to_win = ((v * win[:, None]).sum(-1) * present).sum(1) / n
    coh = torch.stack([(last * prev).sum(-1), (last * ctx).sum(-1), (last * win).sum(-1), adj_mean, adj_min,
                       to_win, (n > 1).float(), n.float() / MAX_LINES], -1)
    return coh, last, ctx


def line_windows(lines: list[str], context: int = 2) -> list[list[str]]:
    """The windows a poem is judged by: each line with up to ``context`` lines before it."""
    return [lines[max(0, i - context) : i + 1] for i in range(len(lines))]

class SenseCritic:
    """The frozen poet LM + the trained head; call ``windows`` / ``lines`` / ``poem``."""

    def __init__(self, model, tokenizer, head, cfg: SenseConfig, prefix: list[int], encoder=None, cross=None):
        self.model, self.tokenizer, self.head, self.cfg, self.prefix = model, tokenizer, head, cfg, prefix
        self.encoder = encoder  # models.common.encoder.SentenceEncoder; the semantic branch and the cross-encoder
        self.cross = cross  # build_cross's module (its tokenizer is the encoder's); only with cfg.cross_tuned
        self._line_vecs: dict[str, np.ndarray] = {}  # line -> sentence vector: a poem's lines recur in
        # every candidate's window, so each is encoded once (bounded: cleared past LINE_CACHE)

    def features(self, texts: list[str]):
        """Token features of each text after the no-keyword prompt: (B, T, 193) and the mask (B, T)."""
        import torch

        enc = [self.tokenizer.encode(t, add_special_tokens=False)[: self.cfg.max_tokens] or [self.prefix[-1]]
               for t in texts]
        P, T = len(self.prefix), max(len(e) for e in enc)
        pad = self.prefix[-1]
        x = torch.tensor([self.prefix + e + [pad] * (T - len(e)) for e in enc])
        with torch.inference_mode():
            out = self.model(input_ids=x, output_hidden_states=True)
            lp = torch.log_softmax(out.logits[:, P - 1 : P - 1 + T].float(), -1)
            tok_lp = lp.gather(2, x[:, P:, None])  # (B, T, 1): how expected each token was
            hid = out.hidden_states[-1][:, P:].float()
        mask = torch.tensor([[1] * len(e) + [0] * (T - len(e)) for e in enc])
        return torch.cat([hid, tok_lp / 10.0], -1), mask

    def semantic_features(self, texts: list[str]):
        """The sentence encoder's last token states (B, S, 384), the mask (B, S) and each token's
        line in its window (B, S; -1 for [CLS]/[SEP]/padding)."""
        import torch

        tok = self.encoder.tokenizer
        enc = tok(texts, padding=True, truncation=True, max_length=self.cfg.sem_max_tokens,
                  return_tensors="pt", return_offsets_mapping=True)
        offsets = enc.pop("offset_mapping")
        with torch.inference_mode():
            states = self.encoder.model(**enc).last_hidden_state.float()
        line_ids = torch.full(offsets.shape[:2], -1, dtype=torch.long)
        for b, text in enumerate(texts):
            breaks = np.cumsum([c == "\n" for c in text])  # newlines before each character
            for t, (a, e) in enumerate(offsets[b].tolist()):
                if e > a:
                    line_ids[b, t] = min(int(breaks[a]), MAX_LINES - 1)
        return states, (line_ids >= 0).long(), line_ids

    def line_vectors(self, texts: list[str]):
        """Each window's lines read alone by the encoder: (B, 4, 384) unit vectors, (B, 4) presence.
        A line shared by several windows (a poem's) is encoded once."""
        import torch

        split = [t.split("\n")[:MAX_LINES] for t in texts]
        vec = self._line_vecs
        new = sorted({ln for ls in split for ln in ls} - vec.keys())
        if len(vec) + len(new) > LINE_CACHE:
            vec.clear()
            new = sorted({ln for ls in split for ln in ls})
        vec.update(zip(new, self.encoder(new)) if new else ())
        v = torch.zeros(len(texts), MAX_LINES, 384)
        present = torch.zeros(len(texts), MAX_LINES, dtype=torch.bool)
        for b, ls in enumerate(split):
            for j, ln in enumerate(ls):
                v[b, j], present[b, j] = torch.from_numpy(vec[ln]), True
        return v, present

    def windows(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """P(real verse) for each window of text (lines joined by newlines)."""
        import torch

        out = [torch.sigmoid(x).numpy() for x in self._logits(texts, batch)]
        return np.concatenate(out) if out else np.zeros(0)

    def logits(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """The critic's logit for each window (P(real) is its sigmoid)."""
        out = [x.numpy() for x in self._logits(texts, batch)]
        return np.concatenate(out) if out else np.zeros(0)

    def _logits(self, texts: list[str], batch: int):
        import torch

        cfg = self.cfg
        head = not cfg.cross_tuned or cfg.cross_mix == "sum"
        for i in range(0, len(texts), batch):
            chunk = texts[i : i + batch]
            logit = 0.0
            if head:
                f, m = self.features(chunk) if cfg.lm_branch or not cfg.semantic else (None, None)
                sem = self.semantic_features(chunk) if cfg.semantic and (cfg.sem_tokens or not cfg.line_vectors) \
                    else (None, None, None)
                lines = self.line_vectors(chunk) if cfg.semantic and cfg.line_vectors else None
                with torch.inference_mode():
                    logit = self.head(f, m, *sem, lines=lines)
            if cfg.cross_tuned:
                ids, mask = cross_ids(self.encoder.tokenizer, chunk, cfg.cross_max_tokens)
                with torch.inference_mode():
                    logit = logit + self.cross(ids, mask)
            yield logit

    def line_windows(self, lines: list[str]) -> list[str]:
        return ["\n".join(w) for w in line_windows(lines, self.cfg.context)]

    def poem(self, lines: list[str]) -> PoemSense:
        lines = [ln for ln in lines if ln.strip()]
        if not lines:
            return PoemSense(0.0, ())
        s = self.windows(self.line_windows(lines))
        return PoemSense(float(s.mean()), tuple(float(v) for v in s))

    def candidates(self, before: list[str], cands: list[str]) -> np.ndarray:
        """P(real) of each candidate line in the window it closes (the lines just before it)."""
        ctx = before[-self.cfg.context :] if self.cfg.context else []
        return self.windows(["\n".join(ctx + [c]) for c in cands])


def load_sense_critic(home: Path, model=None, tokenizer=None, encoder=None, path: Path | None = None
                      ) -> SenseCritic | None:
    """The critic beside the embedded poet (``home`` = weights/poet), or None when it is not installed.
    ``model``/``tokenizer``: the embedded poet's, when already loaded; ``encoder``: the loaded
    sentence encoder (all-MiniLM-L6-v2), used when the critic has the semantic branch or the
    cross-encoder; ``path``: another critic file than the installed one (a candidate being measured)."""
    from models.common.checkpoint import load_safetensors
    from models.poetry.corpus import KW, POEM

    path = Path(path) if path else Path(home) / SENSE_FILE
    if not path.exists():
        return None
    tensors, meta = load_safetensors(path)
    cfg = SenseConfig(**meta["config"])
    if model is None:
        from models.common.causal_lm import load_causal_lm

        model, tokenizer = load_causal_lm(str(home), role="poet")
    head = build_head(cfg)
    head.load_state_dict({k: v.float() for k, v in tensors.items() if not k.startswith("cross.")})
    head.eval()
    prefix = tokenizer.encode(KW + POEM, add_special_tokens=False)
    needs_encoder = cfg.semantic or cfg.cross_tuned
    if needs_encoder and not (hasattr(encoder, "model") and hasattr(encoder, "tokenizer")):
        from models.common.encoder import load_encoder

        encoder = load_encoder()
    cross = None
    if cfg.cross_tuned:
        cross = build_cross(encoder.model, cfg)
        stored = {k[len("cross."):]: v.float() for k, v in tensors.items() if k.startswith("cross.")}
        missing = set(k[len("cross."):] for k in cross.tuned_state()) - set(stored)
        if missing:
            from models.common.errors import ModelFileError

            raise ModelFileError(f"{path}: the cross-encoder's {len(missing)} tuned tensors are missing")
        cross.load_state_dict(stored, strict=False)
        cross.eval()
    return SenseCritic(model, tokenizer, head, cfg, prefix, encoder if needs_encoder else None, cross)


def heldout_passages(home: Path) -> list[list[str]]:
    """Held-out corpus passages (never trained on, by the poet or the critic) as lists of lines."""
    return [p.split("\n") for p in json.loads((Path(home) / HELDOUT_FILE).read_text())]
