"""A small decoder-only Transformer over REMI music tokens (nanoGPT's shape, with a KV cache).

Pre-norm GPT blocks, learned positions, tied input/output embeddings. ``step`` decodes one
token for a batch using per-layer key/value caches, which is what makes sampling 16 bars take
seconds on a CPU. The control tokens at the start of each sequence condition the music.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass(frozen=True)
class TransformerConfig:
    vocab_size: int = 199
    block_size: int = 512
    n_layer: int = 4
    n_head: int = 6
    n_embd: int = 192
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return {"kind": "transformer", **asdict(self)}


class _Block(nn.Module):
    def __init__(self, c: TransformerConfig) -> None:
        super().__init__()
        self.n_head = c.n_head
        self.ln1 = nn.LayerNorm(c.n_embd)
        self.qkv = nn.Linear(c.n_embd, 3 * c.n_embd)
        self.proj = nn.Linear(c.n_embd, c.n_embd)
        self.ln2 = nn.LayerNorm(c.n_embd)
        self.mlp = nn.Sequential(nn.Linear(c.n_embd, 4 * c.n_embd), nn.GELU(), nn.Linear(4 * c.n_embd, c.n_embd))
        self.drop = nn.Dropout(c.dropout)
        self.p_drop = c.dropout

    def forward(self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None):
        # x: (B, T, C); cache: keys/values (B, H, T_past, C/H) or None
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        # causal among the new tokens; all cached positions are visible
        causal = cache is None or cache[0].shape[2] == 0
        if causal:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.p_drop if self.training else 0.0)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=False) if T == 1 else F.scaled_dot_product_attention(
                q, k, v, attn_mask=_prefix_mask(T, k.shape[2], x.device)
            )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.drop(self.proj(y))
        x = x + self.drop(self.mlp(self.ln2(x)))
        return x, (k, v)


def _prefix_mask(t_new: int, t_all: int, device) -> torch.Tensor:
    # new token i may see every cached token and new tokens <= i
    past = t_all - t_new
    return torch.ones(t_new, t_all, dtype=torch.bool, device=device).tril(diagonal=past)


class MusicTransformer(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, idx: torch.Tensor, caches=None, start: int = 0):
        """idx (B, T) -> logits (B, T, V), new caches. ``start`` is the position of idx[:, 0]."""
        T = idx.shape[1]
        if start + T > self.config.block_size:
            raise ValueError(f"sequence of {start + T} tokens exceeds block size {self.config.block_size}")
        pos = torch.arange(start, start + T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        new = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if caches is None else caches[i])
            new.append(kv)
        logits = F.linear(self.ln_f(x), self.wte.weight)  # tied weights
        return logits, new

    # ---- incremental decoding: the interface the sampler uses -----------------------
    def start(self, prefix: torch.Tensor):
        """Run the prefix (B, T); return logits of the last position (B, V) and the state."""
        logits, caches = self(prefix)
        return logits[:, -1], (caches, prefix.shape[1])

    def step(self, token: torch.Tensor, state):
        """token (B,) -> logits (B, V), state; the caller re-primes before block_size."""
        caches, n = state
        logits, caches = self(token[:, None], caches, start=n)
        return logits[:, -1], (caches, n + 1)

    @property
    def context_limit(self) -> int:
        return self.config.block_size
