"""How long music takes (issue 19: 16 accompanied bars < 3 s, an 8-bar four-part chorale < 10 s,
on the bench's 2 cores; here one torch thread). Medians over ``--runs`` runs after a warm-up, per
model (transformer, rnn), for two requests, each timed two ways:

- generate: sample the melody to the phrase plan, then lay out the parts (a waltz
  accompaniment under 16 bars in D minor; an 8-bar chorale in D minor harmonised SATB by the
  default harmoniser, the chorale network when its file is installed), as
  ``bench/music_eval.py speed`` timed it;
- tool: the whole ``compose_music`` call a person waits for (round-0 piece, critique, revision
  rounds, MIDI, piano roll), "a waltz in D minor, 16 bars" and "a Bach chorale in D minor, 8 bars".

``chorale_harmonisers``: the 8-bar D minor chorale with each harmoniser, the chord model + voicing
DP and the Coconet-style network (``models/music/coconet.py``): the soprano sampled to the plan and
the three lower parts written (end to end), and the harmonising alone.

``--baseline`` also times the code paths before the speed-up, patched back in for the run: the
LSTM's per-token step through ``nn.LSTM`` (oneDNN reorders its weights on every one-token call)
and the critic's key reading through music21's ``Stream.analyze('key')``.

    .venv/bin/python bench/music_speed.py [--runs 5] [--baseline]      # -> bench/music_speed.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REQUESTS = {"accompanied_16_bars": "a waltz in D minor, 16 bars", "chorale_8_bars": "a Bach chorale in D minor, 8 bars"}


def generate_once(gen, kind: str, request: str, seed: int) -> None:
    """Sample to the plan and write the parts, without critique or files."""
    from models.music.accompany import accompany
    from models.music.analysis import melody_part
    from models.music.chorale import harmonise_chorale
    from models.music.plan import make_plan
    from models.music.sample import SampleSpec
    from models.music.tokens import Key

    key = Key(2, "minor")
    if request == "accompanied_16_bars":
        plan = make_plan(key, 16, "AABA", 4)
        p = gen.compose(kind, SampleSpec(key=key, meter="3/4", bars=16, density="moderate", seed=seed,
                                         plan=plan.guides, max_chord=1, pitch_range=(62, 88)))[0]
        accompany(melody_part(p.score), key, gen.chords, plan.cadences, "waltz")
    else:
        plan = make_plan(key, 8, "AAB", 2)
        p = gen.compose(kind, SampleSpec(key=key, meter="4/4", bars=8, style="chorale", seed=seed, plan=plan.guides,
                                         max_chord=1, pitch_range=(60, 79), onset_grid=4))[0]
        harmonise_chorale(melody_part(p.score, legato=True), key, gen.chords, plan.cadences, net=gen.chorale_net)


def tool_once(gen, kind: str, request: str, seed: int, out: Path) -> None:
    """One compose_music call, slots filled from the request's text as the router does."""
    from tools import registry
    from tools.base import ToolContext, TurnSettings
    from tools.compose_music import run as tool_run
    from tools.host import ModelHost

    spec = registry.spec("compose_music")
    text = REQUESTS[request]
    args = spec.fill_args(text, text, {})
    args.update(seed=seed, model=kind)
    args = {k: v for k, v in spec.schema(**args).model_dump().items() if v is not None}
    ctx = ToolContext(f"{kind}-{request}-{seed}", out, 1, emit=lambda e: None, should_stop=lambda: False,
                      host=ModelHost({"music": lambda s: gen}), settings=TurnSettings())
    tool_run(args, ctx)


def music21_key_via_stream(score, requested=None):
    """The critic's key reading as it was: a music21 Stream and ``analyze('key')``."""
    from music21 import note, stream

    from models.music.analysis import KeyReading
    from models.music.tokens import Key

    if not score.notes:
        return KeyReading(Key(0, "major"), 0.0, None)
    s = stream.Stream()
    for n in score.notes:
        s.insert(n.start / 4, note.Note(n.pitch, quarterLength=n.duration / 4))
    k = s.analyze("key")
    key = Key(k.tonic.pitchClass, k.mode if k.mode in ("major", "minor") else "major")
    req = None
    if requested is not None:
        for alt in [k, *k.alternateInterpretations]:
            if alt.tonic.pitchClass == requested.tonic and alt.mode == requested.mode:
                req = float(alt.correlationCoefficient)
                break
    return KeyReading(key, float(k.correlationCoefficient), req)


