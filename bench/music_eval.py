"""Evaluate the shipped music models: key adherence over all 24 keys, bar counts, imitation
(round 0) vs revised novelty, and seconds per 16 bars. Writes bench/music_eval.json.

    .venv/bin/python bench/music_eval.py [--weights DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    import torch

    from tools.critics.music import MusicRequest, music_scores
    from tools.revise import ReviseConfig, revise
    from models.common.checkpoint import read_metadata
    from models.music.generator import MODEL_FILES, MusicGenerator
    from models.music.metrics import pitch_in_scale_rate
    from models.music.sample import SampleSpec
    from models.music.tokens import Key

    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = MusicGenerator.from_dir(args.weights)
    out = {}
    for kind in ("transformer", "rnn"):
        meta = read_metadata(gen.weights_dir / MODEL_FILES[kind])
        gen.model(kind)
        rates, bars_ok, secs, r0, rN, q0, qN = [], [], [], [], [], [], []
        for i, (tonic, mode) in enumerate((t, m) for m in ("major", "minor") for t in range(12)):
            key = Key(tonic, mode)
            meter = ("4/4", "3/4", "6/8", "2/4")[i % 4]
            spec = SampleSpec(key=key, meter=meter, bars=16, seed=i)
            t = time.perf_counter()
            first = gen.compose(kind, spec)
            secs.append(time.perf_counter() - t)
            p = first[0]
            rates.append(pitch_in_scale_rate(p.score, key))
            bars_ok.append(p.score.bars == 16)
            req = MusicRequest(key, 16, meter, 100.0)

            def critic(c):
                return music_scores(c.score, c.nll, req, gen.index)

            def propose(r, n):
                s = replace(spec, temperature=1.0 + 0.08 * r, top_p=0.97, block_strength=2.5 * r, candidates=n,
                            seed=spec.seed + 7919 * r)
                return gen.compose(kind, s, block=True), {}

            res = revise(first, {}, propose, critic, ReviseConfig(target=1.01))
            s0 = res.trajectory[0].scores
            r0.append(s0.metrics["copy_rate"])
            q0.append(s0.quality)
            rN.append(res.best_scores.metrics["copy_rate"])
            qN.append(res.best_scores.quality)
        out[kind] = {
            "val_nll": meta.get("val_nll"), "train_step": meta.get("train_step"), "tokens_seen": meta.get("tokens_seen"),
            "train_seconds": meta.get("train_seconds"), "params": meta.get("params"),
            "pitch_in_scale_mean": statistics.mean(rates), "pitch_in_scale_min": min(rates),
            "bars_exact": sum(bars_ok) / len(bars_ok), "seconds_16_bars_median": statistics.median(secs),
            "copy_rate_round0_mean": statistics.mean(r0), "copy_rate_revised_mean": statistics.mean(rN),
            "quality_round0_mean": statistics.mean(q0), "quality_revised_mean": statistics.mean(qN),
        }
        print(kind, json.dumps(out[kind], indent=1), flush=True)
    (Path(__file__).parent / "music_eval.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
