"""Key-to-screen latency of the chat while a diffusion run is going, against the same app idle.

The real app runs headless (Textual's pilot) on the shipped models; a picture request with many
steps keeps the worker thread busy in the UNet while keys are typed into the prompt. Latency is
the time from sending a key until the app hands the terminal the first frame that shows it
(``App._display``, timed; headless, so the terminal's own drawing is not included). Writes bench/tui_latency.json.

    .venv/bin/python bench/tui_latency.py [--keys 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(__file__).resolve().parent.parent


async def measure(keys: int, busy: bool, threads: int) -> dict:
    from textual.widgets import Input

    from agent.config import Config
    from tui import make_app

    with tempfile.TemporaryDirectory() as home:
        app = make_app(Config.from_env(data_dir=Path(home), threads=threads))
        async with app.run_test(size=(120, 40)) as pilot:
            steps_seen = 0
            if busy:
                app.query_one("#prompt", Input).value = "a picture of a red apple, 64x64, 200 steps"
                await pilot.press("enter")
                t = time.monotonic()
                while not any(c.query_one("ProgressBar").progress > 0 for c in app.cards.values()):
                    if time.monotonic() - t > 300:
                        raise SystemExit("the picture never started: is the image model installed?")
                    await pilot.pause(0.1)
            prompt = app.query_one("#prompt", Input)
            frames: list[tuple[float, str]] = []  # (when, prompt text) of each frame the app rendered
            display = app._display  # where a frame goes to the terminal (a headless run stops there)

            def timed_display(screen, renderable) -> None:
                if renderable is not None:
                    frames.append((time.perf_counter(), prompt.value))
                display(screen, renderable)

            app._display = timed_display
            lat = []
            for k in range(keys):
                expected = prompt.value + "abcdefghij"[k % 10]
                t0 = time.perf_counter()
                await app._press_keys(["abcdefghij"[k % 10]])
                shown = None
                while shown is None and time.perf_counter() - t0 < 10:
                    shown = next((t for t, v in reversed(frames) if v == expected and t >= t0), None)
                    if shown is None:
                        await asyncio.sleep(0.0005)
                while True:  # the first frame that showed it
                    earlier = [t for t, v in frames if v == expected and t0 <= t < shown]
                    if not earlier:
                        break
                    shown = min(earlier)
                lat.append((shown or time.perf_counter()) - t0)
                await asyncio.sleep(0.05)
            if busy:
                card = next(iter(app.cards.values()))
                steps_seen = int(card.query_one("ProgressBar").progress)
                still_running = app.busy
                t = time.monotonic()
                await pilot.press("escape")
                while app.busy and time.monotonic() - t < 30:
                    await pilot.pause(0.05)
                cancel_s = time.monotonic() - t
            typed = app.query_one("#prompt", Input).value
    out = {"median_ms": 1000 * statistics.median(lat), "p95_ms": 1000 * sorted(lat)[int(0.95 * len(lat)) - 1],
           "max_ms": 1000 * max(lat), "keys": keys, "typed_ok": typed == "".join("abcdefghij"[k % 10] for k in range(keys))}
    if busy:
        out.update(diffusion_progress_at_end=steps_seen, busy_throughout=still_running, cancel_seconds=cancel_s)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the diffusion run")
    args = ap.parse_args()
    idle = asyncio.run(measure(args.keys, False, args.threads))
    busy = asyncio.run(measure(args.keys, True, args.threads))
    res = {"idle": idle, "during_diffusion": busy, "ratio_busy_over_idle": busy["median_ms"] / idle["median_ms"],
           "target_median_ms": 100, "met": busy["median_ms"] < 100}
    (ROOT / "bench" / "tui_latency.json").write_text(json.dumps(res, indent=1))
    print(f"key-to-screen median: idle {idle['median_ms']:.1f} ms, during diffusion {busy['median_ms']:.1f} ms "
          f"(p95 {busy['p95_ms']:.1f}, max {busy['max_ms']:.1f}; the run at step {busy['diffusion_progress_at_end']} "
          f"of its round, still running: {busy['busy_throughout']}; Escape stopped it in {busy['cancel_seconds']:.2f} s); ratio {res['ratio_busy_over_idle']:.2f}x; "
          f"target < 100 ms {'met' if res['met'] else 'NOT met'}")


if __name__ == "__main__":
    main()
