"""An LSTM language model over REMI music tokens (in the line of Performance RNN / folk-rnn).

Embedding -> stacked LSTM -> linear head. The recurrent state is the whole memory, so
sampling never needs re-priming and costs the same per token however long the piece.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn


@dataclass(frozen=True)
class RNNConfig:
    vocab_size: int = 199
    n_embd: int = 192
    hidden: int = 384
    n_layer: int = 2
    dropout: float = 0.1
    block_size: int = 512  # training window; sampling is unbounded

    def to_dict(self) -> dict:
        return {"kind": "rnn", **asdict(self)}


class MusicRNN(nn.Module):
    def __init__(self, config: RNNConfig) -> None:
        super().__init__()
        self.config = config
        self.emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.lstm = nn.LSTM(config.n_embd, config.hidden, config.n_layer, batch_first=True, dropout=config.dropout)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.vocab_size)

    def forward(self, idx: torch.Tensor, state=None):
        """idx (B, T) -> logits (B, T, V), (h, c) each (n_layer, B, hidden)."""
        y, state = self.lstm(self.drop(self.emb(idx)), state)
        return self.head(self.drop(y)), state

    def start(self, prefix: torch.Tensor):
        logits, state = self(prefix)
        return logits[:, -1], state

    def step(self, token: torch.Tensor, state):
        logits, state = self(token[:, None], state)
        return logits[:, -1], state

    @property
    def context_limit(self) -> int:
        return 1 << 30
