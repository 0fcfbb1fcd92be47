"""Do the music critics hear what the composer heard? The composer's audit's six requests
(bench/judged/music-composer/brief.yaml) with both models, each at seeds 11, 12, ... (never picked
by hand), through the router's slot filling and the real tool pipeline (sampling, critique,
revision), the kept piece then scored by today's critics and by the critics of an earlier commit
(``--before``, default HEAD: ``tools/critics/music.py`` and ``models/music/analysis.py`` read from
git into a temporary package), so both see the same pieces.

The audit scored its twelve pieces 2.3-2.5 / 5 while the tool said quality 0.83-0.98; its flaws
were reciting sopranos and narrow tunes, plagal or bVII closes, and parallels between eighths.

    .venv/bin/python bench/music_quality_check.py [--seeds 2] [--before HEAD] [--revise-with new|before]
    .venv/bin/python bench/music_quality_check.py --audit bcdea66~1     # the audit's own twelve pieces

``--revise-with before`` lets the earlier critics drive revision (the pieces the tool kept before);
the default lets today's critics choose. Writes bench/music_quality_check[_SUFFIX].json: per piece
the quality and every critic part before and after, the melody's shape, the kind of close and the
parallels per 100 beats, and the means per model.

``--judged2 /tmp/music_audit2`` scores the second audit's pieces (bench/judged/music-composer-2/run.sh
leaves them there) the same way against that composer's scores (README.md there): a held-out check.

``--audit REV`` makes the audit's own twelve pieces again: the code of commit REV (the one the
audit ran, before its findings were acted on: ``bcdea66~1``) laid out from git in a temporary
folder runs both briefs headless at seed 11, as the audit did (the tool's qualities come out as the
report's, 0.96 0.92 0.95 0.95 0.94 0.97 / 0.86 0.83 0.95 0.98 0.96 0.97). Each piece, read back from
its MIDI, is scored by the critics before and after, beside the composer's score out of 5
(report.md): quality is the mean of the manifest's surface measures (scale, entropy, groove, empty
beats, range, fluency, banded as ``music_scores`` does) and the listening critics, capped under a
floor. Writes bench/music_quality_check_audit.json with the rank correlation to the composer.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REQUESTS = ("a slow piano piece in D minor", "a Bach-style chorale in A minor", "a gentle waltz in F major",
            "a lively jig in G major", "a lullaby in E flat major with accompaniment",
            "16 bars of a reel in A dorian or A minor")
MODELS = ("rnn", "transformer")  # the audit's "default" (LSTM) and ", with the transformer"


def critics_at(rev: str):
    """``tools/critics/music.py`` of commit ``rev``, importing that commit's ``analysis.py``."""
    tmp = Path(tempfile.mkdtemp(prefix="critics-"))

    def show(path: str) -> str:
        return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout

    (tmp / "before_analysis.py").write_text(show("models/music/analysis.py"))
    critic = show("tools/critics/music.py")
    critic = critic.replace("from models.music import analysis as an", "import before_analysis as an")
    critic = critic.replace("from models.music.analysis import", "from before_analysis import")
    (tmp / "before_critic.py").write_text(critic)
    sys.path.insert(0, str(tmp))
    return importlib.import_module("before_critic")


def summary(scores) -> dict:
    """Quality, the critics under their floors and each listening critic; ``weakest_blend``: what
    quality would be as half the mean of its parts and half the weakest listening critic (an
    aggregation not adopted, shown for comparison)."""
    m = scores.metrics
    parts = {k: m[k] for k in sorted(m) if k.startswith("critic_")}
    return {"quality": round(scores.quality, 4), "failing": m.get("critics_failing", ""), **parts,
            "weakest_blend": round(0.5 * scores.quality + 0.5 * min(parts.values()), 4) if parts else None}


