"""Train the subject critic (``models/image/critic.py``): a small CNN aligned with frozen MiniLM
text embeddings of the clip-art and emoji captions (contrastive, CLIP/LiT-style).

What it is asked to judge shapes the training (issue 21, second round):
- **The pictures the tool makes.** Each 64 px picture is cut out of its page (as the scene
  composer does), scaled to 35-100% and placed anywhere, on the white page, on a setting drawn by
  ``models.image.scene.background`` (every sky x ground, as the composer draws them) or on a random
  gradient; then degraded as a redraw leaves it (low-frequency colour mottling, blur, speckle,
  brightness and contrast), all at 64 px, then box-resized to the critic's 32 px. Done on the whole
  batch at once in torch (an affine grid), so a step costs ~0.4 s on one thread.
- **The prompts people type.** Targets are the short caption without colour words ("a penguin")
  70% of the time, the title and keywords otherwise.
- **Balanced subjects.** A picture is drawn with weight 1/sqrt(pictures sharing its caption), x2
  for emoji (the exemplar library): 1,375 pictures called "gramastar" no longer fill a seventh of
  every batch.
- **Hard negatives.** A quarter of each batch are pictures of the subjects nearest (in MiniLM) to
  subjects already in it ("a cat" beside "a dog"), so the batch asks for more than "animal or tool".
- **Near captions (optional, ``--near-k``; not in the shipped critic).** Captions near a picture's
  own but not synonyms as extra negative columns, and a hinge toward the tool's 'found' rule
  (``_loss``). Tried continuing the shipped weights (``--init``): recall rose, near-caption false
  passes on the dev half did not fall (IMAGE_CARD.md).

Held out (seed 0): 600 pictures, a dev half (the "subject found" threshold is set on it) and a test
half (recall and the threshold's true/false positive rates are only reported). Colour is measured
from pixels by its own critic, so colour words are left out of the targets.

    OMP_NUM_THREADS=1 .venv/bin/python -m models.image.training.critic [--minutes 25] [--out models/weights/image]

Resumable: the run folder (``data/runs/subject-critic-2``) keeps the weights and step every 100
steps (AdamW's moments restart on resume). ``--init RUN/state.safetensors`` starts a new run folder from another
run's weights (a longer run with other settings).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.image.colours import subject_of

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class CriticTrainConfig:
    batch: int = 160
    hard: int = 40  # of the batch: pictures of subjects near others in it (hard negatives)
    long_share: float = 0.3  # targets: the title and keywords this often, else the short caption
    lr: float = 2e-3
    weight_decay: float = 0.05
    max_seconds: float = 25 * 60
    max_steps: int = 20_000
    held_out: int = 600
    distractors: int = 1024
    seed: int = 0
    threads: int = 1
    near_k: int = 0  # near non-synonym captions per picture for the near-caption terms (0: off, as
    # the shipped critic; 8-12 were tried and did not lower near false passes on dev: IMAGE_CARD.md)
    near_weight: float = 1.0  # the 'found'-rule hinge's weight beside InfoNCE
    near_margin: float = 0.02  # cosine the hinge asks below / above the distractor percentile
    size: int = 32  # the critic's input side (models.image.critic.CriticConfig.size)


def target_texts(captions: list[str], short: list[str]) -> tuple[list[str], list[str]]:
    """Two texts a picture is trained toward: 'a penguin' (the short caption, colours out) and the
    long caption's title and keywords, colours out ('penguin, bird, antarctica')."""
    a = [("an " if s[:1] in "aeiou" else "a ") + s for s in (subject_of(c) or c for c in short)]
    b = []
    for c in captions:
        parts = c.split(";")
        words = subject_of(parts[0]) + (", " + parts[1].strip() if len(parts) > 2 else "")
        b.append(words.strip(", ") or subject_of(c))
    return a, b


def embed_texts(texts: list[str], encoder, cache: Path) -> np.ndarray:
    if cache.exists():
        e = np.load(cache, allow_pickle=False)
        if len(e) == len(texts):
            return e
    e = np.asarray(encoder(texts, batch_size=128), dtype=np.float32)
    np.save(cache, e)
    return e


