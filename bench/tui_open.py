"""Opening a long session in the chat: time from start until the last turns are painted with
their cards (poem with scansion, piano roll, picture, buttons), for a 200-turn session against a
1-turn one and against drawing all 200 turns at once (the lazy drawing's baseline, same run).

The turns are real: a poem, a piece and a picture made by the shipped models once, then stored
as 200 turns (each turn's messages and artifact as the chat stores them, pointing at those files).
Writes bench/tui_open.json.

    .venv/bin/python bench/tui_open.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REQUESTS = ("a haiku about autumn rain", "8 bars of calm music in D minor for flute", "draw a red apple, 64x64, 8 steps")


def make_session(data: Path, turns: int) -> tuple[object, str]:
    """A stored session of ``turns`` turns cycling through a real poem, piece and picture."""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from agent.app import make_agent
    from agent.config import Config
    from agent.session import SessionStore

    cfg = Config.from_env(data_dir=data, threads=1)
    store = SessionStore(data)
    seed_sid = store.create(title="seed").id
    agent = make_agent(cfg, store=store)
    for text in REQUESTS:
        list(agent.run(text, seed_sid))
    made = store.artifacts(seed_sid)
    assert len(made) == 3, "the shipped models did not make all three results"
    sid = store.create(title=f"{turns} turns", session_id=f"long-{turns}").id
    folder = store.session_dir(sid)
    folder.mkdir(parents=True, exist_ok=True)
    for art in made:  # the files, once; every turn's artifact points at them
        for rel in art.files.values():
            (folder / rel).write_bytes((store.session_dir(seed_sid) / rel).read_bytes())
    for t in range(1, turns + 1):
        art = made[(t - 1) % 3]
        call = f"call_0_{art.tool}"
        store.add_message(sid, t, HumanMessage(REQUESTS[(t - 1) % 3]))
        store.add_message(sid, t, AIMessage("", tool_calls=[{"name": art.tool, "args": art.args, "id": call,
                                                              "type": "tool_call"}]))
        store.add_artifact(sid, replace(art, turn=t, id=f"{t:03d}-{call}-x"))
        store.add_message(sid, t, ToolMessage(art.summary, tool_call_id=call))
    return cfg, sid


async def open_time(cfg, sid: str, eager: bool) -> float:
    from tui import StudioApp, ToolCard, make_app

    app = make_app(cfg, sid)
    if eager:
        app.RESUME_TURNS = 10 ** 6  # everything at once: what drawing without laziness costs
    turns = len({t for t, _ in app.store.transcript(sid)})
    want = min(turns, app.RESUME_TURNS)
    t = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        while True:  # until every card that should show has its result drawn
            cards = list(app.query(ToolCard))
            if len(cards) == want and all(c.view is not None for c in cards):
                break
            await asyncio.sleep(0.01)  # (pilot.pause waits for the screen, which times out while 200 turns mount)
        await pilot.pause(0)  # one more frame: painted
        took = time.perf_counter() - t
    assert isinstance(app, StudioApp)
    return took


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = {}
    with tempfile.TemporaryDirectory() as home:
        cfg, long_sid = make_session(Path(home) / "a", 200)
        cfg1, short_sid = make_session(Path(home) / "b", 1)
        for name, c, sid, eager in (("1 turn", cfg1, short_sid, False), ("200 turns (lazy)", cfg, long_sid, False),
                                    ("200 turns (all at once)", cfg, long_sid, True)):
            times = [asyncio.run(open_time(c, sid, eager)) for _ in range(args.repeats)]
            out[name] = {"median_s": statistics.median(times), "runs": times}
            print(f"{name}: {[round(x, 2) for x in times]}", flush=True)
    base = out["1 turn"]["median_s"]
    for name, row in out.items():
        row["ratio_to_1_turn"] = row["median_s"] / base
        print(f"{name:26s} median {row['median_s']:.2f} s  ({row['ratio_to_1_turn']:.1f}x one turn)")
    out["goal"] = "a 200-turn session paints in < 1.5 s"
    out["met"] = out["200 turns (lazy)"]["median_s"] < 1.5
    Path(__file__).with_name("tui_open.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