def composer_scores() -> dict[str, list[int]]:
    """The composer's score of each request, per model, from the audit's report.md table."""
    out: dict[str, list[int]] = {"rnn": [], "transformer": []}
    for line in (ROOT / "bench/judged/music-composer/report.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 4 and cells[0].isdigit():
            out["transformer" if cells[2] == "Transformer" else "rnn"].append(int(cells[3]))
    return out


def audit(rev: str, before) -> dict:
    """The audit's twelve pieces made again with commit ``rev``'s code, scored before and after."""
    tmp = Path(tempfile.mkdtemp(prefix="audit-"))
    tree = tmp / "tree"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    judged = ROOT / "bench/judged/music-composer"
    rows = []
    composer = composer_scores()
    for brief, model in (("brief.yaml", "rnn"), ("brief_transformer.yaml", "transformer")):
        out = tmp / model
        (tree / brief).write_text((judged / brief).read_text())
        run = f"import sys; from agent.cli import main; sys.argv = ['arsnova', 'run', {brief!r}, '--out', {str(out)!r}, " \
              "'--seed', '11']; sys.exit(main())"
        subprocess.run([sys.executable, "-c", run], cwd=tree, check=True, capture_output=True)
        rows += score_bundle(out, model, composer[model], before)
    return {"code": rev, "summary": audit_summary(rows), "pieces": rows}


def score_bundle(out: Path, model: str, composer: list[int], before) -> list[dict]:
    """The music pieces of a bundle (``out``: its manifest.json and MIDI), in the order of their
    files, each scored by the critics ``before`` and today's, beside the composer's score."""
    import numpy as np

    import tools.critics.music as new
    from models.music.midi_io import read_parts
    from models.music.tokens import parse_key
    from tools.critics import band

    rows = []
    arts = [a for a in json.loads((out / "manifest.json").read_text())["artifacts"] if a.get("kind") == "music"]
    for i, a in enumerate(sorted(arts, key=lambda a: a["files"]["midi"])):
        m = a["scores"].get("metrics", a["scores"])
        score = read_parts(out / a["files"]["midi"])
        key = parse_key(a["args"]["key"])
        style = a["args"].get("style") or "folk"
        surface = [band(m["scale_consistency"], 0.945, 1.0, 0.15), band(m["pitch_class_entropy"], 2.15, 2.90, 0.5),
                   band(m["groove_consistency"], 0.66, 1.0, 0.25), band(m["empty_beat_rate"], 0.0, 0.17, 0.25),
                   band(m["pitch_range"], 9, 36, 8), band(m["nll_per_token"], 0.0, 1.6, 1.5)]
        form = a["args"].get("form")
        if form is None:  # not in the arguments (a chorale's default): the one that gives the manifest's critics
            def err(f):
                h = before.hearing(score, key, style, f, m.get("phrase_bars"))
                return sum(abs(h.parts().get(k, -1) - m.get(f"critic_{k}", -1)) for k in ("tonal", "cadence", "form"))
            form = min((None, "AABB", "AABA", "ABA", "through"), key=err)

        def quality(h, cap):
            q = float(np.mean(surface + list(h.parts().values())))
            return min(q, cap) if h.failing() else q

        hb = before.hearing(score, key, style, form, m.get("phrase_bars"))
        ha = new.hearing(score, key, style, form, m.get("phrase_bars"))
        rows.append({"request": REQUESTS[i], "model": model, "composer": composer[i],
                     "tool_quality": round(a["scores"]["quality"], 4),
                     "before": {"quality": round(quality(hb, before.QUALITY_CAP), 4), "failing": hb.failing(),
                                **{k: round(v, 4) for k, v in hb.parts().items()}},
                     "after": {"quality": round(quality(ha, new.QUALITY_CAP), 4), "failing": ha.failing(),
                               **{k: round(v, 4) for k, v in ha.parts().items()}},
                     "close_kind": ha.details["close_kind"],
                     "melody": {k: ha.details[k] for k in ha.details if k.startswith("melody_")},
                     "parallels_per_100": {"before": round(hb.details.get("parallels_per_100", 0.0), 3),
                                           "after": round(ha.details.get("parallels_per_100", 0.0), 3)}})
        r = rows[-1]
        print(f"{model:11s} {REQUESTS[i][:38]:38s} composer {r['composer']}  tool {r['tool_quality']:.2f}  "
              f"before {r['before']['quality']:.2f}  after {r['after']['quality']:.2f}  "
              f"close {r['close_kind']}  failing {r['after']['failing']}", flush=True)

    return rows


def audit_summary(rows: list[dict]) -> dict:
    """Means, and Spearman's rank correlation with the composer, of the tool's, the before and the
    after quality."""
    import numpy as np

    def spearman(x, y):
        rx, ry = (np.argsort(np.argsort(v, kind="stable")).astype(float) for v in (x, y))
        for v, r in ((x, rx), (y, ry)):  # average ranks for ties
            for val in set(v):
                idx = [j for j, w in enumerate(v) if w == val]
                r[idx] = np.mean(r[idx])
        return float(np.corrcoef(rx, ry)[0, 1])

    c = [r["composer"] for r in rows]
    summary = {k: {"mean": round(float(np.mean(vals)), 4), "spearman_with_composer": round(spearman(c, vals), 4)}
               for k, vals in (("tool", [r["tool_quality"] for r in rows]),
                               ("before", [r["before"]["quality"] for r in rows]),
                               ("after", [r["after"]["quality"] for r in rows]))}
    summary["composer_mean_out_of_5"] = round(float(np.mean(c)), 4)
    return summary


def composer_scores_second() -> dict[str, list[int]]:
    """The second audit's composer scores (bench/judged/music-composer-2/README.md table: "| request |
    LSTM composer / quality | Transformer composer / quality |"), in the order of REQUESTS."""
    out: dict[str, list[int]] = {"rnn": [], "transformer": []}
    for line in (ROOT / "bench/judged/music-composer-2/README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and "/" in cells[1] and cells[1].split("/")[0].strip().isdigit():
            out["rnn"].append(int(cells[1].split("/")[0]))
            out["transformer"].append(int(cells[2].split("/")[0]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=2, help="seeds 11, 12, ... for every request and model")
    ap.add_argument("--before", default="HEAD", help="the commit whose critics are the 'before'")
    ap.add_argument("--revise-with", choices=("new", "before"), default="new")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--audit", metavar="REV", help="make the audit's pieces with REV's code and score them")
    ap.add_argument("--judged2", metavar="DIR", type=Path,
                    help="score the second audit's pieces as run.sh left them (DIR/out1: LSTM, DIR/out2: Transformer; "
                         "/tmp/music_audit2) against that composer's scores (a held-out check: never tune on it)")
    args = ap.parse_args()
    if args.judged2:
        composer = composer_scores_second()
        before = critics_at(args.before)
        rows = [r for sub, model in (("out1", "rnn"), ("out2", "transformer"))
                for r in score_bundle(args.judged2 / sub, model, composer[model], before)]
        res = {"pieces_from": str(args.judged2), "before": args.before, "summary": audit_summary(rows), "pieces": rows}
        (args.out or Path(__file__).parent / "music_quality_check_audit2.json").write_text(json.dumps(res, indent=1))
        print(json.dumps(res["summary"], indent=1))
        return
    if args.audit:
        res = audit(args.audit, critics_at(args.before))
        res["before"] = args.before
        (args.out or Path(__file__).parent / "music_quality_check_audit.json").write_text(json.dumps(res, indent=1))
        print(json.dumps(res["summary"], indent=1))
        return

    import torch

    import tools.critics.music as new
    from models.music.analysis import voice_leading, voices_of
    from models.music.generator import MusicGenerator
    from tools import registry
    from tools.base import ToolContext, TurnSettings
    from tools.compose_music import run as tool_run
    from tools.host import ModelHost

    torch.set_num_threads(1)
    before = critics_at(args.before)
    now = new.music_scores
    drive = before.music_scores if args.revise_with == "before" else now
    seen: dict[int, tuple] = {}  # id of the Scores a critique returned -> (it, its piece and request)

    def critic(score, nll, req, index, earlier=None, tempo_written=None):
        s = drive(score, nll, req, index, earlier, tempo_written)
        seen[id(s)] = (s, score, nll, req, index, earlier, tempo_written)
        return s

    gen = MusicGenerator.from_dir(None)
    host = ModelHost({"music": lambda spec: gen})
    spec = registry.spec("compose_music")
    out_dir = Path(tempfile.mkdtemp(prefix="quality-check-"))
    rows = []
    new.music_scores = critic  # the tool imports it from the module at each call
    try:
        for model in MODELS:
            for r, text in enumerate(REQUESTS):
                for k in range(args.seeds):
                    a = spec.fill_args(text, text, {})
                    a.update(seed=11 + k, model=model)
                    a = {x: v for x, v in spec.schema(**a).model_dump().items() if v is not None}
                    ctx = ToolContext(f"q{r}-{model}-{11 + k}", out_dir, 1, emit=lambda e: None,
                                      should_stop=lambda: False, host=host, settings=TurnSettings())
                    seen.clear()
                    t = time.perf_counter()
                    art = tool_run(a, ctx)
                    secs = time.perf_counter() - t
                    _, score, nll, req, index, earlier, tempo = seen[id(art.scores)]  # the piece it kept
                    old_s = before.music_scores(score, nll, req, index, earlier, tempo)
                    new_s = now(score, nll, req, index, earlier, tempo)
                    m = new_s.metrics
                    vl = voice_leading(score, req.key) if len(voices_of(score)) >= 4 else None
                    rows.append({
                        "request": text, "model": model, "seed": 11 + k, "key": req.key.name, "seconds": round(secs, 2),
                        "midi": str(out_dir / art.files["midi"]),
                        "before": summary(old_s), "after": summary(new_s),
                        "melody": {x: m.get(f"melody_{x}") for x in ("range", "pitches", "repeats", "steps",
                                                                   "longest_run_bars")},
                        "close_kind": m.get("close_kind"), "key_read": m.get("key_read"),
                        "estimated_key_before": old_s.metrics.get("estimated_key"),
                        "parallels_per_100": None if vl is None else round(vl.parallels_per_100, 3),
                        "parallels_per_100_before": m.get("parallels_per_100") if vl is None else
                        round(old_s.metrics.get("parallels_per_100", 0.0), 3),
                    })
                    row = rows[-1]
                    print(f"{model:11s} {text[:38]:38s} s{11 + k} q {row['before']['quality']:.2f} -> "
                          f"{row['after']['quality']:.2f} melody {row['after'].get('critic_melody', 0):.2f} "
                          f"close {row['close_kind']} par {row['parallels_per_100']} "
                          f"failing [{row['after']['failing']}]", flush=True)
    finally:
        new.music_scores = now
    means = {}
    for model in MODELS:
        mine = [r for r in rows if r["model"] == model]
        means[model] = {"before": round(statistics.mean(r["before"]["quality"] for r in mine), 4),
                        "after": round(statistics.mean(r["after"]["quality"] for r in mine), 4),
                        "weakest_blend_before": round(statistics.mean(r["before"]["weakest_blend"] for r in mine), 4),
                        "weakest_blend_after": round(statistics.mean(r["after"]["weakest_blend"] for r in mine), 4),
                        "under_a_floor_after": sum(bool(r["after"]["failing"]) for r in mine), "pieces": len(mine)}
    res = {"before": args.before, "revise_with": args.revise_with, "seeds": args.seeds, "means": means,
           "audit_means_out_of_5": {"rnn": 2.5, "transformer": 2.33}, "pieces": rows}
    out = args.out or Path(__file__).parent / ("music_quality_check.json" if args.revise_with == "new"
                                               else "music_quality_check_revised_before.json")
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps(means, indent=1))


if __name__ == "__main__":
    main()
