"""Steps 3-5 of the fourth sense critic (models/poetry/training/sense_semantic.py): train each
variant on the cached features, measure it on DEV beside the installed critic, report TEST, install."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from models.poetry.sense import SENSE_FILE, SenseConfig

BASE_FILE = "sense.third.safetensors"  # the LM-only third critic: the baseline and the frozen LM branch


def poem_level(critic, real_passages: list, poems: list) -> float:
    from models.poetry.training.sense_train import poem_auc

    return poem_auc(critic, real_passages, poems)


def evaluate_and_install(args, data: dict, sem: Path, names: dict, log=print) -> dict:
    from models.common.checkpoint import half_floats, load_safetensors, save_safetensors
    from models.poetry.training.sense_semantic import (COMMAND, VARIANTS, aucs, batches, fit, load_critic,
                                                       load_features, load_lines, predict, unique_lines)
    from models.poetry.training.sense_train import NONSENSE_LIMERICK, calibrate

    t0 = time.time()
    tr_rows = load_features(sem, names["train"], len(data["train"]))
    te_rows = load_features(sem, names["heldout"], len(data["heldout"]))
    vecs = load_lines(sem, names["lines"], unique_lines([t for t, _, _ in data["train"] + data["heldout"]]))
    btr = batches(tr_rows, [float(y) for _, y, _ in data["train"]], texts=[t for t, _, _ in data["train"]], vecs=vecs)
    bte = batches(te_rows, [float(y) for _, y, _ in data["heldout"]], texts=[t for t, _, _ in data["heldout"]],
                  vecs=vecs)
    y = np.array([y for _, y, _ in data["heldout"]])
    kinds = np.array([k for _, _, k in data["heldout"]])
    split = np.array(data["split"])
    log(f"features loaded: {len(tr_rows)} train, {len(te_rows)} held-out ({time.time() - t0:.0f}s)")

    # the third critic (kept beside the installed one as BASE_FILE) on the same windows: the baseline,
    # and the LM branch every variant starts from
    if not (args.home / BASE_FILE).exists():
        shutil.copy(args.home / SENSE_FILE, args.home / BASE_FILE)
    state, meta = load_safetensors(args.home / BASE_FILE)
    old_cfg = SenseConfig(**meta["config"])
    critic = load_critic(args.home, old_cfg)
    critic.head.load_state_dict({k: v.float() for k, v in state.items()})
    init = {k: v.float() for k, v in state.items()}
    results = {}

    def measure(name, head, cfg):
        critic.head, critic.cfg = head, cfg
        p = predict(head, bte)
        r = {half: aucs(y[split == half], p[split == half], kinds[split == half]) for half in ("dev", "test")}
        r["rewrite_poems_dev"] = poem_level(critic, data["real_te"], data["rewrite_dev_poems"])
        r["nonsense_limerick"] = critic.poem(list(NONSENSE_LIMERICK)).score
        results[name] = r
        log(f"{name}: dev {json.dumps({k: round(v, 3) for k, v in r['dev'].items()})} "
            f"rewrite poems (dev) {r['rewrite_poems_dev']:.3f} limerick {r['nonsense_limerick']:.3f}")

    assert not old_cfg.semantic, f"{args.home / BASE_FILE} must be the LM-only third critic"
    measure("installed", critic.head, old_cfg)
    heads = {}
    for v in args.variant:
        kw, freeze = VARIANTS[v]
        cfg = SenseConfig(semantic=True, **kw)
        t1 = time.time()
        ckpt = sem / f"head_{v}-{names['train']}-{args.epochs}.pt"
        heads[v] = (fit(cfg, init, btr, args.epochs, args.seed, ckpt, freeze), cfg)
        log(f"variant {v}: trained in {time.time() - t1:.0f}s")
        measure(v, *heads[v])
    out = {"dev_windows": int((split == "dev").sum()), "test_windows": int((split == "test").sum()),
           "train_windows": len(tr_rows), "variants": results}
    Path(sem / "results.json").write_text(json.dumps(out, indent=1))

    # choose on DEV: of the variants that beat the installed critic on the overall window AUC and on
    # the rewriter's poems, the best overall
    old = results["installed"]
    better = [v for v in heads if results[v]["dev"]["all"] > old["dev"]["all"]
              and results[v]["rewrite_poems_dev"] > old["rewrite_poems_dev"]]
    wins = bool(better)
    best = max(better or heads, key=lambda v: results[v]["dev"]["all"])
    out["chosen"], out["beats_installed_on_dev"] = best, wins
    log(f"chosen: {best}; beats the installed critic on DEV: {wins}")
    if args.install and wins:
        head, cfg = heads[best]
        critic.head, critic.cfg = head, cfg
        backup = sem / "installed_before"
        backup.mkdir(exist_ok=True)
        for f in (SENSE_FILE, "sense.json"):
            shutil.copy(args.home / f, backup / f)
        st = half_floats(head.state_dict())
        save_safetensors(st, args.home / SENSE_FILE, {"config": asdict(cfg)})
        head.load_state_dict({n: t.float() for n, t in st.items()})  # measure what is shipped
        r = results[best]
        report = {"command": COMMAND, "seed": args.seed, "config": asdict(cfg), "variant": best,
                  "epochs": args.epochs, "params": sum(p.numel() for p in head.parameters()),
                  "encoder": "all-MiniLM-L6-v2 (frozen)", "train_windows": len(tr_rows),
                  "dev_windows": out["dev_windows"], "test_windows": out["test_windows"],
                  "dev_auc": r["dev"], "test_auc": r["test"], "installed_before": old,
                  "rewrite_poems_dev": r["rewrite_poems_dev"], "nonsense_limerick": r["nonsense_limerick"],
                  "real_poem": calibrate(critic, data["calibration"]), "seconds": round(time.time() - t0)}
        (args.home / "sense.json").write_text(json.dumps(report, indent=1))
        out["installed"] = True
        log(f"installed: real poem quartiles {report['real_poem']}")
    Path(sem / "results.json").write_text(json.dumps(out, indent=1))
    return out


def main() -> None:
    import argparse
    import zlib

    import torch

    from models.poetry.training.sense_semantic import (VARIANTS, load_critic, step_data, step_features,
                                                       step_lines, unique_lines)

    ap = argparse.ArgumentParser(description="Train the fourth sense critic (models/poetry/training/sense_semantic.py)")
    ap.add_argument("--step", choices=["data", "features", "train", "all"], default="all")
    ap.add_argument("--home", type=Path, default=Path("models/weights/poet"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/arsnova-sense-cache"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--variant", choices=list(VARIANTS), nargs="*", default=list(VARIANTS))
    ap.add_argument("--part", default="0/1", help="features: shards i, i+n, ... (two slots: 0/2 and 1/2)")
    ap.add_argument("--install", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    sem = args.cache / "semantic"
    sem.mkdir(parents=True, exist_ok=True)
    data = step_data(args.cache, args.home, args.seed, args.train, redo=args.step == "data")
    texts = {"train": [t for t, _, _ in data["train"]], "heldout": [t for t, _, _ in data["heldout"]]}
    # shards are named by their windows: another draw of the data never reads stale features
    names = {k: f"{k}-{zlib.crc32(chr(0).join(v).encode()):08x}" for k, v in texts.items()}
    if args.step == "data":
        return
    lines = unique_lines(texts["train"] + texts["heldout"])
    names["lines"] = f"lines-{zlib.crc32(chr(0).join(lines).encode()):08x}"
    if args.step in ("features", "all"):
        critic = load_critic(args.home, SenseConfig(semantic=True))
        part = tuple(int(v) for v in args.part.split("/"))
        step_lines(sem, critic.encoder, lines, names["lines"])
        for name in ("heldout", "train"):
            step_features(sem, critic, texts[name], names[name], part)
        if args.step == "features":
            return
    evaluate_and_install(args, data, sem, names)


if __name__ == "__main__":
    main()