def downsample(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, S, S, 3) -> (N, size, size, 3) by box averaging (S a multiple of size)."""
    n, s = len(images), images.shape[1]
    if s == size:
        return images
    f = s // size
    return images.reshape(n, size, f, size, f, 3).mean(axis=(2, 4)).round().astype(np.uint8)


# ---- augmentation: uint8 (B, 64, 64, 3) -> float tensor (B, 3, 32, 32) in 0..1 ----------------
def setting_backgrounds(size: int, per_setting: int, seed: int) -> np.ndarray:
    """float32 (K, size, size, 3): the scene composer's own backgrounds, ``per_setting`` layouts of
    every sky (or none) x ground (or none) but the bare page: 34 settings."""
    from models.image.scene import GROUNDS, SKIES, Scene, background

    rng = np.random.default_rng(seed)
    return np.stack([background(Scene((), sky, ground), size, rng)
                     for sky in (None, *SKIES) for ground in (None, *GROUNDS) if sky or ground
                     for _ in range(per_setting)]).astype(np.float32)


def _gradients(rng: np.random.Generator, n: int, s: int) -> np.ndarray:
    """float32 (n, s, s, 3): random skies (vertical gradients), most over a flat ground band."""
    t = np.linspace(0, 1, s, dtype=np.float32)[None, :, None, None]
    top, bottom = rng.uniform(0, 1, (2, n, 1, 1, 3)).astype(np.float32)
    img = np.broadcast_to((1 - t) * top + t * bottom, (n, s, s, 3)).copy()
    for i in np.nonzero(rng.random(n) < 0.8)[0]:
        img[i, s - int(rng.integers(s // 5, s // 2)):] = rng.uniform(0, 1, 3)
    return img


def augment(images: np.ndarray, rng: np.random.Generator, backgrounds: np.ndarray | None = None, size: int = 32):
    """The pictures as the critic will meet them: cut out of their page, scaled, moved, flipped, on
    a page / a drawn setting / a gradient, degraded as a redraw leaves them, box-resized to
    ``size``. ``backgrounds``: float32 (K, S, S, 3) settings to draw from (None: gradients only)."""
    import torch
    import torch.nn.functional as F

    from models.image.scene import PAGE_LEVEL

    B, s = len(images), images.shape[1]
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0  # (B, 3, S, S)
    alpha = (x.amin(dim=1, keepdim=True) < PAGE_LEVEL).float()  # the page is see-through (scene.cut_out)
    perm = rng.random(B) < 0.15  # channel swaps: the subject's shape, not its colour (own critic)
    if perm.any():
        order = torch.from_numpy(np.stack([rng.permutation(3) for _ in range(int(perm.sum()))]))
        sel = torch.from_numpy(np.nonzero(perm)[0])
        x[sel] = torch.gather(x[sel], 1, order[:, :, None, None].expand(-1, -1, s, s))
    # 1. scale, place, flip with one affine grid: output (u, v) reads input ((u - t) / scale)
    scale = np.where(rng.random(B) < 0.75, rng.uniform(0.35, 1.0, B), 1.0)
    tx = rng.uniform(-1, 1, B) * (1 - scale)
    # half the time low in the frame, standing on a ground as the composer places subjects
    ty = np.where(rng.random(B) < 0.5, rng.uniform(0, 1, B), rng.uniform(-1, 1, B)) * (1 - scale)
    flip = np.where(rng.random(B) < 0.5, -1.0, 1.0)
    theta = np.zeros((B, 2, 3), np.float32)
    theta[:, 0, 0], theta[:, 0, 2] = flip / scale, -tx * flip / scale
    theta[:, 1, 1], theta[:, 1, 2] = 1 / scale, -ty / scale
    grid = F.affine_grid(torch.from_numpy(theta), [B, 4, s, s], align_corners=False)
    rgba = F.grid_sample(torch.cat([x * alpha, alpha], 1), grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)
    # 2. behind it: the white page (40%), a setting as the composer draws it (45%), a gradient (15%)
    kind = rng.random(B)
    bg = np.ones((B, s, s, 3), np.float32)
    grads = kind >= 0.85 if backgrounds is not None else kind >= 0.4
    if grads.any():
        bg[grads] = _gradients(rng, int(grads.sum()), s)
    if backgrounds is not None:
        sets = (kind >= 0.4) & (kind < 0.85)
        bg[sets] = backgrounds[rng.integers(0, len(backgrounds), int(sets.sum()))]
    bg_t = torch.from_numpy(bg).permute(0, 3, 1, 2)
    img = rgba[:, :3] + (1 - rgba[:, 3:]) * bg_t

    # 3. the redraw's marks, each on a random part of the batch at a random strength (computed on
    # that part only: a step's augmentation stays well under its forward and backward pass)
    def part(p: float) -> torch.Tensor:
        return torch.from_numpy(np.nonzero(rng.random(B) < p)[0])

    def amount(n: int, lo: float, hi: float) -> torch.Tensor:
        return torch.from_numpy(rng.uniform(lo, hi, n).astype(np.float32))[:, None, None, None]

    sel = part(0.5)  # low-frequency colour mottling
    low = torch.from_numpy(rng.standard_normal((len(sel), 3, s // 8, s // 8)).astype(np.float32))
    img[sel] += amount(len(sel), 0.0, 0.12) * F.interpolate(low, size=(s, s), mode="bilinear", align_corners=False)
    b = rng.random(B)
    sel = torch.from_numpy(np.nonzero(b < 0.3)[0])  # a soft blur
    img[sel] = F.avg_pool2d(F.pad(img[sel], (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    sel = torch.from_numpy(np.nonzero((b >= 0.3) & (b < 0.45))[0])  # a strong one: half the resolution
    img[sel] = F.interpolate(F.avg_pool2d(img[sel], 2), size=(s, s), mode="bilinear", align_corners=False)
    sel = part(0.5)  # speckle
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    img[sel] += amount(len(sel), 0.0, 0.08) * torch.randn((len(sel), 3, s, s), generator=gen)
    sel = part(0.5)  # brightness and contrast
    img[sel] = (img[sel] - 0.5) * amount(len(sel), 0.8, 1.15) + 0.5 + amount(len(sel), -0.08, 0.08)
    img = img.clamp(0, 1)
    return F.avg_pool2d(img, s // size) if s != size and s % size == 0 else (
        img if s == size else F.interpolate(img, size=(size, size), mode="area"))


# ---- batches: balanced subjects and hard negatives -----------------------------------------------
def sampling_weights(texts: list[str], emoji: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Probability of drawing each picture of ``idx``: 1/sqrt(pictures sharing its caption), x2 for
    an emoji (the exemplar library's pictures), normalised."""
    from collections import Counter

    count = Counter(texts[i] for i in idx)
    w = np.array([(2.0 if emoji[i] else 1.0) / np.sqrt(count[texts[i]]) for i in idx])
    return w / w.sum()


