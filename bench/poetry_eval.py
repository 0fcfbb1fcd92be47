"""Evaluate the poet as issue 20 asks: 30 test topics (never tuned on) x 7 forms, round 0 and the
kept poem side by side. Writes bench/poetry_eval.json (or --out).

    .venv/bin/python bench/poetry_eval.py [--split test|dev] [--topics N] [--forms haiku,sonnet] [--threads 1]
    .venv/bin/python bench/poetry_eval.py --rescore bench/poetry_eval_baseline.json   # metrics only
    .venv/bin/python bench/poetry_eval.py --split critic --no-score --resume --out bench/poetry_negatives.json
    .venv/bin/python bench/poetry_eval.py --poet sample|rewrite ...   # the embedded poet's two routes (default: rewrite)

Each poem goes through the same generate -> critique -> revise path as the chat (tools/write_poem.py):
round 0 is the request's first poem (recorded as the poet writes it; its seconds are those to its
critique), the kept poem is what the request returns (its seconds: the whole request).
Per poem and form, for round 0 and kept:

* form accuracy: every line in its syllable range, every rhyme pair rhyming, the right line count;
* finished: the last line ends on terminal punctuation (. ! ?, optionally inside quotes);
* out-of-lexicon words: words neither in CMUdict nor seen >= 3 times in the training corpus;
* topic word: a word of the topic or one of its embedding neighbours is in the poem's lines;
* topic similarity of the poem vs the same topic's similarity to 300 random corpus passages;
* sense: the sense critic's poem score, against held-out real passages of the same line count
  (the kept poems' median should lie in the real passages' interquartile range);
* word 5-gram copy rate against the training corpus, lines copied whole; seconds per poem.

The topics are split: DEV_TOPICS may be used for tuning, TEST_TOPICS are only reported, and
CRITIC_TOPICS (neither) are where the sense critic's adversarial negatives come from: every poem the
poet writes in those requests (round 0, each revision candidate, the kept one) is stored under
"written", and models/poetry/training/sense_train.py trains on them (``--negatives``).
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

DEV_TOPICS = [
    "the sea at night", "a grandmother's kitchen", "autumn leaves in the city", "a lighthouse keeper's solitude",
    "the first snow of winter", "a train leaving the station", "bees in a summer garden", "an old soldier remembering war",
    "the moon over a quiet lake", "a child learning to read", "a storm on the mountains", "the death of a friend",
    "spring rain on the fields", "a ship lost at sea", "the morning bread from the bakery", "stars above the desert",
    "a wedding in a village church", "the silence of a forest", "a fox in the snow", "the river flowing to the sea",
]
TEST_TOPICS = [
    "coffee in the morning", "a cat asleep by the fire", "my father's hands", "the last day of summer",
    "a letter from an old friend", "walking home in the rain", "an empty house", "the smell of cut grass",
    "a crow on a fence", "waiting for the bus", "the harvest moon", "a candle in the window",
    "the old apple tree", "a mother singing to her baby", "fishing at dawn", "the bells of the town",
    "a garden after the frost", "sailors coming home", "a girl with a red umbrella", "the sound of the wind",
    "bread and wine", "a dog waiting at the door", "the mountains in the evening", "losing a game of chess",
    "the first day of school", "a bird singing in the dark", "the road to the city", "an old man's memories",
    "roses in June", "the end of a long war",
]
CRITIC_TOPICS = [
    "a kettle on the stove", "the old stone bridge", "a sparrow in the hedge", "ice on the window",
    "the baker's early light", "a soldier's last letter", "wild horses on the plain", "the miller's daughter",
    "a sailor's wife waiting", "the church clock at midnight", "a field of barley", "snow on the pine trees",
    "the tide going out", "a shepherd on the hill", "an owl in the barn", "the market in the square",
    "a widow's garden", "a well in the courtyard", "the king's hall at feast", "a beggar at the gate",
    "a shipwreck on the rocks", "the blacksmith's forge", "a nightingale in May", "the lamp in the study",
    "children playing in the street", "the orchard in blossom", "a prisoner in his cell", "a knight riding to battle",
    "a shepherd's lost lamb", "the wind on the moor", "a lover's quarrel", "the tavern by the road",
]
FORMS = ("haiku", "tanka", "limerick", "quatrain", "free", "sonnet", "villanelle")  # fastest first
FREE_LINES = 8


def generate(args) -> dict:
    """Round 0 and the kept poem for every (form, topic), with seconds per request."""
    import torch

    from agent import events as ev
    from tools import registry
    from tools.base import ToolContext, TurnSettings
    from tools.host import make_host
    from tools.revise import ReviseConfig
    from models.poetry.page import read_poem_lines

    torch.set_num_threads(args.threads)
    host = make_host(args.weights, cache_dir=Path(tempfile.gettempdir()) / "arsnova-bench-cache")
    kit = host.get("poet", args.poet)
    work = Path(tempfile.mkdtemp(prefix="poetry-eval-"))
    topics = {"test": TEST_TOPICS, "dev": DEV_TOPICS, "critic": CRITIC_TOPICS}[args.split][: args.topics]
    written: list = []  # every poem the poet writes in a request: the first is round 0
    plain_write = kit.poet.write

    def recording_write(*a, **k):
        poem = plain_write(*a, **k)
        written.append((poem, time.perf_counter()))
        return poem

    kit.poet.write = recording_write  # bench instrumentation: round 0's text without a second request
    rows = []
    if args.resume and args.out and args.out.exists():  # go on from a partial run of the same split
        rows = [r for r in json.loads(args.out.read_text())["poems"] if r["topic"] in topics]
    done = {(r["topic"], r["form"]) for r in rows}
    for i, topic in enumerate(topics):  # topic by topic, every form: a run stopped early stays balanced
        for form in args.forms:
            if (topic, form) in done:
                continue
            call = {"topic": topic, "form": form, **({"lines": FREE_LINES} if form == "free" else {})}
            rounds, stamps = [], []
            written.clear()

            def emit(e):
                if isinstance(e, (ev.Critique, ev.Revision)):
                    rounds.append(e.record.scores.to_dict())
                    stamps.append(time.perf_counter())

            settings = TurnSettings(poet=args.poet, threads=args.threads, revise=ReviseConfig())
            ctx = ToolContext(f"c{i}", work, i, emit=emit, should_stop=lambda: False, host=host,
                              settings=settings, base_seed=i)
            t = time.perf_counter()
            art = registry.invoke("write_poem", dict(call), ctx)
            secs = time.perf_counter() - t
            kept = read_poem_lines((work / art.files["poem"]).read_text())
            first = written[0][0]
            row = {"form": form, "topic": topic, "seed": i,
                   "round0": {"lines": list(first.lines), "seconds": round(stamps[0] - t, 2), "scores": rounds[0]},
                   "kept": {"lines": kept, "seconds": round(secs, 2), "round": art.round, "seed": art.seed,
                            "scores": art.scores.to_dict(), "trajectory": rounds},
                   "written": [list(p.lines) for p, _ in written]}  # round 0, every revision candidate
            src = next((p.sources for p, _ in written if list(p.lines) == kept), ())
            if src:  # the rewriting poet: the corpus sentences the kept poem was rewritten from
                row["kept"]["sources"] = list(src)
            rows.append(row)
            if args.out:  # a partial run can be scored with --rescore
                args.out.write_text(json.dumps({"model": kit.model_id, "threads": args.threads, "split": args.split,
                                                "partial": True, "poems": rows}))
            print(f"{form:10s} {secs:5.1f}s r{art.round} q {art.scores.quality:.2f} {topic}: "
                  f"{' / '.join(kept)[:110]}", flush=True)
    return {"model": kit.model_id, "threads": args.threads, "split": args.split, "poems": rows}


def score(result: dict, args) -> dict:
    """Every metric of the docstring for each stored poem, and the summary per form and overall."""
    import numpy as np

    from models.poetry.forms import plan_form
    from models.poetry.lexicon import load_lexicon
    from tools.critics.poetry import copied_lines, finished_sentence, form_match
    from tools.host import make_host

    host = make_host(args.weights, cache_dir=Path(tempfile.gettempdir()) / "arsnova-bench-cache")
    kit = host.get("poet", None)
    lexicon = load_lexicon(kit.home)
    sense = kit.sense
    from models.poetry.corpus import word_ids

    i5 = kit.indexes[5]
    for row in result["poems"]:
        plan = plan_form(row["form"], FREE_LINES if row["form"] == "free" else None, np.random.default_rng(row["seed"]))
        q = kit.embed([row["topic"]])[0]
        topic_words = kit.poet.topic_words(row["topic"])
        base = kit.baseline_vecs @ q
        for which in ("round0", "kept"):
            p = row[which]
            lines = p["lines"]
            f = form_match(lines, plan)
            words = [w for ln in lines for w in _words(ln)]
            vec = kit.embed(["\n".join(lines)])[0]
            p["metrics"] = {
                "form_ok": f["syllables_ok"] == 1.0 and f["rhymes_ok"] == 1.0 and f["line_count_ok"] == 1.0,
                "syllables_ok": f["syllables_ok"], "rhymes_ok": f["rhymes_ok"],
                "finished": finished_sentence(lines),
                "out_of_lexicon": sorted({w for w in words if not lexicon.known(w)}),
                "topic_word": any(w in topic_words for w in words),
                "topic_similarity": float(vec @ q), "baseline_similarity": float(base.mean()),
                "sense": float(sense.poem(lines).score),
                "copy_rate_5": float(i5.copy_rate(word_ids(" ".join(lines)))),
                "lines_copied": int(copied_lines(lines, i5)),
            }
    real = _real_sense(kit, sorted({len(r["kept"]["lines"]) for r in result["poems"]}))
    result["real_sense"] = real
    result["summary"] = {f: _summary([r for r in result["poems"] if r["form"] == f], real)
                         for f in dict.fromkeys(r["form"] for r in result["poems"])}
    result["summary"]["all"] = _summary(result["poems"], real)
    return result


def _words(line: str) -> list[str]:
    """Every word, any alphabet ("Kauśish" is one word here, where prosody would split it)."""
    import re

    return [w.lower().replace("\u2019", "'") for w in re.findall(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*", line)]


def _real_sense(kit, lengths: list[int], n: int = 120) -> dict:
    """Sense scores of held-out corpus passages cut (or joined) to each poem length: the yardstick."""
    from models.poetry.sense import heldout_passages

    passages = heldout_passages(kit.home)
    out = {}
    for k in lengths:
        texts, i = [], 0
        while len(texts) < n and i < len(passages):
            run = []
            while len(run) < k and i < len(passages):
                run += passages[i]
                i += 1
            texts.append(run[:k])
        s = [kit.sense.poem(t).score for t in texts]
        out[str(k)] = {"n": len(s), "q1": float(_pct(s, 25)), "median": float(_pct(s, 50)), "q3": float(_pct(s, 75))}
    return out


def _pct(xs, q):
    import numpy as np

    return np.percentile(np.asarray(xs, float), q) if len(xs) else float("nan")


def _summary(rows: list[dict], real: dict) -> dict:
    out = {"poems": len(rows)}
    for which in ("round0", "kept"):
        ms = [r[which]["metrics"] for r in rows]
        senses = [m["sense"] for m in ms]
        in_iqr, in_iqr_low = [], []
        for r in rows:
            band = real[str(len(r[which]["lines"]))]
            in_iqr.append(band["q1"] <= r[which]["metrics"]["sense"] <= band["q3"])
            in_iqr_low.append(band["q1"] <= r[which]["metrics"]["sense"])
        out[which] = {
            "form_accuracy": _mean(m["form_ok"] for m in ms),
            "finished_sentence": _mean(m["finished"] for m in ms),
            "out_of_lexicon_words": sum(len(m["out_of_lexicon"]) for m in ms),
            "topic_word_present": _mean(m["topic_word"] for m in ms),
            "topic_beats_baseline": _mean(m["topic_similarity"] > m["baseline_similarity"] for m in ms),
            "topic_similarity_median": statistics.median(m["topic_similarity"] for m in ms),
            "baseline_similarity_median": statistics.median(m["baseline_similarity"] for m in ms),
            "sense_median": statistics.median(senses),
            "sense_in_real_iqr": _mean(in_iqr),
            "real_sense_median": statistics.median(real[str(len(r[which]["lines"]))]["median"] for r in rows),
            "copy_rate_5": _mean(m["copy_rate_5"] for m in ms),
            "lines_copied": sum(m["lines_copied"] for m in ms),
            "seconds_median": statistics.median(r[which]["seconds"] for r in rows),
            # quality as the chat shows it (tools/critics/poetry.py): sense is 35% of it
            "quality_quartiles": [float(_pct([r[which]["scores"]["quality"] for r in rows], q)) for q in (25, 50, 75)],
            "quality_at_1": _mean(r[which]["scores"]["quality"] >= 0.995 for r in rows),
            "quality_at_1_sense_below_real_q1": sum(
                r[which]["scores"]["quality"] >= 0.995 and not ok for r, ok in zip(rows, in_iqr_low)),
        }
    return out


def _mean(xs) -> float:
    xs = [float(x) for x in xs]
    return sum(xs) / max(1, len(xs))


def card_poems(result: dict, per_form: int = 5) -> str:
    """Markdown of the kept poems of seeds 0..per_form-1 for every form, unedited (for the card)."""
    out = []
    for form in dict.fromkeys(r["form"] for r in result["poems"]):
        rows = sorted((r for r in result["poems"] if r["form"] == form and r["seed"] < per_form), key=lambda r: r["seed"])
        out.append(f"### {form}\n")
        for r in rows:
            m = r["kept"].get("metrics", {})
            out.append(f"*{r['topic']}* (seed {r['seed']}, round {r['kept']['round']}, sense {m.get('sense', float('nan')):.2f})\n")
            out.append("\n".join(f"    {ln}" for ln in r["kept"]["lines"]) + "\n")
            if r["kept"].get("sources"):
                out.append("rewritten from: " + " | ".join(u.replace("\n", " / ") for u in r["kept"]["sources"]) + "\n")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--poet", default=None)
    ap.add_argument("--split", choices=("test", "dev", "critic"), default="test")
    ap.add_argument("--topics", type=int, default=30)
    ap.add_argument("--forms", type=lambda s: tuple(s.split(",")), default=FORMS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", action="store_true", help="keep the (topic, form) rows already in --out")
    ap.add_argument("--no-score", action="store_true", help="store the poems only (score later with --rescore)")
    ap.add_argument("--rescore", type=Path, default=None, help="recompute the metrics of a stored run, in place")
    ap.add_argument("--card", action="store_true", help="print the card's poems (seeds 0-4) of --rescore's run")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("poetry_eval.json"))
    args = ap.parse_args()
    if args.rescore and args.card:
        print(card_poems(json.loads(args.rescore.read_text())))
        return
    if args.rescore:
        result = json.loads(args.rescore.read_text())
        args.out = args.rescore
    else:
        result = generate(args)
        result.pop("partial", None)
        args.out.write_text(json.dumps(result, indent=1))
    if not args.no_score:
        import torch

        torch.set_num_threads(args.threads)
        result = score(result, args)
        args.out.write_text(json.dumps(result, indent=1))
        print(json.dumps(result["summary"]["all"], indent=1))


if __name__ == "__main__":
    main()
