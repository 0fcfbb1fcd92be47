"""A Coconet-style masked model of four-part chorales, and blocked Gibbs infilling with it.

After Huang et al., "Counterpoint by Convolution" (ISMIR 2017): the four voices (S, A, T, B) on
an eighth-note grid, some cells given and some masked; the network sees the given pitches and the
mask and predicts every masked cell's pitch. Trained with random masks (the soprano always given,
since here it is the tune being harmonised), it can fill any subset, so sampling is Coconet's
blocked Gibbs with annealed masking: start with A, T, B all masked, then repeatedly mask a random
share of them (falling from 100% to ``p_min``) and resample those cells from the network
(with a penalty on the alto and tenor holding their note into a new beat, ``repeat_penalty``: the
network alone keeps its inner voices still more often than Bach).

Network: each step's four (voice, pitch-or-mask) one-hots summed through one embedding table
(the same as a linear layer on the concatenated one-hots and mask), plus the step's position in
the bar and the key; dilated residual 1-D convolutions along time (the local counterpoint), then
self-attention blocks (cadence and phrase context); per voice a distribution over ``n_pitch``
pitches (MIDI ``PITCH_LO`` upwards) and a rest class. Coconet's 2-D convolution over pitch x time
is pitch-translation equivariant but ~10x the arithmetic at this size; transposing the data to
every key gives the 1-D model the same invariance cheaply (rejected for the 35-minute CPU budget).

Hard constraints are applied as masks while sampling (``infill``): ``allowed`` (4, T, P) marks the
pitches each cell may take (ranges, cadence chords, the final tonic triad), and cells are drawn
voice by voice from the top so that each lies between its neighbours (no crossing, upper voices
within an octave). A voice only takes a pitch under which the voices still to be drawn can be
completed in order (``_feasible``: a masked alto with a fixed bass must leave the tenor room
between them); where ``allowed`` leaves no such pitch the sampler drops the octave spacing, then
the cadence chords, but never the order, so no network output and no fallback can cross voices.

Trained by ``models/music/training/chorale_train.py``; shipped as
``models/weights/music-chorale.safetensors`` (float16).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

PITCH_LO = 36  # C2, the bass's lowest
N_PITCH = 46  # up to A5 (81), the soprano's highest; class N_PITCH is a rest
STEP = 2  # sixteenths per grid step (an eighth note)
MAX_POS = 16  # positions in a bar (eighths; 4/2 has 16)


@dataclass(frozen=True)
class CoconetConfig:
    n_pitch: int = N_PITCH
    d_model: int = 128
    n_conv: int = 6
    n_attn: int = 2
    n_head: int = 4
    kernel: int = 3
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


def _modules():
    import torch
    from torch import nn
    from torch.nn import functional as F

    class ConvBlock(nn.Module):
        """Pre-norm residual 1-D convolution along time, dilated (1, 2, 4, ...)."""

        def __init__(self, d: int, k: int, dilation: int, dropout: float):
            super().__init__()
            self.norm = nn.LayerNorm(d)
            self.conv = nn.Conv1d(d, 2 * d, k, padding=dilation * (k - 1) // 2, dilation=dilation)
            self.out = nn.Conv1d(d, d, 1)
            self.drop = nn.Dropout(dropout)

        def forward(self, h):  # (B, T, d)
            x = self.norm(h).transpose(1, 2)
            a, g = self.conv(x).chunk(2, dim=1)  # gated linear unit
            return h + self.drop(self.out(a * torch.sigmoid(g)).transpose(1, 2))

    class AttnBlock(nn.Module):
        def __init__(self, d: int, n_head: int, dropout: float):
            super().__init__()
            self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
            self.n_head, self.drop = n_head, nn.Dropout(dropout)

        def forward(self, h):
            B, T, d = h.shape
            q, k, v = self.qkv(self.n1(h)).view(B, T, 3, self.n_head, d // self.n_head).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, d)  # bidirectional
            h = h + self.drop(self.proj(a))
            return h + self.drop(self.mlp(self.n2(h)))

    return torch, nn, ConvBlock, AttnBlock


def build_coconet(config: CoconetConfig):
    torch, nn, ConvBlock, AttnBlock = _modules()

    class Coconet(nn.Module):
        def __init__(self, config: CoconetConfig):
            super().__init__()
            self.config = config
            P, d = config.n_pitch + 1, config.d_model  # + rest
            self.cell = nn.Embedding(4 * (P + 1), d)  # per voice: P pitch/rest classes + "masked"
            self.pos = nn.Embedding(MAX_POS, d)
            self.key = nn.Embedding(24, d)
            self.convs = nn.ModuleList(ConvBlock(d, config.kernel, 2 ** (i % 3), config.dropout)
                                       for i in range(config.n_conv))
            self.attns = nn.ModuleList(AttnBlock(d, config.n_head, config.dropout) for _ in range(config.n_attn))
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, 4 * P)

        def forward(self, cells, mask, pos, key):
            """cells (B, 4, T) class ids (0..n_pitch, n_pitch = rest); mask (B, 4, T) bool, True =
            unknown; pos (B, T) position in the bar; key (B,) tonic + 12 * minor -> logits (B, 4, T, P)."""
            P = self.config.n_pitch + 1
            ids = torch.where(mask, P, cells) + (torch.arange(4, device=cells.device) * (P + 1))[None, :, None]
            h = self.cell(ids).sum(1) + self.pos(pos) + self.key(key)[:, None]  # (B, T, d)
            for blk in self.convs:
                h = blk(h)
            for blk in self.attns:
                h = blk(h)
            B, T, _ = h.shape
            return self.head(self.norm(h)).view(B, T, 4, P).permute(0, 2, 1, 3)

    return Coconet(config)


def save_coconet(model, path: Path, extra: dict | None = None) -> None:
    from models.common.checkpoint import save_safetensors

    save_safetensors(model.state_dict(), path, {"config": model.config.to_dict(), "kind": "coconet", **(extra or {})})


def load_coconet(path: Path):
    """-> (model in eval mode, metadata)."""
    from models.common.checkpoint import load_safetensors, load_state_into
    from models.common.errors import ModelFileError

    tensors, meta = load_safetensors(path)
    if meta.get("kind") != "coconet" or "config" not in meta:
        raise ModelFileError(f"{path} is not a chorale model; run `arsnova train chorale --install`")
    try:
        model = build_coconet(CoconetConfig(**meta["config"]))
    except TypeError as e:
        raise ModelFileError(f"{path} has an unreadable chorale model config ({e})") from None
    load_state_into(model, tensors, path)
    model.eval()
    return model, meta


def to_cells(pitches: np.ndarray, n_pitch: int = N_PITCH) -> np.ndarray:
    """MIDI pitches (-1 = rest) -> class ids; pitches outside the model's range count as rests."""
    c = pitches - PITCH_LO
    return np.where((pitches >= 0) & (c >= 0) & (c < n_pitch), c, n_pitch).astype(np.int64)


