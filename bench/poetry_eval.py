"""Evaluate the poet on 20 varied topics: haiku 5-7-5 rate, sonnet line count and rhyme-pair rate,
imitation (round 0) vs revised copy rates, whole copied lines, topic adherence against random
corpus passages, and seconds per haiku / sonnet on this machine. Writes bench/poetry_eval.json.

    .venv/bin/python bench/poetry_eval.py [--weights DIR] [--poet SPEC] [--topics N] [--threads N]

Each poem goes through the same generate -> critique -> revise path as the chat (tools/write_poem.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TOPICS = [
    "the sea at night", "a grandmother's kitchen", "autumn leaves in the city", "a lighthouse keeper's solitude",
    "the first snow of winter", "a train leaving the station", "bees in a summer garden", "an old soldier remembering war",
    "the moon over a quiet lake", "a child learning to read", "a storm on the mountains", "the death of a friend",
    "spring rain on the fields", "a ship lost at sea", "the morning bread from the bakery", "stars above the desert",
    "a wedding in a village church", "the silence of a forest", "a fox in the snow", "the river flowing to the sea",
]


def main() -> None:
    import torch

    from agent import events as ev
    from tools.critics.poetry import form_match
    from tools.revise import ReviseConfig
    from tools import registry
    from tools.base import ToolContext, TurnSettings
    from tools.host import make_host
    from models.poetry import prosody
    from models.poetry.forms import plan_form
    from models.poetry.page import read_poem_lines

    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--poet", default=None)
    ap.add_argument("--topics", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("poetry_eval.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    host = make_host(args.weights, cache_dir=Path(tempfile.gettempdir()) / "arsnova-bench-cache")
    settings = TurnSettings(poet=args.poet, threads=args.threads, revise=ReviseConfig())
    kit = host.get("poet", args.poet)
    work = Path(tempfile.mkdtemp(prefix="poetry-eval-"))
    rows = []
    for form in ("haiku", "sonnet"):
        for i, topic in enumerate(TOPICS[: args.topics]):
            rounds, stamps = [], []

            def emit(e):
                if isinstance(e, (ev.Critique, ev.Revision)):
                    rounds.append(e.record)
                    stamps.append(time.perf_counter())

            ctx = ToolContext(f"c{i}", work, i, emit=emit, should_stop=lambda: False, host=host, settings=settings,
                              base_seed=i)
            t = time.perf_counter()
            art = registry.invoke("write_poem", {"topic": topic, "form": form}, ctx)
            secs = time.perf_counter() - t
            lines = read_poem_lines((work / art.files["poem"]).read_text())
            f = form_match(lines, plan_form(form))
            first = rounds[0].scores.metrics
            m = art.scores.metrics
            rows.append({
                "form": form, "topic": topic, "seconds": round(secs, 2), "first_poem_seconds": round(stamps[0] - t, 2),
                "kept_round": art.round,
                "lines": len(lines), "syllables_ok": f["syllables_ok"], "rhymes_ok": f["rhymes_ok"],
                "rhyme_pairs": f["rhyme_pairs"], "syllables": [prosody.line_syllables(ln) for ln in lines],
                "copy_rate_5_round0": first["copy_rate_5"], "copy_rate_4_round0": first["copy_rate_4"],
                "lines_copied_round0": first["lines_copied_whole"],
                "copy_rate_5": m["copy_rate_5"], "copy_rate_4": m["copy_rate_4"], "lines_copied": m["lines_copied_whole"],
                "topic_similarity": m["topic_similarity"], "baseline_similarity": m["baseline_similarity"],
                "quality": art.scores.quality, "novelty": art.scores.novelty, "adherence": art.scores.adherence,
                "title": lines and art.summary.split('"')[1], "poem": lines,
            })
            print(f"{form:6s} {secs:5.1f}s (first {stamps[0] - t:4.1f}s) round {art.round} syl {f['syllables_ok']:.2f} rhyme {f['rhymes_ok']:.2f} "
                  f"copy5 {first['copy_rate_5']:.3f}->{m['copy_rate_5']:.3f} topic {m['topic_similarity']:.2f} "
                  f"vs {m['baseline_similarity']:.2f}  {topic}", flush=True)

    def summary(form: str) -> dict:
        rs = [r for r in rows if r["form"] == form]
        all_lines = sum(r["lines"] for r in rs)
        return {
            "poems": len(rs),
            "line_syllables_ok": sum(r["syllables_ok"] * r["lines"] for r in rs) / max(1, all_lines),
            "rhyme_pairs_ok": (sum(r["rhymes_ok"] * r["rhyme_pairs"] for r in rs) / max(1, sum(r["rhyme_pairs"] for r in rs))
                               if any(r["rhyme_pairs"] for r in rs) else None),
            "line_count_ok": sum(r["lines"] == len(plan_form(form).lines) for r in rs) / len(rs),
            "copy_rate_5_round0": statistics.mean(r["copy_rate_5_round0"] for r in rs),
            "copy_rate_5_revised": statistics.mean(r["copy_rate_5"] for r in rs),
            "copy_rate_4_round0": statistics.mean(r["copy_rate_4_round0"] for r in rs),
            "copy_rate_4_revised": statistics.mean(r["copy_rate_4"] for r in rs),
            "lines_copied_round0": sum(r["lines_copied_round0"] for r in rs),
            "lines_copied_revised": sum(r["lines_copied"] for r in rs),
            "topic_beats_baseline": sum(r["topic_similarity"] > r["baseline_similarity"] for r in rs) / len(rs),
            "seconds_median": statistics.median(r["seconds"] for r in rs),
            "first_poem_seconds_median": statistics.median(r["first_poem_seconds"] for r in rs),
        }

    result = {"model": kit.model_id, "val_nll": kit.val_nll, "threads": args.threads,
              "summary": {f: summary(f) for f in ("haiku", "sonnet")}, "poems": rows}
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
