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
sentences, LM-guided word substitutions and fragment lists (card: AUC per kind).

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


@dataclass(frozen=True)
class PoemSense:
    score: float  # mean of the per-line scores, 0..1
    lines: tuple[float, ...]


def build_head(cfg: SenseConfig):
    import torch
    from torch import nn

    class SenseHead(nn.Module):
        """(batch, tokens, features) + mask -> (batch,) logits."""

        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(cfg.features, cfg.hidden)
            self.gru = nn.GRU(cfg.hidden, cfg.hidden, batch_first=True, bidirectional=True)
            self.out = nn.Linear(4 * cfg.hidden, 1)

        def forward(self, feats, mask):
            h, _ = self.gru(torch.tanh(self.proj(feats)))  # (B, T, 2H)
            m = mask[..., None].float()
            mean = (h * m).sum(1) / m.sum(1).clamp(min=1)
            mx = h.masked_fill(m == 0, -1e4).max(1).values
            return self.out(torch.cat([mean, mx], -1))[:, 0]

    return SenseHead()



def line_windows(lines: list[str], context: int = 2) -> list[list[str]]:
    """The windows a poem is judged by: each line with up to ``context`` lines before it."""
    return [lines[max(0, i - context) : i + 1] for i in range(len(lines))]

class SenseCritic:
    """The frozen poet LM + the trained head; call ``windows`` / ``lines`` / ``poem``."""

    def __init__(self, model, tokenizer, head, cfg: SenseConfig, prefix: list[int]):
        self.model, self.tokenizer, self.head, self.cfg, self.prefix = model, tokenizer, head, cfg, prefix

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

    def windows(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """P(real verse) for each window of text (lines joined by newlines)."""
        import torch

        out = []
        for i in range(0, len(texts), batch):
            f, m = self.features(texts[i : i + batch])
            with torch.inference_mode():
                out.append(torch.sigmoid(self.head(f, m)).numpy())
        return np.concatenate(out) if out else np.zeros(0)

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


def load_sense_critic(home: Path, model=None, tokenizer=None) -> SenseCritic | None:
    """The critic beside the embedded poet (``home`` = weights/poet), or None when it is not installed.
    ``model``/``tokenizer``: the embedded poet's, when already loaded."""
    from models.common.checkpoint import load_safetensors
    from models.poetry.corpus import KW, POEM

    path = Path(home) / SENSE_FILE
    if not path.exists():
        return None
    tensors, meta = load_safetensors(path)
    cfg = SenseConfig(**meta["config"])
    if model is None:
        from models.common.causal_lm import load_causal_lm

        model, tokenizer = load_causal_lm(str(home), role="poet")
    head = build_head(cfg)
    head.load_state_dict({k: v.float() for k, v in tensors.items()})
    head.eval()
    prefix = tokenizer.encode(KW + POEM, add_special_tokens=False)
    return SenseCritic(model, tokenizer, head, cfg, prefix)


def heldout_passages(home: Path) -> list[list[str]]:
    """Held-out corpus passages (never trained on, by the poet or the critic) as lists of lines."""
    return [p.split("\n") for p in json.loads((Path(home) / HELDOUT_FILE).read_text())]