@dataclass(frozen=True)
class GibbsSchedule:
    """Coconet's annealed blocked Gibbs: ``steps`` rounds; round n masks each free cell with
    probability max(p_min, p_max - (p_max - p_min) * n / (eta * steps))."""

    steps: int = 48
    p_max: float = 1.0
    p_min: float = 0.05
    eta: float = 0.75
    temperature: float = 0.9
    chains: int = 4  # independent chains, one batch; the caller picks among them
    # logit penalty on the alto and tenor keeping the previous step's pitch into a new beat: the
    # network alone keeps them on 61% of beat moves in the dev-seed bench chorales (Bach: 33%; their
    # generated sopranos hold on half their beats, Bach's on 28%). Chosen on the dev seeds (24
    # chorales, ``bench/music_eval.py chorales --dev``), penalty 0 / 1 / 2 / 3: inner repeats 61 /
    # 57 / 51 / 46%, plain chords 92.9 / 93.0 / 91.3 / 90.2%, parallels 0.20 / 0 / 0.13 / 0.26 per 100
    # beats (limit 1.82), crossings 0 throughout; 2.0 is the largest that keeps plain chords within
    # 2 points of no penalty. The held-out Bach chorales were not looked at for this choice.
    repeat_penalty: float = 2.0


def infill(model, pitches: np.ndarray, free: np.ndarray, allowed: np.ndarray, pos: np.ndarray, key: int,
           schedule: GibbsSchedule, seed: int, need: np.ndarray | None = None,
           apart: tuple[int, int] | None = None) -> np.ndarray:
    """Sample the ``free`` cells of ``pitches`` (4, T) MIDI by blocked Gibbs; -> (chains, 4, T).

    ``allowed`` (4, T, n_pitch) bool: the pitches each cell may take. Cells are drawn voice by voice
    from the top, each at or below the voice above and, through ``_feasible``, only where the voices
    below it can still be completed in order: at or above every fixed voice below, with room for
    the masked ones between (upper voices within an octave of each other). ``need`` (T,) pitch
    class or -1: where the voices above leave it out, the tenor must take it (a cadence chord's
    third). ``apart``: two pitch classes a cell never takes against the other sounding at the same
    step in a voice already settled this round (a minor key's natural seventh and raised leading
    note), where some pitch allows it. Deterministic for a seed (torch.Generator; no global RNG)."""
    import torch

    P = model.config.n_pitch
    C, (V, T) = schedule.chains, pitches.shape
    gen = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(seed)
    free_t = torch.from_numpy(np.broadcast_to(free, (C, V, T)).copy())
    cur = torch.from_numpy(np.broadcast_to(to_cells(pitches, P), (C, V, T)).copy())
    allow = torch.from_numpy(allowed)
    pitch_ids = torch.arange(P)
    pos_t = torch.from_numpy(pos.astype(np.int64))[None].expand(C, T)
    key_t = torch.full((C,), int(key), dtype=torch.long)
    need_t = torch.from_numpy(need if need is not None else -np.ones(T, np.int64))
    beat_start = torch.from_numpy(pos % (4 // STEP) == 0)  # (T,) steps that open a quarter-note beat
    # Constraint levels, strictest first; a cell takes the first that leaves it a pitch. Every level
    # keeps the voices in order, so no fallback can cross them: 0 all of ``allowed`` and the octave
    # spacing; 1 without the spacing; 2 the voice's range alone (cadence chords dropped); 3 any pitch
    # (only when the fixed voices leave no room in range, e.g. a soprano below the alto's range).
    pcs = (pitch_ids + PITCH_LO) % 12
    close = ((pitch_ids[None, :] <= pitch_ids[:, None]) & (pitch_ids[:, None] - pitch_ids[None, :] <= 12)).float()
    span = allow.any(1)  # (V, P) each voice's range: every pitch it may take somewhere
    levels = [(allow, True), (allow, False), (span[:, None].expand(V, T, P), False),
              (torch.ones(V, T, P, dtype=torch.bool), False)]
    with torch.no_grad():
        for n in range(schedule.steps):
            p = max(schedule.p_min, schedule.p_max - (schedule.p_max - schedule.p_min) * n / (schedule.eta * schedule.steps))
            m = free_t & torch.from_numpy(rng.random((C, V, T)) < p)
            if n == 0:
                m = free_t.clone()
            logits = model(cur, m, pos_t, key_t)[..., :P] / schedule.temperature  # rests never sampled
            feas = [_feasible(cur, m, a, spaced, P) for a, spaced in levels]  # each (C, V, T, P)
            for v in range(V):
                mv = m[:, v]  # (C, T)
                if not mv.any():
                    continue
                above = cur[:, v - 1, :, None] if v > 0 else None  # already drawn this round
                ok = torch.zeros(C, T, P, dtype=torch.bool)
                for (_, spaced), f in zip(levels, feas):
                    lv_ok = f[:, v].clone()
                    if above is not None:
                        lv_ok &= pitch_ids[None, None] <= above
                        if spaced and v < 3:
                            lv_ok &= pitch_ids[None, None] >= above - 12
                    ok = torch.where(ok.any(-1, keepdim=True), ok, lv_ok)
                # fixed voices that themselves cross (a caller's grid, never this sampler's): the cell's own set
                ok = torch.where(ok.any(-1, keepdim=True), ok, allow[v][None].expand(C, T, P))
                if v in (1, 2):  # a needed chord tone the voices above leave out: the tenor takes it,
                    # and the alto leaves the tenor room to (where some pitch allows both)
                    has = (cur[:, 0] + PITCH_LO) % 12 == need_t
                    if v == 2:
                        has |= (cur[:, 1] + PITCH_LO) % 12 == need_t
                    want = (need_t >= 0)[None] & ~has  # (C, T)
                    hits = pcs[None, None] == need_t[None, :, None]  # (1, T, P)
                    if v == 1:
                        tenor = (feas[0][:, 2] & hits).float() @ close.T > 0  # a needed tenor pitch under it
                        hits = hits | tenor
                    ok_need = ok & hits
                    use = want[..., None] & ok_need.any(-1, keepdim=True)
                    ok = torch.where(use, ok_need, ok)
                if apart is not None:  # not against the other pitch class in a voice drawn or fixed
                    settled = cur < P  # (C, V, T): a pitch, not a rest
                    settled[:, v] = False
                    settled[:, v + 1 :] &= ~m[:, v + 1 :]  # voices below still to be drawn this round see this one
                    sounding = (cur + PITCH_LO) % 12
                    bad = torch.zeros(C, T, P, dtype=torch.bool)
                    for a, b in (apart, apart[::-1]):
                        bad |= (pcs == a)[None, None] & (settled & (sounding == b)).any(1)[..., None]
                    ok_apart = ok & ~bad
                    ok = torch.where(ok_apart.any(-1, keepdim=True), ok_apart, ok)
                lv = logits[:, v]
                if schedule.repeat_penalty and v in (1, 2):  # (C, T, P): the pitch held from the step before
                    held = torch.zeros_like(ok)
                    held[:, 1:] = pitch_ids[None, None] == cur[:, v, :-1, None]
                    lv = lv - schedule.repeat_penalty * (held & beat_start[None, :, None])
                lv = lv.masked_fill(~ok, float("-inf"))
                draw = torch.multinomial(torch.softmax(lv.reshape(-1, P), -1), 1, generator=gen).view(C, T)
                cur[:, v] = torch.where(mv, draw, cur[:, v])
    out = cur.numpy() + PITCH_LO
    return np.where(cur.numpy() >= P, -1, out)


def _feasible(cur, m, allow, spaced: bool, P: int):
    """(C, V, T, P) bool: pitch p for voice v at step t leaves voices v+1.. a completion in order.

    Bottom up: a masked voice may take any pitch of ``allow`` with some feasible pitch of the voice
    below at or under it (within an octave for the upper pairs when ``spaced``); a fixed voice only
    its own pitch (any, when it is a rest), on the same condition. ``cur`` (C, V, T) class ids, ``m``
    (C, V, T) True = masked this round, ``allow`` (V, T, P)."""
    import torch

    C, V, T = cur.shape
    ids = torch.arange(P)
    under = (ids[None, :] <= ids[:, None]).float()  # [p, q]: q at or under p
    close = (under.bool() & (ids[:, None] - ids[None, :] <= 12)).float()
    own = torch.nn.functional.one_hot(cur.clamp(max=P), P + 1)[..., :P].bool()  # (C, V, T, P)
    own |= (cur >= P)[..., None]  # a rest constrains nothing
    out = torch.zeros(C, V, T, P, dtype=torch.bool)
    for v in range(V - 1, -1, -1):
        f = torch.where(m[:, v, :, None], allow[v][None].expand(C, T, P), own[:, v])
        if v < V - 1:
            rel = close if spaced and v + 1 < 3 else under
            f = f & ((out[:, v + 1].float() @ rel.T) > 0)
        out[:, v] = f
    return out
