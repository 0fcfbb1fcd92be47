"""Evaluate compose_music as a musician would: 24 keys x 4 requests (slow piano, lively jig,
waltz, chorale), each request sent through the router's slot filling and the real tool pipeline
(sampling, critique, revision, MIDI), then every MIDI file analysed with music21 and the
critics' measures (models/music/analysis.py), including, in the minor keys, how many phrase ends
sound the natural seventh against the raised leading note (``analysis.minor_cadence_clashes``).

Two phases, so a baseline measured before a change can be re-analysed with today's code:

    .venv/bin/python bench/music_eval.py generate /tmp/music-eval        # 96 tool calls -> MIDI
    .venv/bin/python bench/music_eval.py analyse /tmp/music-eval [--out bench/music_eval.json]
    .venv/bin/python bench/music_eval.py all /tmp/music-eval              # both; writes bench/music_eval.json
    .venv/bin/python bench/music_eval.py generate /tmp/v1 --weights /tmp/music-v1   # other weights
    .venv/bin/python bench/music_eval.py generate /tmp/music-eval --only chorale    # redo one kind
    .venv/bin/python bench/music_eval.py speed x                         # bench/music_speed.py -> music_speed.json
    .venv/bin/python bench/music_eval.py chorales x [--dev]              # DP vs network -> music_eval_chorales.json
    .venv/bin/python bench/music_eval.py bands x                         # corpus melody bands -> music_melody_bands.json
    .venv/bin/python bench/music_eval.py generate /tmp/x --extra --only reel   # + 16-bar reels (and lullabies)
    .venv/bin/python bench/music_eval.py generate /tmp/x --every 4 --seed-offset 1000  # 6 keys, dev seeds

Every piece also gets its melody's range, distinct pitches and immediate-repeat share
(``melody_shape``), its rhythm (``dance_rhythm``: eighth notes, onsets off the eighth grid, notes
of a half or more) and the MIDI file's tempo in crotchets a minute; ``bands`` measures the same on
the training corpus (Bach's sopranos, Essen folk songs, O'Neill's and Ryan's tunes).

``chorales`` compares the two harmonisers on the same sopranos: for each of the 24 chorale requests
(slots filled by the router, as ``generate`` does; the same seed as there), the round-0 soprano is
sampled to the tool's phrase plan once, then given alto, tenor and bass by the chord model + voicing
DP and by the chorale network (``models/music/coconet.py``), and both pieces analysed by
``piece_report`` (the code ``analyse`` uses) against the held-out Bach. ``--dev`` uses other seeds
(+1000): the sampler settings were chosen on those; the reported table is the default seeds.

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


# more of the composer audit's requests (``--extra``): a reel in 16 bars (two 8-bar strains) and an
# accompanied lullaby; not in the 24 x 4 table
EXTRA_REQUESTS = {
    "reel": "16 bars of a reel in {key}",
    "lullaby": "a lullaby in {key} with accompaniment",
}


def requests(extra: bool = False, every: int = 1) -> list[tuple[str, str, str]]:
    """(id, request kind, text) for 24 keys x 4 requests (``extra``: x 6; ``every``: every n-th key)."""
    out = []
    kinds = {**REQUESTS, **(EXTRA_REQUESTS if extra else {})}
    for mode in ("major", "minor"):
        for t, name in enumerate(KEY_NAMES):
            for kind, text in kinds.items():
                if t % every == 0:
                    out.append((f"{kind}-{name.replace('#', 's')}-{mode}", kind, text.format(key=f"{name} {mode}")))
    return out


def generate(out: Path, model: str | None = None, limit: int | None = None, weights: Path | None = None,
             only: str | None = None, extra: bool = False, every: int = 1, seed_offset: int = 0) -> None:
    """96 tool calls -> MIDI files and ``out/index.json``. ``only``: just that request kind (same
    seeds), the other pieces of a run already in ``out`` kept (after a change that only they feel)."""
    import torch

    from tools import registry
    from tools.base import ToolContext, TurnSettings
    from tools.host import ModelHost
    from models.music.generator import MusicGenerator

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    gen = MusicGenerator.from_dir(weights)
    host = ModelHost({"music": lambda spec: gen})
    spec = registry.spec("compose_music")
    from tools.compose_music import run as tool_run

    index = json.loads((out / "index.json").read_text()) if only and (out / "index.json").exists() else {}
    seeds = {rid: i for i, (rid, _, _) in enumerate(requests())}  # the same seed for a request, whatever the subset
    for i, (rid, kind, text) in enumerate(requests(extra, every)[:limit]):
        if only and kind != only:
            continue
        args = spec.fill_args(text, text, {})
        args["seed"] = seeds.get(rid, 96 + i) + seed_offset
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
    from models.music.midi_io import read_midi_piece, read_parts
    from models.music.tokens import parse_key

    index = json.loads((src / "index.json").read_text())
    rows = []
    for rid, rec in index.items():
        parts = read_parts(src / rec["midi"])
        key = parse_key(rec["args"]["key"])
        rep = piece_report(parts, key, rec["kind"])
        rep.update(id=rid, kind=rec["kind"], seconds=rec["seconds"], quality=rec["quality"],
                   copy_rate=rec["copy_rate"], **melody_shape(parts), **dance_rhythm(parts))
        rep["tempo_qpm"] = round(read_midi_piece(src / rec["midi"])[1], 2)
        rows.append(rep)
    res = summarise(rows)
    res["bach_reference"] = bach_reference()
    return res


# ---- the melody's shape and a dance tune's rhythm (the composer audit's findings) -----------------
def melody_shape(score) -> dict:
    """The melody's (voice 0's top line) range in semitones, distinct pitches, and share of
    immediate repeats (a note at the pitch of the one before): a reciting tune has a narrow range,
    few pitches and many repeats."""
    from models.music.analysis import melody_notes

    ps = [n.pitch for n in melody_notes(score)]
    if len(ps) < 2:
        return {"melody_range": 0, "melody_distinct": len(set(ps)), "melody_repeats": 0.0}
    return {"melody_range": max(ps) - min(ps), "melody_distinct": len(set(ps)),
            "melody_repeats": round(sum(a == b for a, b in zip(ps, ps[1:])) / (len(ps) - 1), 4)}


def dance_rhythm(score) -> dict:
    """The melody's rhythm: share of notes an eighth long (running eighths), of onsets off the
    eighth grid (a dotted-eighth/sixteenth figure), and of notes a half note or longer."""
    from models.music.analysis import melody_notes

    mel = melody_notes(score)
    starts = [n.start for n in mel]
    iois = [b - a for a, b in zip(starts, starts[1:])]
    if not iois:
        return {"eighth_share": 0.0, "off_eighth_share": 0.0, "long_share": 0.0}
    return {"eighth_share": round(sum(i == 2 for i in iois) / len(iois), 4),
            "off_eighth_share": round(sum(s % 2 == 1 for s in starts) / len(starts), 4),
            "long_share": round(sum(i >= 8 for i in iois) / len(iois), 4)}


def corpus_bands(max_bars: int = 16) -> dict:
    """``melody_shape`` (and, for reels, ``dance_rhythm``) on training pieces of the corpus, the
    first ``max_bars`` bars of each (the generated pieces are 16 bars; a dance tune's 32 are its
    AABB written out, 16 distinct): the Bach chorales' sopranos (the training half of
    ``training.chords.split``), German folk songs (essenFolksong, style folk: what a slow piece,
    waltz or lullaby samples with), O'Neill's 1850 and Ryan's Mammoth reels, jigs and hornpipes
    (style irish). 10th/50th/90th percentiles."""
    import glob
    import warnings

    import music21
    import numpy as np

    from models.music.tokens import Score
    from models.music.training.chords import chorale_scores, split
    from models.music.training.data import parse_job

    warnings.simplefilter("ignore")

    def cut(s: Score) -> Score:
        end = min(s.bars, max_bars) * s.bar_length
        return Score(tuple(n for n in s.notes if n.start < end and n.voice == 0), s.meter, s.key, s.style, s.density,
                     min(s.bars, max_bars))

    root = Path(music21.__file__).parent / "corpus"
    train, _ = split(chorale_scores())
    groups: dict[str, list] = {"chorale_soprano": [cut(s) for s in train]}
    essen = sorted(glob.glob(str(root / "essenFolksong" / "*.abc")))[:6]
    groups["folk_essen"] = [cut(s) for f in essen for s in parse_job((f, "folk")) if s.bars >= 8]
    oneills = sorted(glob.glob(str(root / "oneills1850" / "*.abc")))[:4]
    irish = [s for f in oneills for s in parse_job((f, "irish")) if s.bars >= 8]
    groups["irish_oneills"] = [cut(s) for s in irish]
    for kind in ("Reel", "Jig", "Hornpipe"):
        files = sorted(glob.glob(str(root / "ryansMammoth" / f"*{kind}.abc")))[:80]
        groups[f"ryans_{kind.lower()}"] = [cut(s) for f in files for s in parse_job((f, "irish")) if s.bars >= 8]
    out = {}
    for name, scores in groups.items():
        rows = [{**melody_shape(s), **dance_rhythm(s), "meter": s.meter} for s in scores]
        out[name] = {"pieces": len(rows), "meters": {m: sum(r["meter"] == m for r in rows) for m in {r["meter"] for r in rows}}}
        for f in ("melody_range", "melody_distinct", "melody_repeats", "eighth_share", "off_eighth_share", "long_share"):
            v = np.array([r[f] for r in rows], float)
            out[name][f] = [round(float(x), 3) for x in np.percentile(v, [10, 50, 90])] if len(v) else None
    return out


def bach_reference() -> dict:
    """The chorale measures on the held-out Bach chorales (every 20th; the chord model never saw
    them), by the same code: the yardstick for the generated chorales."""
    from models.music.analysis import inner_repeats, minor_cadence_clashes, phrase_end_notes, voice_leading
    from models.music.training.chords import chorale_scores, split

    _, held = split(chorale_scores())
    vls = [voice_leading(s, s.key) for s in held]
    clash = [minor_cadence_clashes(s, s.key, phrase_end_notes(s, 2)) for s in held]
    return {"chorales": len(held),
            "minor_cadences": sum(c[0] for c in clash), "minor_cadence_7th_clashes": sum(c[1] for c in clash),
            "triad_beats": round(statistics.mean(v.plain_chords for v in vls), 4),
            "parallels_per_100_beats": round(statistics.mean(v.parallels_per_100 for v in vls), 4),
            "crossings_per_100_beats": round(statistics.mean(v.crossings_per_100 for v in vls), 4),
            "four_voices": round(statistics.mean(v.four_voices for v in vls), 4),
            "inner_repeats": round(statistics.mean(inner_repeats(s) for s in held), 4)}


def compare_chorales(dev: bool = False) -> dict:
    """DP vs network on the 24 chorale requests' sopranos (see the module docstring)."""
    import torch

    from models.common.runtime import default_weights_dir
    from models.music.analysis import melody_part, piece_report
    from models.music.chorale import harmonise_chorale
    from models.music.coconet import load_coconet
    from models.music.generator import MusicGenerator
    from models.music.plan import make_plan
    from models.music.sample import STYLE_SHAPES, SampleSpec
    from models.music.tokens import parse_key
    from tools import registry
    from tools.compose_music import default_form
    from tools.critics.music import default_phrase_bars

    torch.set_num_threads(1)
    gen = MusicGenerator.from_dir()
    kind = gen.default_kind()
    net, meta = load_coconet(default_weights_dir() / "music-chorale.safetensors")
    spec = registry.spec("compose_music")
    rows = {"dp": [], "net": []}
    for i, (rid, req_kind, text) in enumerate(requests()):
        if req_kind != "chorale":
            continue
        args = spec.fill_args(text, text, {})
        key = parse_key(args["key"])
        bars = int(args.get("bars") or 16)
        meter = args.get("meter") or "4/4"
        form = args.get("form") or default_form("chorale", args.get("density") or "moderate", meter)
        plan = make_plan(key, bars, form, default_phrase_bars("chorale", bars))
        seed = i + (1000 if dev else 0)
        base = SampleSpec(key=key, meter=meter, bars=bars, style="chorale", density=args.get("density") or "moderate",
                          seed=seed, plan=plan.guides, max_chord=1, pitch_range=(60, 79), onset_grid=4,
                          shape=STYLE_SHAPES["chorale"])  # the soprano as compose_music samples it
        melody = melody_part(gen.compose(kind, base)[0].score, legato=True)
        for name, how in (("dp", {}), ("net", {"net": net})):
            t = time.perf_counter()
            score = harmonise_chorale(melody, key, gen.chords, plan.cadences, **how)[0]
            secs = time.perf_counter() - t
            rep = piece_report(score, key, "chorale")
            rows[name].append({"id": rid, "seconds": round(secs, 3), **{k: rep[k] for k in (
                "key_agrees", "cadence_share", "four_voices", "triad_beats", "parallels_per_100",
                "crossings_per_100", "range_per_100", "final_tonic_triad", "inner_repeats", "minor_cadences",
                "seventh_clashes")}})
        print(f"{rid:24s} " + "  ".join(f"{n}: triads {rows[n][-1]['triad_beats']:.2f} par {rows[n][-1]['parallels_per_100']:.1f} "
                                        f"cross {rows[n][-1]['crossings_per_100']:.1f} {rows[n][-1]['seconds']:.2f}s"
                                        for n in rows), flush=True)
    fields = ("triad_beats", "parallels_per_100", "crossings_per_100", "range_per_100", "final_tonic_triad",
              "key_agrees", "cadence_share", "four_voices", "inner_repeats")
    table = {f: {n: _mean(rows[n], f) for n in rows} for f in fields}
    for n in rows:
        table.setdefault("minor_cadence_7th_clash_share", {})[n] = _clash_share(rows[n])
        table.setdefault("seconds_median", {})[n] = round(statistics.median(r["seconds"] for r in rows[n]), 3)
    return {"seeds": "dev (+1000)" if dev else "test (as generate)", "soprano_model": kind,
            "network": {k: meta.get(k) for k in ("train_step", "dev_nll", "test_nll_infill", "test_nll_random")},
            "table": table, "bach_sopranos": bach_sopranos(gen.chords, net), "bach_reference": bach_reference(),
            "pieces": rows}


