"""Regenerate the judged (topic, form) requests with RewriteSettings overrides: variant.py NAME key=val..."""
import dataclasses, json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, "."); sys.path.insert(0, "bench")
import torch
torch.set_num_threads(1)
import models.poetry.rewrite as r
name = sys.argv[1]
over = {k: type(getattr(r.RewriteSettings(), k))(v) if not isinstance(getattr(r.RewriteSettings(), k), bool) else v == "1"
        for k, v in (a.split("=") for a in sys.argv[2:])}
R2 = dataclasses.make_dataclass("R2", [(k, type(v), dataclasses.field(default=v)) for k, v in over.items()], bases=(r.RewriteSettings,), frozen=True)
r.RewriteSettings = R2
from poetry_eval import DEV_TOPICS as TEST_TOPICS, FREE_LINES
from tools import registry
from tools.base import ToolContext, TurnSettings
from tools.host import make_host
from tools.revise import ReviseConfig
from models.poetry.page import read_poem_lines
host = make_host(None, cache_dir=Path(tempfile.gettempdir()) / "arsnova-bench-cache")
work = Path(tempfile.mkdtemp())
new = json.load(open("bench/poetry_rewrite_negatives.json"))["poems"]
out = []
for idx in range(3, 140, 9):
    p = new[idx]; i = TEST_TOPICS.index(p["topic"])
    call = {"topic": p["topic"], "form": p["form"], **({"lines": FREE_LINES} if p["form"] == "free" else {})}
    ctx = ToolContext(f"c{i}", work, i, emit=lambda e: None, should_stop=lambda: False, host=host,
                      settings=TurnSettings(poet=None, threads=1, revise=ReviseConfig()), base_seed=i)
    t = time.perf_counter(); art = registry.invoke("write_poem", dict(call), ctx)
    out.append({"topic": p["topic"], "form": p["form"], "lines": read_poem_lines((work / art.files["poem"]).read_text()),
                "seconds": round(time.perf_counter() - t, 2), "quality": art.scores.quality, "sense": art.scores.metrics.get("sense")})
    print(idx, out[-1]["seconds"], flush=True)
json.dump(out, open(f"/tmp/variant_{name}.json", "w"), indent=1)
