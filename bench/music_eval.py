"""Evaluate compose_music as a musician would: 24 keys x 4 requests (slow piano, lively jig,
waltz, chorale), each request sent through the router's slot filling and the real tool pipeline
(sampling, critique, revision, MIDI), then every MIDI file analysed with music21 and the
critics' measures (models/music/analysis.py).

Two phases, so a baseline measured before a change can be re-analysed with today's code:

    .venv/bin/python bench/music_eval.py generate /tmp/music-eval        # 96 tool calls -> MIDI
    .venv/bin/python bench/music_eval.py analyse /tmp/music-eval [--out bench/music_eval.json]
    .venv/bin/python bench/music_eval.py all /tmp/music-eval              # both; writes bench/music_eval.json
    .venv/bin/python bench/music_eval.py speed x                         # bench/music_speed.py -> music_speed.json

The baseline column (``bench/music_eval_baseline.json``) is the analysis of MIDI files the tool
wrote before the issue-19 work (generated with the then-current code, analysed with this one).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REQUESTS = {
    "slow_piano": "a slow piano piece in {key}",
    "jig": "a lively jig in {key}",
    "waltz": "a waltz in {key}",
    "chorale": "a Bach chorale in {key}",
}
KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def requests() -> list[tuple[str, str, str]]:
    """(id, request kind, text) for 24 keys x 4 requests."""
    out = []
    for mode in ("major", "minor"):
        for t, name in enumerate(KEY_NAMES):
            for kind, text in REQUESTS.items():
                out.append((f"{kind}-{name.replace('#', 's')}-{mode}", kind, text.format(key=f"{name} {mode}")))
    return out


def generate(out: Path, model: str | None = None, limit: int | None = None) -> None:
    import torch

    from tools import registry
    from tools.base import ToolContext, TurnSettings
    from tools.host import ModelHost
    from models.music.generator import MusicGenerator

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    gen = MusicGenerator.from_dir()
    host = ModelHost({"music": lambda spec: gen})
    spec = registry.spec("compose_music")
    from tools.compose_music import run as tool_run

    index = {}
    for i, (rid, kind, text) in enumerate(requests()[:limit]):
        args = spec.fill_args(text, text, {})
        args["seed"] = i
        if model:
            args["model"] = model
        args = {k: v for k, v in spec.schema(**args).model_dump().items() if v is not None}
        ctx = ToolContext(rid, out, 1, emit=lambda e: None, should_stop=lambda: False, host=host,
                          settings=TurnSettings())
        t = time.perf_counter()
        art = tool_run(args, ctx)
        secs = time.perf_counter() - t
        index[rid] = {"kind": kind, "text": text, "args": args, "midi": art.files["midi"], "seconds": secs,
                      "quality": art.scores.quality, "novelty": art.scores.novelty, "adherence": art.scores.adherence,
                      "copy_rate": art.scores.metrics.get("copy_rate"), "round": art.round}
        print(f"{i + 1:3d} {rid:24s} {secs:5.1f}s q={art.scores.quality:.2f} n={art.scores.novelty:.2f}", flush=True)
        (out / "index.json").write_text(json.dumps(index, indent=1))


def analyse(src: Path) -> dict:
    from models.music.analysis import piece_report
    from models.music.midi_io import read_parts
    from models.music.tokens import parse_key

    index = json.loads((src / "index.json").read_text())
    rows = []
    for rid, rec in index.items():
        parts = read_parts(src / rec["midi"])
        key = parse_key(rec["args"]["key"])
        rep = piece_report(parts, key, rec["kind"])
        rep.update(id=rid, kind=rec["kind"], seconds=rec["seconds"], quality=rec["quality"],
                   copy_rate=rec["copy_rate"])
        rows.append(rep)
    res = summarise(rows)
    res["bach_reference"] = bach_reference()
    return res


def bach_reference() -> dict:
    """The chorale measures on the held-out Bach chorales (every 20th; the chord model never saw
    them), by the same code: the yardstick for the generated chorales."""
    from models.music.analysis import voice_leading
    from models.music.training.chords import chorale_scores, split

    _, held = split(chorale_scores())
    vls = [voice_leading(s, s.key) for s in held]
    return {"chorales": len(held), "triad_beats": round(statistics.mean(v.plain_chords for v in vls), 4),
            "parallels_per_100_beats": round(statistics.mean(v.parallels_per_100 for v in vls), 4),
            "crossings_per_100_beats": round(statistics.mean(v.crossings_per_100 for v in vls), 4),
            "four_voices": round(statistics.mean(v.four_voices for v in vls), 4)}


def _mean(rows, field, cond=lambda r: True):
    vals = [float(r[field]) for r in rows if cond(r) and r.get(field) is not None]
    return round(statistics.mean(vals), 4) if vals else None


def summarise(rows: list[dict]) -> dict:
    dances = [r for r in rows if r["kind"] == "jig"]
    chorales = [r for r in rows if r["kind"] == "chorale"]
    accomp = [r for r in rows if r["kind"] in ("slow_piano", "waltz")]
    summary = {
        "pieces": len(rows),
        "key_agrees": _mean(rows, "key_agrees"),
        "final_on_tonic": _mean(rows, "final_on_tonic"),
        "first_bar_tonic": _mean(rows, "first_bar_tonic"),
        "phrase_end_cadences": _mean(rows, "cadence_share"),
        "dance_aabb": _mean(dances, "aabb"),
        "restated_phrases_songs": _mean(accomp, "restated"),
        "accompanied_share": _mean(accomp, "accompanied"),
        "chord_tones_under_melody": _mean(accomp, "chord_tone_share", lambda r: r.get("accompanied")),
        "chorale_four_voices": _mean(chorales, "four_voices"),
        "chorale_triad_beats": _mean(chorales, "triad_beats"),
        "chorale_parallels_per_100_beats": _mean(chorales, "parallels_per_100"),
        "chorale_crossings_per_100_beats": _mean(chorales, "crossings_per_100"),
        "chorale_final_tonic_triad": _mean(chorales, "final_tonic_triad"),
        "copy_rate_revised": _mean(rows, "copy_rate"),
        "quality_mean": _mean(rows, "quality"),
        "quality_1_share": _mean([{**r, "q1": r["quality"] >= 0.995} for r in rows], "q1"),
        "seconds_median": round(statistics.median(r["seconds"] for r in rows), 3),
    }
    by_kind = {k: {f: _mean([r for r in rows if r["kind"] == k], f)
                   for f in ("key_agrees", "final_on_tonic", "cadence_share", "aabb", "restated", "quality")}
               for k in REQUESTS}
    return {"summary": summary, "by_request": by_kind, "pieces": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=("generate", "analyse", "all", "speed"))
    ap.add_argument("dir", type=Path)
    ap.add_argument("--model", choices=("transformer", "rnn"))
    ap.add_argument("--limit", type=int)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "music_eval.json")
    args = ap.parse_args()
    if args.phase == "speed":  # bench/music_speed.py times it (and the whole tool call)
        from bench.music_speed import measure

        res = measure(5, baseline=False)
        (Path(__file__).parent / "music_speed.json").write_text(json.dumps(res, indent=1))
        return
    if args.phase in ("generate", "all"):
        generate(args.dir, args.model, args.limit)
    if args.phase in ("analyse", "all"):
        res = analyse(args.dir)
        baseline_path = Path(__file__).parent / "music_eval_baseline.json"
        if baseline_path.exists() and args.out != baseline_path:
            base = json.loads(baseline_path.read_text())["summary"]
            res["table"] = {k: {"baseline": base.get(k), "now": v} for k, v in res["summary"].items()}
        args.out.write_text(json.dumps(res, indent=1))
        print(json.dumps(res.get("table", res["summary"]), indent=1))


if __name__ == "__main__":
    main()