def bach_sopranos(chords, net) -> dict:
    """Both harmonisers under the held-out Bach chorales' own sopranos (only the last bar fixed to I;
    no phrase plan), measured like Bach's parts in ``bach_reference``."""
    from models.music.analysis import inner_repeats, voice_leading
    from models.music.chorale import harmonise_chorale
    from models.music.tokens import Score
    from models.music.training.chords import chorale_scores, split

    _, held = split(chorale_scores())
    out = {}
    for name, how in (("dp", {}), ("net", {"net": net})):
        vls, inner = [], []
        for s in held:
            sop = Score(tuple(n for n in s.notes if n.voice == 0), s.meter, s.key, s.style, s.density, s.n_bars)
            score = harmonise_chorale(sop, s.key, chords, (None,) * (s.bars - 1) + ("I",), **how)[0]
            vls.append(voice_leading(score, s.key))
            inner.append(inner_repeats(score))
        out[name] = {"chorales": len(held), "triad_beats": round(statistics.mean(v.plain_chords for v in vls), 4),
                     "parallels_per_100_beats": round(statistics.mean(v.parallels_per_100 for v in vls), 4),
                     "crossings_per_100_beats": round(statistics.mean(v.crossings_per_100 for v in vls), 4),
                     "final_tonic_triad": round(statistics.mean(v.final_tonic_triad for v in vls), 4),
                     "inner_repeats": round(statistics.mean(inner), 4)}
    return out


