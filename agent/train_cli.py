"""`arsnova train …`: reproduce the embedded models (music, chorales, poetry, pictures) from their data.

Imported only when the command runs, so `arsnova --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

from agent.config import check_threads, config_from_args
from agent.terminal import say
from models.common.errors import UserFixableError


def _check_train_args(args) -> None:
    """The bounds every `arsnova train` target shares."""
    if args.steps is not None and not 1 <= args.steps <= 1_000_000:
        raise UserFixableError("--steps must be between 1 and 1000000")
    if args.max_seconds < 0:
        raise UserFixableError("--max-seconds must be 0 (no limit) or more")
    if args.threads is not None:
        check_threads(args.threads, "--threads")


def cmd_train(args) -> int:
    return {"music": train_music, "chorale": train_chorale, "poetry": train_poetry,
            "image": train_image_model, "upscaler": train_upscaler}[args.what](args)


def train_music(args) -> int:
    """music21 corpus (parsed once) -> train/resume the preset -> optionally install (with the melody index)."""
    import dataclasses

    from models.music.training.data import MusicCorpus, build_corpus, corpus_jobs
    from models.music.generator import INDEX_FILE
    from models.common.runtime import default_weights_dir
    from models.music.training.train import FINETUNE, PRESETS, build_melody_index, install_music_model, train

    _check_train_args(args)
    cfg = config_from_args(args)
    corpus_path = Path(args.corpus) if args.corpus else cfg.data_dir / "music_corpus.npz"
    if corpus_path.exists():
        corpus = MusicCorpus.load(corpus_path)
    else:
        say(f"parsing the music21 corpus into {corpus_path} (about 8 minutes on 2 cores)")
        corpus = build_corpus(corpus_jobs(), progress=lambda i, n: print(f"\r  {i}/{n} files", end="", flush=True))
        print()
        corpus.save(corpus_path)
    weights = cfg.weights_dir or default_weights_dir()
    if args.index_only:
        build_melody_index(corpus).save(weights / INDEX_FILE)
        say(f"wrote {weights / INDEX_FILE}")
        return 0
    preset, run_name = PRESETS[args.model], f"music-{args.model}"
    if args.init_from:  # fine-tune a checkpoint (a version-1 one gains the CAD phrase-end token)
        if not Path(args.init_from).is_file():
            raise UserFixableError(f"--init-from {args.init_from}: no such model file; give a music-*.safetensors")
        preset = dataclasses.replace(FINETUNE[args.model], init_from=str(Path(args.init_from).resolve()))
        run_name += "-finetune"
    tc = dataclasses.replace(preset, max_seconds=args.max_seconds, **({"steps": args.steps} if args.steps else {}))
    run_dir = Path(args.run_dir) if args.run_dir else cfg.data_dir / "runs" / run_name
    state = train(corpus, run_dir, tc, log=say)
    print(f"validation NLL {state['val_nll']:.4f} nats/token after {state['step']} steps, {state['tokens_seen']} tokens")
    if args.install:
        weights.mkdir(parents=True, exist_ok=True)
        install_music_model(run_dir, weights, args.model)
        build_melody_index(corpus).save(weights / INDEX_FILE)
        say(f"installed into {weights}")
    return 0


def train_chorale(args) -> int:
    """The four-part chorale network on music21's Bach chorales (parsed once) -> optionally install."""
    import dataclasses

    from models.common.runtime import default_weights_dir
    from models.music.training.chorale_train import PRESET, install, train
    from models.music.training.chords import CACHE, chorale_scores

    _check_train_args(args)
    cfg = config_from_args(args)
    if not CACHE.exists():
        say(f"parsing music21's Bach chorales into {CACHE} (about 3 minutes)")
    tc = dataclasses.replace(PRESET, **({"max_seconds": args.max_seconds} if args.max_seconds else {}),
                             **({"steps": args.steps} if args.steps else {}),
                             **({"threads": args.threads} if args.threads else {}))
    run_dir = Path(args.run_dir) if args.run_dir else cfg.data_dir / "runs" / "music-chorale"
    state = train(chorale_scores(), run_dir, tc, log=say)
    print(f"dev NLL {state['best_val']:.4f} nats/cell (step {state['best_step']}); held-out A,T,B given S "
          f"{state.get('test_nll_infill', float('nan')):.4f}")
    if args.install and not state.get("cancelled"):
        say(f"installed {install(run_dir, cfg.weights_dir or default_weights_dir())}")
    return 0


