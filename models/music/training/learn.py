"""`arsnova learn music FOLDER --name NAME`: fine-tune the shipped composer on a person's MIDI files.

1. read the folder (each file kept or skipped with one reason), 2. hold out a slice of pieces,
3. fine-tune the shipped model from its weights (lower learning rate, early stopping on the
held-out NLL, a wall-time cap; resumable from ``<data>/models/.runs/music-NAME``), 4. index the
person's melodies (the n-grams novelty is measured against), 5. sample plain pieces to measure
how much of the folder they copy, 6. register the model under NAME with its card.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from models.common import learned
from models.common.errors import Cancelled, UserFixableError

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
MAX_BARS = 400  # a longer file is a medley or a whole album: skipped as too long
MIN_NOTES = 8


@dataclass(frozen=True)
class LearnMusicSettings:
    base: str = "transformer"  # the shipped model to start from: transformer | rnn
    steps: int = 800
    lr: float = 3e-4  # a tenth of the from-scratch rate: adapt the model, do not wipe it
    min_lr: float = 3e-5
    warmup: int = 20
    batch_size: int = 8
    block_size: int = 256
    eval_every: int = 25
    patience: int = 4  # evaluations without a better held-out NLL before stopping
    val_fraction: float = 0.1
    max_seconds: float = 600.0
    max_files: int = 2000
    style: str = "folk"  # the corpus style token the person's pieces are learned under
    seed: int = 0
    threads: int = 1
    sample_bars: int = 8  # the plain samples whose copy rate the card reports
    samples: int = 3


@dataclass(frozen=True)
class ReadPiece:
    path: Path
    score: object  # models.music.tokens.Score
    tempo: float


def read_music_folder(source: Path, max_files: int, style: str,
                      log: Callable[[str], None] = print) -> tuple[list[ReadPiece], dict[str, int]]:
    """The usable pieces, and counts of why the others were skipped (each skip logged in one line)."""
    from models.music.midi_io import read_midi_piece
    from models.music.tokens import Score, density_bin

    found = learned.collect_files(source, MIDI_SUFFIXES, max_files, "MIDI files")
    skips = found.skips(log, max_files, "MIDI files")
    pieces: list[ReadPiece] = []
    for p in found.files:
        try:
            score, tempo = read_midi_piece(p)
        except UserFixableError as e:
            why = str(e).removeprefix(f"{p}: ")
            skips.add(p, why, _reason(why))
            continue
        if len(score.notes) < MIN_NOTES:
            skips.add(p, f"only {len(score.notes)} notes (at least {MIN_NOTES})", "too short")
            continue
        if score.bars > MAX_BARS:
            skips.add(p, f"too long ({score.bars} bars; at most {MAX_BARS} — split it into pieces)", "too long")
            continue
        start = min(n.start for n in score.notes)
        shift = start - start % score.bar_length  # a file that opens with silent bars starts at bar 1
        notes = tuple(n.__class__(n.start - shift, n.duration, n.pitch) for n in score.notes)
        span_q = (max(n.start + n.duration for n in notes) - notes[0].start) / 4
        density = density_bin(len({n.start for n in notes}) / max(span_q, 1.0))
        pieces.append(ReadPiece(p, Score(notes, score.meter, score.key, style, density), tempo))
    return pieces, skips.as_dict()


def _reason(message: str) -> str:
    """The kind of a read error, for the counts: corrupt, empty / drums only, too large, too long…"""
    low = message.lower()
    for key, label in (("corrupt", "corrupt"), ("truncated", "corrupt"), ("malformed", "corrupt"),
                       ("no pitched notes", "empty or drums only"), ("is empty", "empty or drums only"),
                       ("byte limit", "too large"), ("notes; give a shorter", "too long"), ("limit", "too long"),
                       ("absurdly long", "too long"), ("not a midi", "not MIDI"), ("not supported", "unsupported"),
                       ("tracks; a midi", "unsupported"), ("cannot read", "cannot be read"), ("is a", "not a regular file")):
        if key in low:
            return label
    return "unreadable"


def files_digest(pieces: list[ReadPiece]) -> str:
    """What a resumed run checks it is learning the same material."""
    h = hashlib.sha256()
    for p in pieces:
        h.update(str(p.path).encode("utf-8", "surrogateescape"))
        h.update(repr(p.score.notes[:64]).encode())
        h.update(str(len(p.score.notes)).encode())
    return h.hexdigest()[:16]


def learn_music(source: Path, name: str, data_dir: Path, weights_dir: Path, settings: LearnMusicSettings = LearnMusicSettings(),
                log: Callable[[str], None] = print, progress: Callable[[int, int, float], None] | None = None,
                should_stop: Callable[[], bool] | None = None, replace: bool = False) -> learned.LearnedModel:
    """Read, fine-tune, index, measure and register; see the module docstring. ``progress(step,
    total, seconds)`` reports training; ``should_stop`` cancels (the run stays resumable)."""
    import shutil

    from models.common.checkpoint import half_floats, load_safetensors, read_metadata, save_safetensors
    from models.music.generator import INDEX_FILE, MODEL_FILES
    from models.music.training.data import MusicCorpus
    from models.music.training.train import TrainConfig, build_melody_index, train

    t0 = time.time()
    learned.check_name(name)
    learned.check_free(data_dir, "music", name, replace)
    base_file = Path(weights_dir) / MODEL_FILES.get(settings.base, "?")
    if not base_file.exists():
        raise UserFixableError(f"the shipped {settings.base} model is missing at {base_file}; reinstall Ars Nova "
                               "or pass --weights")
    pieces, skipped = read_music_folder(source, settings.max_files, settings.style, log)
    if len(pieces) < 2:
        got = "no usable MIDI file" if not pieces else "only one usable MIDI file"
        raise UserFixableError(f"{source}: {got} ({sum(skipped.values())} skipped); learning needs at least 2 "
                               "pieces (one is held out to check the model)")
    log(f"read {len(pieces)} pieces ({sum(skipped.values())} skipped)")
    corpus = MusicCorpus.from_scores([p.score for p in pieces])
    digest = hashlib.sha256(f"{files_digest(pieces)} {json.dumps(asdict(settings))}".encode()).hexdigest()[:16]
    run = learned.open_run(data_dir, "music", name, digest, source, log)
    n_val = max(1, round(len(pieces) * settings.val_fraction))
    tc = TrainConfig(steps=settings.steps, batch_size=settings.batch_size, block_size=settings.block_size,
                     lr=settings.lr, min_lr=settings.min_lr, warmup=settings.warmup, eval_every=settings.eval_every,
                     ckpt_every=settings.eval_every, val_windows=64, seed=settings.seed, threads=settings.threads,
                     max_seconds=settings.max_seconds, val_fraction=n_val / len(pieces) + 1e-9,
                     init_from=str(base_file), patience=settings.patience)
    state = train(corpus, run, tc, log=log, progress=progress, should_stop=should_stop)
    if state.get("cancelled"):
        raise Cancelled(f"learning {name} cancelled at step {state['step']}; run the same command again to resume")

    # the kept weights: the best held-out NLL seen (early stopping keeps it, not the last step)
    stage = learned.staging_dir(data_dir, "music", name)
    try:
        tensors, meta = load_safetensors(run / "best.safetensors")
        base_meta = read_metadata(base_file)
        model_file = stage / MODEL_FILES[settings.base]
        save_safetensors(half_floats(tensors), model_file,
                         {**meta, "config": base_meta.get("config", meta.get("config")), "stored_dtype": "float16",
                          "val_nll": state["best_val"], "train_step": state["best_step"], "learned_from": name})
        user_index = build_melody_index(corpus)
        user_index.save(stage / INDEX_FILE)
        copy, samples = plain_copy_rate(model_file, user_index, pieces, settings)
        card = music_card(name, source, pieces, skipped, settings, state, n_val, copy, time.time() - t0,
                          read_metadata(base_file), base_file)
        card["plain_samples"] = write_samples(samples, stage, card["defaults"]["tempo"])
        (stage / "CARD.md").write_text(card_markdown(card))
        model = learned.register(stage, data_dir, "music", name, card, replace)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    shutil.rmtree(run, ignore_errors=True)  # registered: the run's checkpoints are no longer needed
    return model


def plain_copy_rate(model_file: Path, user_index, pieces: list[ReadPiece], settings: LearnMusicSettings):
    """Melody 6-gram copy rate against the person's pieces of plain samples (no blocking, no
    revision) in their commonest key and meter: how much round 0 imitates them; and the samples
    (chosen by seed, for the card)."""
    from models.music.model import load_music_model
    from models.music.sample import SampleSpec, sample, score_melody
    from models.music.tokens import Vocab

    model, _ = load_music_model(model_file)
    key = Counter(p.score.key for p in pieces).most_common(1)[0][0]
    meter = Counter(p.score.meter for p in pieces).most_common(1)[0][0]
    density = Counter(p.score.density for p in pieces).most_common(1)[0][0]
    spec = SampleSpec(key=key, meter=meter, bars=settings.sample_bars, style=settings.style, density=density,
                      seed=settings.seed, candidates=settings.samples)
    out = sample(model, Vocab.for_model(model), spec)
    rates = [user_index.copy_rate(score_melody(p.score)) for p in out]
    return float(sum(rates) / max(len(rates), 1)), [p.score for p in out]


def write_samples(scores: list, folder: Path, tempo: float) -> list[str]:
    """The plain samples as MIDI beside the model (``samples/plain-N.mid``), to listen to."""
    from models.common.files import write_atomic
    from models.music.midi_io import midi_bytes

    (folder / "samples").mkdir()
    names = []
    for i, score in enumerate(scores, 1):
        name = f"samples/plain-{i}.mid"
        write_atomic(folder / name, midi_bytes(score, float(tempo), 0, "plain sample"))
        names.append(name)
    return names


def music_card(name, source, pieces, skipped, settings, state, n_val, copy, seconds, base_meta, base_file) -> dict:
    import statistics

    keys = Counter(p.score.key.name for p in pieces)
    meters = Counter(p.score.meter for p in pieces)
    densities = Counter(p.score.density for p in pieces)
    return {
        "kind": "music", "name": name, "unit": "pieces", "source": str(source),
        "files_used": len(pieces), "files_skipped": sum(skipped.values()), "skipped": skipped,
        "held_out": n_val, "base": f"{base_file.name}@step{base_meta.get('train_step', '?')}",
        "steps": state["step"], "best_step": state["best_step"], "early_stopped": bool(state.get("early_stopped")),
        "train_seconds": round(state["seconds"], 1), "seconds": round(seconds, 1),
        "val_nll_before": round(state["val_before"], 4), "val_nll_after": round(state["best_val"], 4),
        "copy_rate_plain": round(copy, 4), "notes": int(sum(len(p.score.notes) for p in pieces)),
        "defaults": {"tempo": round(statistics.median(p.tempo for p in pieces)), "meter": meters.most_common(1)[0][0],
                     "key": keys.most_common(1)[0][0], "style": settings.style,
                     "density": densities.most_common(1)[0][0]},
        "keys": dict(keys.most_common(8)), "meters": dict(meters), "settings": asdict(settings),
        "learned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": [str(p.path) for p in pieces[:200]],
    }


def card_markdown(card: dict) -> str:
    """The card a person reads (``CARD.md`` beside the model)."""
    from models.common.learned import card_lines

    return card_lines(card)