@contextmanager
def before_speedup():
    """The old paths patched in: nn.LSTM for each sampled token, music21's Stream key analysis."""
    from models.music import analysis
    from models.music.rnn import MusicRNN

    def lstm_step(self, token, state):
        logits, state = self(token[:, None], state)
        return logits[:, -1], state

    saved = MusicRNN.step, analysis.music21_key
    MusicRNN.step, analysis.music21_key = lstm_step, music21_key_via_stream
    try:
        yield
    finally:
        MusicRNN.step, analysis.music21_key = saved


def chorale_harmonisers(gen, runs: int) -> dict:
    """Seconds (stats over ``runs`` after a warm-up) for an 8-bar chorale in D minor, per harmoniser."""
    from bench.common import stats
    from models.common.runtime import default_weights_dir
    from models.music.analysis import melody_part
    from models.music.chorale import harmonise_chorale
    from models.music.coconet import load_coconet
    from models.music.plan import make_plan
    from models.music.sample import SampleSpec
    from models.music.tokens import Key

    key, kind = Key(2, "minor"), gen.default_kind()
    net, _ = load_coconet(default_weights_dir() / "music-chorale.safetensors")
    plan = make_plan(key, 8, "AAB", 2)
    out: dict = {"soprano_model": kind}
    for name, how in (("dp", {}), ("net", {"net": net})):
        total, alone = [], []
        for r in range(runs + 1):
            t = time.perf_counter()
            p = gen.compose(kind, SampleSpec(key=key, meter="4/4", bars=8, style="chorale", seed=r, plan=plan.guides,
                                             max_chord=1, pitch_range=(60, 79), onset_grid=4))[0]
            t1 = time.perf_counter()
            harmonise_chorale(melody_part(p.score, legato=True), key, gen.chords, plan.cadences, **how)
            t2 = time.perf_counter()
            if r:  # the first run warms up
                total.append(t2 - t)
                alone.append(t2 - t1)
        out[name] = {"end_to_end": stats(total), "harmonise": stats(alone)}
        print(f"chorale 8 bars {name:4s} end to end median {statistics.median(total):6.2f} s, "
              f"harmonising {statistics.median(alone):6.2f} s", flush=True)
    return out


def measure(runs: int, baseline: bool) -> dict:
    import torch

    from bench.common import stats
    from models.music.generator import MusicGenerator

    torch.set_num_threads(1)
    gen = MusicGenerator.from_dir()
    out: dict = {"runs": runs, "threads": 1}
    out["chorale_harmonisers"] = chorale_harmonisers(gen, runs)
    paths = [("now", None)] + ([("before", before_speedup)] if baseline else [])
    with tempfile.TemporaryDirectory() as tmp:
        for label, patch in paths:
            res: dict = {}
            for kind in ("transformer", "rnn"):
                gen.model(kind)
                res[kind] = {}
                for request in REQUESTS:
                    for how, fn in (("generate", lambda s: generate_once(gen, kind, request, s)),
                                    ("tool", lambda s: tool_once(gen, kind, request, s, Path(tmp)))):
                        times = []
                        with patch() if patch else _nothing():
                            for r in range(runs + 1):  # the first run warms up
                                t = time.perf_counter()
                                fn(r)
                                times.append(time.perf_counter() - t)
                        res[kind][f"{request}_{how}"] = stats(times[1:])
                        med = statistics.median(times[1:])
                        print(f"{label:6s} {kind:11s} {request:20s} {how:8s} median {med:6.2f} s", flush=True)
            out[label] = res
    return out


@contextmanager
def _nothing():
    yield


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", action="store_true", help="also time the code paths before the speed-up")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "music_speed.json")
    ap.add_argument("--chorales-only", action="store_true", help="only the chorale harmonisers (merged into --out)")
    args = ap.parse_args()
    if args.chorales_only:
        import torch

        from models.music.generator import MusicGenerator

        torch.set_num_threads(1)
        res = json.loads(args.out.read_text()) if args.out.exists() else {}
        res["chorale_harmonisers"] = chorale_harmonisers(MusicGenerator.from_dir(), args.runs)
        args.out.write_text(json.dumps(res, indent=1))
        return
    res = measure(args.runs, args.baseline)
    args.out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