def train_poetry(args) -> int:
    """prepare (once) -> train/resume the preset -> optionally install into the weights directory."""
    import dataclasses

    from models.common.runtime import default_weights_dir
    from models.poetry.training.train import PRESETS, install_poet, prepare, train

    _check_train_args(args)
    cfg = config_from_args(args)
    data = Path(args.corpus) if args.corpus else cfg.data_dir / "poetry"
    if args.prepare or not (data / "corpus.json").exists():
        say(f"preparing the poetry corpus in {data} (about a minute)")
        prepare(data, log=say)
    run_dir = Path(args.run_dir) if args.run_dir else cfg.data_dir / "runs" / f"poetry-{args.preset}"
    tc = dataclasses.replace(PRESETS[args.preset], max_seconds=args.max_seconds,
                             **({"steps": args.steps} if args.steps else {}),
                             **({"threads": args.threads} if args.threads else {}))
    state = train(data, run_dir, tc, log=say)
    print(f"validation NLL {state['val_nll']:.4f} nats/token after {state['step']} steps, {state['tokens_seen']} tokens")
    if args.install:
        dest = install_poet(data, run_dir, cfg.weights_dir or default_weights_dir())
        say(f"installed into {dest}")
    return 0


def fetch_emoji(dest: Path) -> Path:
    """The unpacked emoji-datasource-google package under ``dest`` (``npm pack`` from the registry once)."""
    import subprocess
    import tarfile

    from models.image.training.data import EMOJI_PACKAGE

    package = dest / "package"
    if (package / "emoji.json").exists():
        return package
    dest.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(["npm", "pack", EMOJI_PACKAGE], cwd=dest, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserFixableError(f"cannot run `npm pack {EMOJI_PACKAGE}` ({e}); install npm or unpack the package "
                               f"into {package}") from None
    tgz = dest / (out.stdout.strip().splitlines() or ["?"])[-1]
    if out.returncode or not tgz.exists():
        raise UserFixableError(f"`npm pack {EMOJI_PACKAGE}` failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
    with tarfile.open(tgz) as tf:
        tf.extractall(dest, members=[m for m in tf.getmembers() if m.name == "package/emoji.json"
                                     or m.name.startswith("package/img/google/64/")], filter="data")
    return package


def train_image_model(args) -> int:
    """clip-art + emoji dataset (built once) -> caption embeddings (cached) -> DDPM training -> install
    (with the picture index and the exemplars). ``--stage subjects`` fine-tunes an installed model."""
    import dataclasses

    from models.common.encoder import load_encoder
    from models.image.training.data import build_clipart_dataset, load_dataset, save_dataset
    from models.image.training.train import STAGES, embed_captions, install_image_model, train_image, write_image_library
    from models.common.runtime import default_weights_dir

    _check_train_args(args)
    cfg = config_from_args(args)
    weights = cfg.weights_dir or default_weights_dir()
    stage = STAGES[args.stage]
    init = {}
    if args.stage == "subjects":
        init_dir = Path(args.init_from) if args.init_from else weights / "image"
        if not (init_dir / "unet").is_dir():
            raise UserFixableError(f"no picture model at {init_dir} to start the subjects stage from: "
                                   "train the base stage first (arsnova train image --install)")
        init = {"init_from": str(init_dir.resolve())}
    tc = dataclasses.replace(stage, max_seconds=args.max_seconds, **init,
                             **({"steps": args.steps} if args.steps else {}),
                             **({"threads": args.threads} if args.threads else {}))
    size = tc.unet["sample_size"]
    data = Path(args.corpus) if args.corpus else cfg.data_dir / f"clipart-emoji-{size}.npz"
    if args.prepare or not data.exists():
        emoji = fetch_emoji(cfg.data_dir / "npm")
        say(f"building the clip-art + emoji dataset at {size}px into {data}")
        built = build_clipart_dataset(size, progress=lambda i, n: print(f"\r  {i}/{n}", end="", flush=True),
                                      emoji_dir=emoji)
        print()
        save_dataset(data, built)
    ds = load_dataset(data)
    encoder = load_encoder()
    if args.index_only:  # the installed model's training-picture index and exemplars, from this dataset
        dest = weights / "image"
        if not (dest / "unet").is_dir():
            raise UserFixableError(f"no picture model at {dest}: train one first (arsnova train image --install)")
        write_image_library(dest, ds, encoder)
        say(f"wrote the picture index and the exemplars into {dest}")
        return 0
    emb = embed_captions(ds.captions, encoder, data.with_suffix(".minilm.npy"))
    short = embed_captions(ds.short_captions, encoder, data.with_suffix(".short.minilm.npy"))
    run_dir = Path(args.run_dir) if args.run_dir else cfg.data_dir / "runs" / f"image-{args.stage}"
    state = train_image(ds.images, emb, run_dir, tc, log=say, short_emb=short,
                        emoji=ds.emoji)
    print(f"validation MSE {state['val_mse']:.4f} after {state['step']} steps, {state['images_seen']} images")
    if args.install:
        say(f"installed into {install_image_model(run_dir, weights, ds, encoder)}")
    return 0


def train_upscaler(args) -> int:
    """The picture tool's learned ×4 upscaler on the clip art (models/image/training/upscaler.py):
    train or resume for --max-seconds (default: the shipped run's 33 minutes), then measure it on the
    held-out pictures against Lanczos; --install writes it where the picture tool loads it."""
    from models.common.runtime import default_weights_dir
    from models.image.training.upscaler import FILE, main

    _check_train_args(args)
    cfg = config_from_args(args)
    run_dir = Path(args.run_dir) if args.run_dir else cfg.data_dir / "runs" / "upscaler"
    out = (cfg.weights_dir or default_weights_dir()) / "image" / FILE if args.install else run_dir / FILE
    run_dir.mkdir(parents=True, exist_ok=True)
    argv = ["--data-dir", str(cfg.data_dir), "--run", str(run_dir.resolve()), "--resume", "--out", str(out),
            "--minutes", str(args.max_seconds / 60 if args.max_seconds else 33),
            "--threads", str(args.threads or 1)]
    return main(argv + (["--steps", str(args.steps)] if args.steps else []))


def cmd_learn(args) -> int:
    """`arsnova learn music|poems SOURCE --name NAME`: fine-tune on the person's own work, register it."""
    from models.common.learned import card_lines
    from models.common.runtime import default_weights_dir

    cfg = config_from_args(args)
    model = run_learn(args, cfg.data_dir, cfg.weights_dir or default_weights_dir(), log=say, progress=_progress_line())
    print()
    say(card_lines(model.card), multiline=True)
    use = "--composer" if args.what == "music" else "--poet"
    say(f"registered {model.name} in {model.path}; use it with `arsnova {use} {model.name}` or ask in the chat "
        f"for \"{'music in the style of' if args.what == 'music' else 'a poem like'} {model.name}\"")
    return 0


def add_learn_arguments(lr) -> None:
    """The arguments of `arsnova learn` (and of the chat's /learn, parsed by the same code)."""
    lr.add_argument("what", choices=["music", "poems"])
    lr.add_argument("source", help="music: a folder of MIDI files (or one file); poems: a text/Markdown file or a folder")
    lr.add_argument("--name", required=True, help="what to call the model (letters, digits, - and _)")
    lr.add_argument("--steps", type=int, help="at most this many fine-tuning steps (default 800 music, 600 poems)")
    lr.add_argument("--max-seconds", type=float, default=600.0, help="stop training after this wall time "
                                                                     "(default 600; the run is resumable)")
    lr.add_argument("--max-files", type=int, default=2000, help="read at most this many files (default 2000)")
    lr.add_argument("--base", choices=["transformer", "rnn"], default="transformer",
                    help="music: the shipped model to start from")
    lr.add_argument("--threads", type=int, help="torch threads (default: all cores but one)")
    lr.add_argument("--replace", action="store_true", help="replace an earlier model of the same name")


def run_learn(args, data_dir: Path, weights: Path, log, progress=None, should_stop=None):
    """The checks and the run of a `learn` (the command line's and the chat's /learn)."""
    import dataclasses

    from agent.app import default_threads
    from models.common.learned import check_name

    check_name(args.name)
    if args.steps is not None and not 1 <= args.steps <= 100_000:
        raise UserFixableError("--steps must be between 1 and 100000")
    if not 0 <= args.max_seconds <= 7 * 24 * 3600:
        raise UserFixableError("--max-seconds must be between 0 (no limit) and 604800 (a week)")
    if not 1 <= args.max_files <= 100_000:
        raise UserFixableError("--max-files must be between 1 and 100000")
    threads = check_threads(args.threads, "--threads") if args.threads is not None else default_threads()
    common = {"max_seconds": args.max_seconds, "max_files": args.max_files, "threads": threads,
              **({"steps": args.steps} if args.steps else {})}
    if args.what == "music":
        from models.music.training.learn import LearnMusicSettings, learn_music

        settings = dataclasses.replace(LearnMusicSettings(), base=args.base, **common)
        return learn_music(Path(args.source).expanduser(), args.name, data_dir, weights, settings, log=log,
                           progress=progress, should_stop=should_stop, replace=args.replace)
    from models.poetry.training.learn import LearnPoemsSettings, learn_poems

    settings = dataclasses.replace(LearnPoemsSettings(), **common)
    return learn_poems(Path(args.source).expanduser(), args.name, data_dir, weights, settings, log=log,
                       progress=progress, should_stop=should_stop, replace=args.replace)


def parse_learn(text: str):
    """The arguments of the chat's ``/learn music FOLDER --name NAME [...]``, parsed by the command
    line's own parser; a mistake is one UserFixableError line (nothing printed)."""
    import argparse
    import shlex

    try:
        words = shlex.split(text)
    except ValueError as e:
        raise UserFixableError(f"/learn: {e}; quote a path with spaces, e.g. /learn music \"My Tunes\" --name mine") from None
    parser = argparse.ArgumentParser(prog="/learn")
    add_learn_arguments(parser)
    errors: list[str] = []

    def fail(message: str):
        errors.append(message)
        raise argparse.ArgumentError(None, message)

    parser.error = fail  # type: ignore[method-assign]
    parser.exit = lambda status=0, message=None: fail(message or "")  # type: ignore[method-assign]
    parser.print_help = parser.print_usage = lambda file=None: errors.append(  # type: ignore[method-assign]
        "what to learn (music or poems), where from, and --name; `arsnova learn --help` lists the options")
    try:
        return parser.parse_args(words)
    except (argparse.ArgumentError, SystemExit):
        raise UserFixableError(f"/learn: {(errors or ['bad arguments'])[0].strip()}; e.g. /learn music ~/midi "
                               "--name mine, or /learn poems ~/poems.md --name mine") from None


def _progress_line():
    """A one-line progress report on a terminal (step, elapsed, ETA), nothing when piped."""
    import sys

    if not sys.stdout.isatty():
        return None

    def show(step: int, total: int, seconds: float) -> None:
        eta = seconds / max(step, 1) * (total - step)
        print(f"\r  step {step}/{total}  {seconds:.0f} s, about {eta:.0f} s left   ", end="", flush=True)

    return show