def neighbour_table(texts: list[str], vecs: np.ndarray, idx: np.ndarray, k: int = 8,
                    lo: float = 0.45, hi: float = 0.9) -> tuple[dict, dict]:
    """For each caption among ``idx``'s pictures, up to ``k`` other captions at MiniLM cosine in
    [lo, hi) (near but not a synonym: those are not negatives), and each caption's pictures."""
    groups: dict[str, list[int]] = {}
    for i in idx:
        groups.setdefault(texts[i], []).append(int(i))
    names = list(groups)
    u = np.stack([vecs[groups[n][0]] for n in names])
    near: dict[str, list[str]] = {}
    for a in range(0, len(names), 512):
        sims = u[a:a + 512] @ u.T  # (chunk, U)
        sims[(sims >= hi) | (sims < lo)] = -1
        top = np.argsort(-sims, axis=1)[:, :k]
        for r, row in enumerate(top):
            near[names[a + r]] = [names[j] for j in row if sims[r, j] > -1]
    return near, groups


def draw_batch(rng: np.random.Generator, idx: np.ndarray, p: np.ndarray, batch: int, hard: int,
               texts: list[str], near: dict, groups: dict) -> np.ndarray:
    """``batch - hard`` pictures drawn by ``p``, then ``hard`` pictures of captions near theirs."""
    out = list(rng.choice(idx, batch - hard, replace=False, p=p))
    for a in rng.permutation(len(out)):
        if len(out) >= batch:
            break
        cand = near.get(texts[out[a]], [])
        if cand:
            out.append(rng.choice(groups[cand[int(rng.integers(len(cand)))]]))
    while len(out) < batch:
        out.append(rng.choice(idx, p=p))
    return np.array(out)


