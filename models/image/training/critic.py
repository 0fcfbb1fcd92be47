"""Train the subject critic (``models/image/critic.py``): a small CNN aligned with frozen MiniLM
text embeddings of the clip-art and emoji captions (contrastive, CLIP/LiT-style), with
augmentation that puts each picture small or large, anywhere, on a white page or on a drawn
setting (sky and ground, as the scene composer makes them), with noise and blur (as the diffusion
redraw leaves them).

Held out (seed 0): 600 pictures, a dev half (the "subject found" threshold is set on it) and a test
half (recall and the threshold's true/false positive rates are only reported). Targets are the
captions without their colour words (colour is measured from pixels by its own critic).

    OMP_NUM_THREADS=1 .venv/bin/python -m models.image.training.critic [--minutes 18] [--out models/weights/image]

Resumable: the run folder (``data/runs/subject-critic``) keeps the weights and step every 100
steps (AdamW's moments restart on resume).
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
    lr: float = 2e-3
    weight_decay: float = 0.05
    max_seconds: float = 18 * 60
    max_steps: int = 20_000
    held_out: int = 600
    distractors: int = 1024
    seed: int = 0
    threads: int = 1


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


# ---- augmentation: uint8 (B, S, S, 3) -> float tensor (B, 3, 64, 64) in 0..1 -----------------
def _setting_background(rng: np.random.Generator, s: int) -> np.ndarray:
    """A random sky (vertical gradient) over a random ground band: the look of a composed scene."""
    top, bottom = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    t = np.linspace(0, 1, s)[:, None, None]
    sky = (1 - t) * top + t * bottom
    img = np.broadcast_to(sky, (s, s, 3)).copy()
    if rng.random() < 0.8:
        h = int(rng.integers(s // 5, s // 2))
        img[s - h:] = rng.uniform(0, 1, 3)
    return img


def augment(images: np.ndarray, rng: np.random.Generator):
    import torch
    from PIL import Image

    B, s = len(images), images.shape[1]
    out = np.empty((B, s, s, 3), np.float32)
    for i, im in enumerate(images):
        scale = rng.uniform(0.4, 1.0) if rng.random() < 0.7 else 1.0
        n = max(6, int(round(s * scale)))
        sub = im if n == s else np.asarray(Image.fromarray(im).resize((n, n), Image.Resampling.BILINEAR))
        sub = sub.astype(np.float32) / 255.0
        if rng.random() < 0.5:
            sub = sub[:, ::-1]
        if rng.random() < 0.2:
            sub = sub[..., rng.permutation(3)]
        bg = np.ones((s, s, 3), np.float32) if rng.random() < 0.5 else _setting_background(rng, s)
        y, x = (int(rng.integers(0, s - n + 1)) for _ in range(2))
        mask = (sub.min(axis=-1, keepdims=True) < 0.92).astype(np.float32)  # the page is see-through
        region = bg[y:y + n, x:x + n]
        bg[y:y + n, x:x + n] = mask * sub + (1 - mask) * region
        out[i] = bg
    x = torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
    if rng.random() < 0.3:  # blur: down and up again
        x = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(x, 2), scale_factor=2, mode="bilinear")
    if rng.random() < 0.5:  # speckle, as a short redraw leaves it
        x = x + float(rng.uniform(0.0, 0.08)) * torch.from_numpy(rng.standard_normal(x.shape).astype(np.float32))
    return x.clamp(0, 1)


def _loss(model, x, t):
    """Symmetric InfoNCE against frozen text vectors ``t`` (B, 384); pairs whose texts are near-
    duplicates (cos > 0.9, e.g. two 'a star' pictures) are not counted as negatives."""
    import torch

    z = model(x)
    scale = model.logit_scale.exp().clamp(max=100)
    logits = scale * z @ t.T
    dup = (t @ t.T > 0.9) & ~torch.eye(len(t), dtype=torch.bool)
    logits = logits.masked_fill(dup, float("-inf"))
    y = torch.arange(len(t))
    return 0.5 * (torch.nn.functional.cross_entropy(logits, y) + torch.nn.functional.cross_entropy(logits.T, y))


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


def train_critic(data_path: Path, out_dir: Path, run_dir: Path, cfg: CriticTrainConfig, log=print) -> dict:
    import torch

    from models.common.encoder import load_encoder
    from models.image.critic import CriticConfig, build_encoder, save_critic
    from models.image.training.data import load_dataset

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    ds = load_dataset(data_path)
    ccfg = CriticConfig()
    images = downsample(ds.images, ccfg.size)
    short_t, long_t = target_texts(ds.captions, ds.short_captions)
    enc = load_encoder()
    e_short = embed_texts(short_t, enc, data_path.with_suffix(".critic-short.npy"))
    e_long = embed_texts(long_t, enc, data_path.with_suffix(".critic-long.npy"))
    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(len(ds.images))
    held, train_idx = perm[:cfg.held_out], perm[cfg.held_out:]
    dev, test = held[: cfg.held_out // 2], held[cfg.held_out // 2:]

    model = build_encoder(ccfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt, step = run_dir / "state.safetensors", 0
    if ckpt.exists():
        from safetensors.torch import load_file

        state = load_file(str(ckpt))
        step = int(state.pop("_step").item())
        model.load_state_dict(state)
        log(f"resumed at step {step}")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    t0, history = time.time(), []
    total = cfg.max_steps
    step_rng = np.random.default_rng(cfg.seed + 1 + step)
    while step < total and time.time() - t0 < cfg.max_seconds:
        # cosine decay over the time budget (the step count a CPU reaches is not known in advance)
        frac = min(1.0, (time.time() - t0) / cfg.max_seconds)
        for g in opt.param_groups:
            g["lr"] = cfg.lr * (min(1.0, (step + 1) / 30)) * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * frac)))
        idx = step_rng.choice(train_idx, cfg.batch, replace=False)
        pick_long = step_rng.random(cfg.batch) < 0.3
        t = torch.from_numpy(np.where(pick_long[:, None], e_long[idx], e_short[idx]))
        model.train()
        loss = _loss(model, augment(images[idx], step_rng), t)
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
    meta = {"steps": step, "seconds": round(time.time() - t0), "batch": cfg.batch, "threshold": threshold,
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
    ap.add_argument("--run-dir", default=str(ROOT / "data" / "runs" / "subject-critic"))
    ap.add_argument("--minutes", type=float, default=18)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    cfg = CriticTrainConfig(max_seconds=a.minutes * 60, max_steps=a.steps, threads=a.threads)
    train_critic(Path(a.data), Path(a.out), Path(a.run_dir), cfg, log=lambda m: print(m, flush=True))


if __name__ == "__main__":
    main()
