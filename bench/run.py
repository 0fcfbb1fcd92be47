"""Benchmarks: medians of repeated runs after a warm-up, and ratios against a baseline measured in
the same process. Writes bench/results.json and prints a Markdown table.

    .venv/bin/python bench/run.py [--only planner,music] [--repeats 5]

Sections: planner (bench/planner.py); music, poetry, image (bench/generators.py); style
(bench/style.py); startup, e2e, utilisation (bench/system.py). Each returns table rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import peak_rss_mb  # noqa: E402
from bench.generators import bench_image, bench_music, bench_poetry  # noqa: E402
from bench.planner import bench_planner  # noqa: E402
from bench.style import bench_style  # noqa: E402
from bench.system import bench_e2e, bench_startup, bench_utilisation  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="startup,planner,music,poetry,style,image,e2e,utilisation")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--weights", type=Path)
    args = ap.parse_args()
    only = set(args.only.split(","))
    rows: list[dict] = []
    t0 = time.time()
    if "planner" in only:
        rows += bench_planner(args.repeats)
    if "music" in only:
        rows += bench_music(args.repeats, args.weights)
    if "style" in only:
        rows += bench_style(args.repeats)
    if "startup" in only:
        rows += bench_startup(args.repeats)
    if "poetry" in only:
        rows += bench_poetry(args.repeats, args.weights)
    if "image" in only:
        rows += bench_image(args.repeats)
    if "e2e" in only:
        rows += bench_e2e(args.repeats)
    if "utilisation" in only:
        rows += bench_utilisation(args.repeats)
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "torch_threads": "music, poetry: 1; planner, style, image, e2e: all cores"},
        "seconds": round(time.time() - t0, 1), "peak_rss_mb": round(peak_rss_mb(), 1), "rows": rows,
    }
    out = Path(__file__).parent / "results.json"
    out.write_text(json.dumps(result, indent=1))
    print(markdown(result))


def markdown(result: dict) -> str:
    lines = ["| item | median | min | max | baseline | ratio | target |", "|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        extra = f" (p95 {r['p95_s'] * 1000:.1f} ms)" if "p95_s" in r else ""
        extra += f", {r['tok_per_s']:.0f} tok/s" if "tok_per_s" in r else ""
        base = f"{r['baseline']}: {r['baseline_s']:.3f} s" if "baseline" in r else "-"
        ratio = f"{r['ratio']:.1f}x" if "ratio" in r else "-"
        target = f"{r['target']} {'met' if r.get('met') else 'MISSED'}" if "target" in r else "-"
        lines.append(f"| {r['item']} | {r['median_s']:.3f} s{extra} | {r['min_s']:.3f} | {r['max_s']:.3f} | {base} "
                     f"| {ratio} | {target} |")
    lines.append(f"\n{result['machine']['cpus']} CPUs, {result['machine']['platform']}; peak RSS "
                 f"{result['peak_rss_mb']:.0f} MB; {result['seconds']:.0f} s in all.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