def _loss(model, x, t, near=None, near_ok=None, dis=None, weight: float = 0.5, margin: float = 0.02):
    """Symmetric InfoNCE against frozen text vectors ``t`` (B, 384); pairs whose texts are near-
    duplicates (cos > 0.9, e.g. two 'a star' pictures) are not counted as negatives.

    With ``near`` (B, K, 384: for each picture K captions near its own but not synonyms, MiniLM
    cosine 0.45-0.72; ``near_ok`` (B, K) bool marks the real ones) and ``dis`` (D, 384: random
    training captions standing in for the shipped distractors), two more terms aimed at the rule
    the tool applies ("found" = the text's cosine above the picture's distractor quantile):
    the near captions are extra negative columns of the picture -> text softmax (text vectors are
    free: no extra picture is drawn), and a soft hinge pushes each near caption ``margin`` below
    the picture's 93rd distractor percentile and its own caption ``margin`` above it."""
    import torch
    import torch.nn.functional as F

    z = model(x)
    scale = model.logit_scale.exp().clamp(max=100)
    logits = scale * z @ t.T
    dup = (t @ t.T > 0.9) & ~torch.eye(len(t), dtype=torch.bool)
    logits = logits.masked_fill(dup, float("-inf"))
    y = torch.arange(len(t))
    if near is None:
        return 0.5 * (F.cross_entropy(logits, y) + F.cross_entropy(logits.T, y))
    s_near = torch.einsum("bd,bkd->bk", z, near)  # (B, K)
    img_logits = torch.cat([logits, (scale * s_near).masked_fill(~near_ok, float("-inf"))], dim=1)
    contrast = 0.5 * (F.cross_entropy(img_logits, y) + F.cross_entropy(logits.T, y))
    # the 'found' rule, softened: q (B,) = the picture's 93rd percentile over the distractors
    q = torch.quantile(z @ dis.T, 0.93, dim=1, keepdim=True).detach()
    s_own = (z * t).sum(dim=1, keepdim=True)
    hinge_near = (F.softplus(20 * (s_near - q + margin)) * near_ok).sum() / near_ok.sum().clamp(min=1)
    hinge_own = F.softplus(20 * (q - s_own + margin)).mean()
    return contrast + weight * (hinge_near + hinge_own) / 20


def near_text_table(texts: list[str], vecs: np.ndarray, idx: np.ndarray, k: int = 12,
                    lo: float = 0.45, hi: float = 0.72) -> tuple[list[str], np.ndarray, dict]:
    """The distinct captions of ``idx``'s pictures, their vectors (U, 384), and for each caption the
    indices of up to ``k`` others at cosine in [lo, hi), nearest first: near, not a synonym (the
    band ``bench/image_misses.py near_captions`` measures false passes on, 0.5-0.72, widened a
    little so the near-caption loss also sees the next ring)."""
    names, first = np.unique(np.array(texts)[idx], return_index=True)
    u = vecs[idx][first]
    near = {}
    for a in range(0, len(names), 512):
        sims = u[a:a + 512] @ u.T
        sims[(sims >= hi) | (sims < lo)] = -1
        top = np.argsort(-sims, axis=1)[:, :k]
        for r, row in enumerate(top):
            near[str(names[a + r])] = np.array([j for j in row if sims[r, j] > -1], dtype=np.int64)
    return [str(n) for n in names], u, near


