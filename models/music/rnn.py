"""An LSTM language model over REMI music tokens (in the line of Performance RNN / folk-rnn).

Embedding -> stacked LSTM -> linear head. The recurrent state is the whole memory, so
sampling never needs re-priming and costs the same per token however long the piece.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


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
        """token (B,) -> logits (B, V), state: one LSTM cell step per layer, written out.

        Same maths as ``forward`` on one token (eval mode, no dropout), but nn.LSTM on CPU sends a
        one-token call through oneDNN, which reorders every weight matrix on each call: 8-12 ms a
        step against ~1 ms here (bench/music_speed.py: 16 accompanied bars 0.83 s -> 0.34 s on a
        quiet machine, 6.8 s when last measured under load)."""
        if self.training:
            logits, state = self(token[:, None], state)
            return logits[:, -1], state
        h, c = state
        x = self.emb(token)
        hs, cs = [], []
        lstm = self.lstm
        for layer in range(self.config.n_layer):
            gates = (F.linear(x, getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"bias_ih_l{layer}"))
                     + F.linear(h[layer], getattr(lstm, f"weight_hh_l{layer}"), getattr(lstm, f"bias_hh_l{layer}")))
            i, f, g, o = gates.chunk(4, 1)  # PyTorch's gate order
            cell = torch.sigmoid(f) * c[layer] + torch.sigmoid(i) * torch.tanh(g)
            x = torch.sigmoid(o) * torch.tanh(cell)
            hs.append(x)
            cs.append(cell)
        return self.head(x), (torch.stack(hs), torch.stack(cs))

    @property
    def context_limit(self) -> int:
        return 1 << 30