def _mean(rows, field, cond=lambda r: True):
    vals = [float(r[field]) for r in rows if cond(r) and r.get(field) is not None]
    return round(statistics.mean(vals), 4) if vals else None


def _clash_share(rows) -> float | None:
    """Phrase ends in minor-key pieces with the natural seventh sounding against the raised leading
    note (``analysis.minor_cadence_clashes``), of all their phrase ends."""
    n = sum(r.get("minor_cadences", 0) for r in rows)
    return round(sum(r.get("seventh_clashes", 0) for r in rows) / n, 4) if n else None


def summarise(rows: list[dict]) -> dict:
    dances = [r for r in rows if r["kind"] == "jig"]
    chorales = [r for r in rows if r["kind"] == "chorale"]
    accomp = [r for r in rows if r["kind"] in ("slow_piano", "waltz")]
    if any(r["kind"] in EXTRA_REQUESTS for r in rows):  # --extra: the reels and lullabies in their own lines
        reels = [r for r in rows if r["kind"] == "reel"]
        extra = {"reel_pieces": len(reels), "reel_bars": _mean(reels, "bars"),
                 "reel_eighth_share": _mean(reels, "eighth_share"), "reel_off_eighth_share": _mean(reels, "off_eighth_share"),
                 "reel_long_share": _mean(reels, "long_share"), "reel_tempo_qpm": _mean(reels, "tempo_qpm"),
                 "lullaby_melody_range": _mean([r for r in rows if r["kind"] == "lullaby"], "melody_range"),
                 "lullaby_melody_repeats": _mean([r for r in rows if r["kind"] == "lullaby"], "melody_repeats")}
    else:
        extra = {}
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
        "authentic_close_accompanied": _mean(accomp, "authentic_close", lambda r: r.get("accompanied")),
        "chorale_four_voices": _mean(chorales, "four_voices"),
        "chorale_triad_beats": _mean(chorales, "triad_beats"),
        "chorale_parallels_per_100_beats": _mean(chorales, "parallels_per_100"),
        "chorale_crossings_per_100_beats": _mean(chorales, "crossings_per_100"),
        "chorale_final_tonic_triad": _mean(chorales, "final_tonic_triad"),
        "chorale_inner_repeats": _mean(chorales, "inner_repeats"),
        "minor_cadences": sum(r.get("minor_cadences", 0) for r in rows),
        "minor_cadence_7th_clashes": sum(r.get("seventh_clashes", 0) for r in rows),
        "minor_cadence_7th_clash_share": _clash_share(rows),
        "copy_rate_revised": _mean(rows, "copy_rate"),
        "chorale_soprano_range": _mean(chorales, "melody_range"),
        "chorale_soprano_distinct": _mean(chorales, "melody_distinct"),
        "chorale_soprano_repeats": _mean(chorales, "melody_repeats"),
        "song_melody_range": _mean(accomp, "melody_range"),
        "song_melody_distinct": _mean(accomp, "melody_distinct"),
        "song_melody_repeats": _mean(accomp, "melody_repeats"),
        "quality_mean": _mean(rows, "quality"),
        "quality_1_share": _mean([{**r, "q1": r["quality"] >= 0.995} for r in rows], "q1"),
        "seconds_median": round(statistics.median(r["seconds"] for r in rows), 3),
        **extra,
    }
    by_kind = {k: {f: _mean([r for r in rows if r["kind"] == k], f)
                   for f in ("key_agrees", "final_on_tonic", "cadence_share", "aabb", "restated", "quality",
                             "authentic_close", "melody_range", "melody_distinct", "melody_repeats",
                             "eighth_share", "off_eighth_share", "long_share", "tempo_qpm")}
               for k in {**REQUESTS, **EXTRA_REQUESTS} if any(r["kind"] == k for r in rows)}
    for k in by_kind:
        by_kind[k]["minor_cadence_7th_clash_share"] = _clash_share([r for r in rows if r["kind"] == k])
    return {"summary": summary, "by_request": by_kind, "pieces": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=("generate", "analyse", "all", "speed", "chorales", "bands"))
    ap.add_argument("dir", type=Path)
    ap.add_argument("--model", choices=("transformer", "rnn"))
    ap.add_argument("--limit", type=int)
    ap.add_argument("--weights", type=Path, help="generate: the music weights folder (default models/weights)")
    ap.add_argument("--dev", action="store_true", help="chorales: the dev seeds")
    ap.add_argument("--only", choices=tuple({**REQUESTS, **EXTRA_REQUESTS}), help="generate: only this request kind, other pieces in DIR kept")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "music_eval.json")
    ap.add_argument("--extra", action="store_true", help="generate: also a 16-bar reel and an accompanied lullaby per key")
    ap.add_argument("--every", type=int, default=1, help="generate: every n-th key only (e.g. 4: C, E, Ab in both modes)")
    ap.add_argument("--seed-offset", type=int, default=0, help="generate: seeds + this (1000: the dev seeds)")
    args = ap.parse_args()
    if args.phase == "speed":  # bench/music_speed.py times it (and the whole tool call)
        from bench.music_speed import measure

        res = measure(5, baseline=False)
        (Path(__file__).parent / "music_speed.json").write_text(json.dumps(res, indent=1))
        return
    if args.phase == "bands":  # the corpus's melody bands -> music_melody_bands.json
        res = corpus_bands()
        (Path(__file__).parent / "music_melody_bands.json").write_text(json.dumps(res, indent=1))
        print(json.dumps(res, indent=1))
        return
    if args.phase == "chorales":
        res = compare_chorales(args.dev)
        out = Path(__file__).parent / f"music_eval_chorales{'_dev' if args.dev else ''}.json"
        out.write_text(json.dumps(res, indent=1))
        print(json.dumps({"table": res["table"], "bach": res["bach_reference"]}, indent=1))
        return
    if args.phase in ("generate", "all"):
        generate(args.dir, args.model, args.limit, args.weights, args.only, args.extra, args.every, args.seed_offset)
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