def near_batch(rng: np.random.Generator, caps: list[str], u: np.ndarray, near: dict, k: int):
    """(B, k, 384) near-caption vectors for the batch's captions (the nearest half always, the rest
    drawn from the next ones) and the (B, k) mask of real entries."""
    out = np.zeros((len(caps), k, u.shape[1]), np.float32)
    ok = np.zeros((len(caps), k), bool)
    for b, c in enumerate(caps):
        js = near.get(c, np.zeros(0, np.int64))
        if len(js) > k:
            js = np.concatenate([js[:k // 2], rng.choice(js[k // 2:], k - k // 2, replace=False)])
        out[b, :len(js)], ok[b, :len(js)] = u[js], True
    return out, ok


def retrieval(z: np.ndarray, t: np.ndarray, texts: list[str]) -> dict:
    """Picture -> text recall@1/@5 among the held-out pictures' own texts (a hit: the retrieved text
    is the picture's own, string-equal), and chance (the expected hit rate of a random ranking)."""
    sims = z @ t.T
    order = np.argsort(-sims, axis=1)
    arr = np.array(texts)
    hits1 = np.mean([arr[order[i, 0]] == texts[i] for i in range(len(z))])
    hits5 = np.mean([texts[i] in set(arr[order[i, :5]]) for i in range(len(z))])
    n = len(z)
    same = np.array([np.sum(arr == texts[i]) for i in range(n)])  # pictures sharing the text
    # chance@5: 1 - P(none of the picture's texts among 5 drawn without replacement)
    chance5 = np.mean([1 - np.prod([max(0, n - same[i] - k) / (n - k) for k in range(min(5, n))]) for i in range(n)])
    same = same / n
    return {"recall@1": float(hits1), "recall@5": float(hits5), "chance@1": float(same.mean()),
            "chance@5": float(chance5), "n": len(z)}


def train_critic(data_path: Path, out_dir: Path, run_dir: Path, cfg: CriticTrainConfig, log=print,
                 init: Path | None = None) -> dict:
    import torch

    from models.common.encoder import load_encoder
    from models.image.critic import CriticConfig, build_encoder, save_critic
    from models.image.training.data import load_dataset

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    ds = load_dataset(data_path)
    ccfg = CriticConfig(size=cfg.size)
    images = downsample(ds.images, ccfg.size)  # (N, 32, 32, 3): what the critic sees, for the metrics
    short_t, long_t = target_texts(ds.captions, ds.short_captions)
    enc = load_encoder()
    e_short = embed_texts(short_t, enc, data_path.with_suffix(".critic-short.npy"))
    e_long = embed_texts(long_t, enc, data_path.with_suffix(".critic-long.npy"))
    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(len(ds.images))
    held, train_idx = perm[:cfg.held_out], perm[cfg.held_out:]
    dev, test = held[: cfg.held_out // 2], held[cfg.held_out // 2:]
    p_train = sampling_weights(short_t, ds.emoji, train_idx)
    near, groups = neighbour_table(short_t, e_short, train_idx)
    settings = setting_backgrounds(ds.images.shape[1], 8, cfg.seed)
    cap_names, cap_vecs, near_caps = near_text_table(short_t, e_short, train_idx)
    dis_t = torch.from_numpy(cap_vecs)  # all distinct training captions: a step's distractors come from them
    log(f"{len(train_idx)} training pictures, {len(groups)} captions, {len(settings)} drawn settings")

    from safetensors.torch import load_file

    model = build_encoder(ccfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt, step = run_dir / "state.safetensors", 0
    if ckpt.exists():
        state = load_file(str(ckpt))
        step = int(state.pop("_step").item())
        model.load_state_dict(state)
        log(f"resumed at step {step}")
    elif init is not None:  # continue another run's weights (its step count is not carried)
        state = load_file(str(init))
        state.pop("_step", None)
        model.load_state_dict(state)
        log(f"started from {init}")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    t0, history = time.time(), []
    total = cfg.max_steps
    step_rng = np.random.default_rng(cfg.seed + 1 + step)
    while step < total and time.time() - t0 < cfg.max_seconds:
        # cosine decay over the time budget (the step count a CPU reaches is not known in advance)
        frac = min(1.0, (time.time() - t0) / cfg.max_seconds)
        for g in opt.param_groups:
            g["lr"] = cfg.lr * (min(1.0, (step + 1) / 30)) * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * frac)))
        idx = draw_batch(step_rng, train_idx, p_train, cfg.batch, cfg.hard, short_t, near, groups)
        pick_long = step_rng.random(cfg.batch) < cfg.long_share
        t = torch.from_numpy(np.where(pick_long[:, None], e_long[idx], e_short[idx]))
        model.train()
        x = augment(ds.images[idx], step_rng, settings, ccfg.size)
        if cfg.near_k:
            nv, nok = near_batch(step_rng, [short_t[i] for i in idx], cap_vecs, near_caps, cfg.near_k)
            dis = dis_t[torch.from_numpy(step_rng.choice(len(cap_vecs), 256, replace=False))]
            loss = _loss(model, x, t, torch.from_numpy(nv), torch.from_numpy(nok), dis, cfg.near_weight, cfg.near_margin)
        else:
            loss = _loss(model, x, t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 25 == 0:
            history.append((step, round(float(loss.detach()), 4)))
            log(f"step {step} loss {float(loss.detach()):.3f} lr {opt.param_groups[0]['lr']:.2e} {time.time() - t0:.0f}s")
        if step % 100 == 0:
            from safetensors.torch import save_file

            save_file({**{k: v.contiguous() for k, v in model.state_dict().items()}, "_step": torch.tensor(step)},
                      str(ckpt))

    model.eval()

    def emb(ix):
        with torch.inference_mode():
            return np.concatenate([model(torch.from_numpy(images[ix[i:i + 256]]).permute(0, 3, 1, 2).float() / 255)
                                   .numpy() for i in range(0, len(ix), 256)])

    z_dev, z_test = emb(dev), emb(test)
    metrics = {"test": retrieval(z_test, e_short[test], [short_t[i] for i in test]),
               "dev": retrieval(z_dev, e_short[dev], [short_t[i] for i in dev])}
    # distractors: distinct training subjects (none from the held-out pictures' texts)
    names = sorted(set(short_t[i] for i in train_idx))
    pick = np.random.default_rng(cfg.seed).choice(len(names), min(cfg.distractors, len(names)), replace=False)
    dn = [names[i] for i in sorted(pick)]
    dvec = np.asarray(enc(dn, batch_size=128), np.float32)
    from models.image.critic import SubjectCritic

    critic = SubjectCritic(model, ccfg, dvec, tuple(dn))
    threshold, cal = calibrate(critic, z_dev, e_short[dev], z_test, e_short[test], seed=cfg.seed)
    metrics.update(cal)
    meta = {"steps": step, "seconds": round(time.time() - t0), "batch": cfg.batch, "hard": cfg.hard,
            "near_k": cfg.near_k, "near_weight": cfg.near_weight, "near_margin": cfg.near_margin, "init": str(init) if init else None,
            "threshold": threshold,
            "train_pictures": int(len(train_idx)), "metrics": metrics, "loss_history": history[-40:]}
    out = out_dir / "subject-critic.safetensors"
    save_critic(out, model, ccfg, dvec, dn, meta)
    log(json.dumps(metrics, indent=1))
    return meta


def calibrate(critic, z_dev, t_dev, z_test, t_test, seed: int = 0) -> tuple[float, dict]:
    """The rank threshold for 'subject found': on the dev pictures, the rank of their own text
    (positives) and of another picture's text (negatives, texts at cos < 0.6 to the own); the
    threshold keeps false positives at 10% on dev. Reported: its true/false positive rates on test."""
    def ranks(z, t):
        rng = np.random.default_rng(seed)
        pos = np.array([critic.rank(z[i], t[i]) for i in range(len(z))])
        neg = []
        for i in range(len(z)):
            for j in rng.permutation(len(z))[:20]:
                if float(t[j] @ t[i]) < 0.6:
                    neg.append(critic.rank(z[i], t[j]))
                    break
        return pos, np.array(neg)

    pd, nd = ranks(z_dev, t_dev)
    threshold = float(np.quantile(nd, 0.9))
    pt, nt = ranks(z_test, t_test)
    return threshold, {"found_threshold": threshold, "dev_tpr": float((pd > threshold).mean()),
                       "dev_fpr": float((nd > threshold).mean()), "test_tpr": float((pt > threshold).mean()),
                       "test_fpr": float((nt > threshold).mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data" / "clipart-emoji-64.npz"))
    ap.add_argument("--out", default=str(ROOT / "models" / "weights" / "image"))
    ap.add_argument("--run-dir", default=str(ROOT / "data" / "runs" / "subject-critic-2"))
    ap.add_argument("--minutes", type=float, default=25)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=CriticTrainConfig.lr)
    ap.add_argument("--near-k", type=int, default=CriticTrainConfig.near_k, help="0: no near-caption terms")
    ap.add_argument("--near-weight", type=float, default=CriticTrainConfig.near_weight)
    ap.add_argument("--near-margin", type=float, default=CriticTrainConfig.near_margin)
    ap.add_argument("--size", type=int, default=CriticTrainConfig.size)
    ap.add_argument("--init", default=None, help="start from this run's state.safetensors (a longer run)")
    a = ap.parse_args()
    cfg = CriticTrainConfig(max_seconds=a.minutes * 60, max_steps=a.steps, threads=a.threads, lr=a.lr,
                            near_k=a.near_k, near_weight=a.near_weight,
                            near_margin=a.near_margin, size=a.size)
    train_critic(Path(a.data), Path(a.out), Path(a.run_dir), cfg, log=lambda m: print(m, flush=True),
                 init=Path(a.init) if a.init else None)


if __name__ == "__main__":
    main()
