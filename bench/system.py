"""The app as a whole: startup, first paint, first generation, a whole brief, and how much of the
CPU's matmul ceiling the hot loops reach."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from bench.common import stats, timed


def bench_startup(repeats: int) -> list[dict]:
    """`arsnova --help` in a fresh process, and the chat's first paint (a fresh process that imports
    the app, mounts it headless and exits once the prompt has focus)."""
    import subprocess
    import tempfile

    exe = [sys.executable, "-c", "import sys, agent.cli; sys.exit(agent.cli.main())"]
    helps = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        subprocess.run(exe + ["--help"], capture_output=True, check=True)
        helps.append(time.perf_counter() - t0)
    paint = (
        "import asyncio, os, sys, time\n"
        "t0 = time.perf_counter()\n"
        "from agent.config import Config\n"
        "from tui import make_app\n"
        "async def main():\n"
        "    app = make_app(Config(data_dir=__import__('pathlib').Path(sys.argv[1])))\n"
        "    async with app.run_test(size=(100, 30)) as pilot:\n"
        "        await pilot.pause()\n"
        "        print(time.perf_counter() - t0)\n"
        "asyncio.run(main())\n")
    paints = []
    for _ in range(repeats + 1):
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([sys.executable, "-c", paint, d], capture_output=True, text=True, check=True,
                               cwd=Path(__file__).resolve().parent.parent)
        paints.append(float(r.stdout.strip().splitlines()[-1]))
    return [
        {"item": "`arsnova --help` (fresh process)", **stats(helps[1:]), "target": "< 0.5 s",
         "met": statistics.median(helps[1:]) < 0.5},
        {"item": "chat first paint (fresh process: imports, app mounted, prompt focused)", **stats(paints[1:]),
         "target": "< 1.5 s", "met": statistics.median(paints[1:]) < 1.5},
    ]


def bench_utilisation(repeats: int) -> list[dict]:
    """Achieved GFLOP/s of the hot loops against a torch SGEMM measured in the same run (the
    ceiling here): the picture model's UNet step (CFG batch 2) and the poet's batched decoding
    step (16 candidate lines, one token each, from a KV cache). FLOPs from torch's FlopCounterMode."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from models.common.runtime import default_weights_dir

    threads = os.cpu_count() or 2
    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    torch.mm(a, b)
    t = timed(lambda: torch.mm(a, b), repeats)
    sgemm = 2 * 2048**3 / t["median_s"] / 1e9
    rows = [{"item": f"torch SGEMM 2048x2048, {threads} threads: {sgemm:.0f} GFLOP/s (the ceiling)", **t}]

    def achieved(name: str, fn) -> dict:
        with FlopCounterMode(display=False) as fc:
            fn()
        flops = fc.get_total_flops()
        st = timed(fn, repeats)
        g = flops / st["median_s"] / 1e9
        return {"item": f"{name}: {flops / 1e9:.2f} GFLOP per call, {g:.1f} GFLOP/s = {100 * g / sgemm:.0f}% of SGEMM",
                **st, "target": ">= 30% of SGEMM where matmul-bound", "met": g / sgemm >= 0.3}

    wd = default_weights_dir()
    if (wd / "image" / "model_index.json").exists():
        from models.image.pipeline import ArsNovaImagePipeline

        unet = ArsNovaImagePipeline.from_pretrained(wd / "image", dtype=torch.float32).unet
        x, e = torch.randn(2, unet.config.in_channels, 32, 32), torch.randn(2, 1, 384)
        with torch.inference_mode():
            rows.append(achieved("picture UNet step (CFG batch 2)",
                                 lambda: unet(x, torch.tensor(500), encoder_hidden_states=e)))
    if (wd / "poet" / "config.json").exists():
        from models.common.causal_lm import load_causal_lm

        model, _ = load_causal_lm(str(wd / "poet"), role="poet")
        with torch.inference_mode():
            past = model(torch.randint(0, 8000, (16, 48)), use_cache=True).past_key_values
            step = torch.randint(0, 8000, (16, 1))

            def decode():
                import copy

                model(step, past_key_values=copy.deepcopy(past), use_cache=True)

            rows.append(achieved("poet decoding step (16 candidates, 48-token cache; includes a cache copy)", decode))
    return rows


FIRST_BRIEF = """title: First poem
seed: 5
turns:
  - Write a haiku about the harbour at night.
"""

E2E_BRIEF = """title: End to end
seed: 5
turns:
  - Write a haiku about the harbour at night.
  - A picture of a blue boat.
  - Compose 16 bars of calm piano music in D minor.
  - Make the music less conventional.
"""


# the child's own peak RSS: /proc's VmHWM belongs to the process image after exec, whereas
# getrusage(RUSAGE_CHILDREN) would inherit this process's high-water mark through fork
_HWM = ("import atexit, sys; atexit.register(lambda: print('VMHWM', open('/proc/self/status').read()"
        ".split('VmHWM:')[1].split()[0], file=sys.stderr)); ")


def bench_e2e(repeats: int) -> list[dict]:
    """A whole brief in a fresh process (models loaded from disk each time): a poem, a picture,
    16 bars of music and one revision turn, with every tool's own critique rounds; wall time and
    the process's peak RSS."""
    import subprocess
    import tempfile

    def brief(text: str, runs: int, again: bool = False) -> tuple[list[float], list[float]]:
        """Each run in a fresh data directory; ``again``: time a second run in the same directory
        (the app's caches, e.g. the poet vocabulary's embeddings, already built)."""
        times, rss = [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as d:
                (Path(d) / "brief.yaml").write_text(text)
                for k in range(2 if again else 1):
                    t0 = time.perf_counter()
                    r = subprocess.run([sys.executable, "-c", _HWM + "import sys, agent.cli; sys.exit(agent.cli.main())", "--data-dir",
                                        f"{d}/home", "run", f"{d}/brief.yaml", "--out", f"{d}/out{k}"],
                                       capture_output=True, text=True)
                    if r.returncode:
                        raise SystemExit(f"the end-to-end brief failed: {r.stderr.strip().splitlines()[-1:]}")
                    if k == int(again):
                        times.append(time.perf_counter() - t0)
                        rss.append(int(r.stderr.rsplit("VMHWM", 1)[1].split()[0]) / 1024)
        return times, rss

    cold, _ = brief(FIRST_BRIEF, max(1, repeats // 2))
    warm, _ = brief(FIRST_BRIEF, max(1, repeats // 2), again=True)
    times, rss = brief(E2E_BRIEF, max(1, repeats // 2))
    return [{"item": "first generation including model load: a one-haiku brief, fresh process and data directory "
                     "(the poet vocabulary's embeddings computed and cached)", **stats(cold)},
            {"item": "the same, second start (caches built)", **stats(warm)},
            {"item": "end to end: brief with a haiku, a picture, 16 bars and a revision turn (fresh process, "
                     f"peak RSS {max(rss):.0f} MB)", **stats(times), "target": "< 90 s, RSS < 3 GB",
             "met": statistics.median(times) < 90 and max(rss) < 3072}]


