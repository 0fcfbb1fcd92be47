"""The `arsnova` command line: the console script's front door (the Textual app is imported
only for `arsnova chat`).

Exit codes: 0 success, 2 bad input (one line on stderr, no traceback), 1 internal failure.
Heavy imports happen inside the commands so `arsnova --help` answers at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from agent.config import check_threads, config_from_args
from agent.train_cli import add_learn_arguments
from agent.terminal import json_line, safe_text, say
from models.common.errors import UserFixableError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(2, safe_text(f"arsnova: {message} (see `{self.prog} --help`)") + "\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="arsnova", description="Ars Nova: a local creative studio in the terminal.")
    p.add_argument("--data-dir", help="where sessions are stored (default: the user data dir, or $ARSNOVA_HOME)")
    p.add_argument("--weights", help="directory of model weights (default: the shipped models/weights)")
    p.add_argument("--poet", help="the poem model: embedded (default) | NAME (learned with `arsnova learn poems`) | "
                                   "gguf:FILE.gguf (llama.cpp in process) | hf:ID | hf:/dir | hf:/dir#file.gguf | "
                                   "openai:URL#MODEL (a vLLM / llama.cpp / Ollama server) "
                                   "(also $ARSNOVA_POET)")
    p.add_argument("--image-model", help="the picture model: embedded (default) | sd:ID | sd:/dir | "
                                          "sd:/file.safetensors#/config-dir (also $ARSNOVA_IMAGE_MODEL)")
    p.add_argument("--composer", help="a composer learned with `arsnova learn music … --name NAME` "
                                       "(default: the shipped models; also $ARSNOVA_COMPOSER)")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    c = sub.add_parser("chat", help="open the studio (the default)")
    c.add_argument("--session", help="resume this session id")
    c.add_argument("--planner", help="router | gguf:FILE.gguf | hf:PATH[#file.gguf] | openai:URL#MODEL | ollama:MODEL | "
                                        "hybrid:<one of those>")

    r = sub.add_parser("run", help="run a brief (YAML) headless and export its bundle")
    r.add_argument("brief")
    r.add_argument("--out", help="bundle directory (default: the brief's export, else out/<brief name>)")
    r.add_argument("--planner")
    r.add_argument("--seed", type=int)
    r.add_argument("--json", action="store_true", help="print events as JSON lines")

    pl = sub.add_parser("plan", help="print the tool calls a message would make, without running them")
    pl.add_argument("text")
    pl.add_argument("--planner")
    pl.add_argument("--json", action="store_true")

    im = sub.add_parser("image", help="re-draw a picture from the parameters stored in its PNG")
    im.add_argument("--from-png", required=True, help="a PNG written by generate_image")
    im.add_argument("--out", required=True, help="directory for the new PNG")

    b = sub.add_parser("batch", help="run many briefs, one bundle each: in this process, or on Ray")
    b.add_argument("briefs", nargs="+", metavar="BRIEF")
    b.add_argument("--out", required=True, help="directory for the bundles and summary.json")
    b.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS",
                   help="run on Ray: no value = $RAY_ADDRESS or a new local Ray; 'local'; or ray://HOST:10001")
    b.add_argument("--workers", type=int, help="Ray workers (default: one per --threads CPUs of the cluster)")
    b.add_argument("--json", action="store_true", help="stream events as JSON lines")
    b.add_argument("--threads", type=int, help="torch threads per brief (default 1; the same in every mode, "
                                               "so a Ray run gives the serial run's bytes)")
    b.add_argument("--planner", help="for briefs that name none: router | gguf:FILE.gguf | openai:URL#MODEL | ollama:MODEL | hf:PATH")

    sub.add_parser("models", help="list the available models, where they come from and their sizes")
    sub.add_parser("sessions", help="list stored sessions")

    e = sub.add_parser("export", help="bundle a stored session")
    e.add_argument("session")
    e.add_argument("--out", required=True)

    t = sub.add_parser("train", help="reproduce the embedded models")
    t.add_argument("what", choices=["music", "chorale", "poetry", "image", "upscaler"])
    t.add_argument("--model", choices=["transformer", "rnn"], default="transformer", help="music: which model")
    t.add_argument("--preset", choices=["small", "base", "wide"], default="small", help="poetry: model size")
    t.add_argument("--prepare", action="store_true", help="poetry, image: (re)build the corpus (and for poetry the "
                                                          "tokenizer and n-gram indexes)")
    t.add_argument("--stage", choices=["base", "subjects"], default="base",
                   help="image: base (from scratch) or subjects (short captions and emoji, from --init-from)")
    t.add_argument("--init-from", help="image, subjects stage: the installed picture model to start from "
                                       "(default: <weights>/image); music: a model file to fine-tune (a "
                                       "199-token one gains the CAD phrase-end token)")
    t.add_argument("--steps", type=int, help="optimizer steps (default: the shipped preset)")
    t.add_argument("--max-seconds", type=float, default=0.0, help="stop after this wall time (resumable)")
    t.add_argument("--threads", type=int, help="torch threads for training (default: the preset's)")
    t.add_argument("--run-dir", help="checkpoint directory (default: <data>/runs/music-<model>)")
    t.add_argument("--corpus", help="cached corpus .npz (default: <data>/music_corpus.npz, built if missing)")
    t.add_argument("--install", action="store_true", help="copy the result into the weights directory")
    t.add_argument("--index-only", action="store_true", help="music: only rebuild the corpus n-gram index; image: "
                                                             "only rebuild the installed model's picture index and exemplars")

    add_learn_arguments(sub.add_parser("learn", help="fine-tune the composer or the poet on your own MIDI files or poems"))
    return p


def cmd_run(args) -> int:
    from agent.app import make_agent
    from agent.brief import check_seed, load_brief
    from agent.export import check_can_write
    from agent.headless import bundle_destination, run_brief

    if args.seed is not None:
        check_seed(args.seed, f"--seed {args.seed}")  # the range a brief's seed: has
    brief = load_brief(args.brief)
    check_can_write(bundle_destination(brief, args.out))  # fail before any work
    seed = args.seed if args.seed is not None else (brief.seed or 0)
    cfg = config_from_args(args, planner=args.planner or brief.planner, seed=seed)
    agent = make_agent(cfg)
    result = run_brief(brief, agent, args.out, args.json)
    for line in result.report():  # the turns that failed; the one that sets the exit code last
        say(f"arsnova: {line}", sys.stderr)
    return result.exit_code


def cmd_plan(args) -> int:
    from langchain_core.messages import HumanMessage

    from agent.app import encoder_factory
    from agent.planner import make_planner

    cfg = config_from_args(args, planner=args.planner)
    planner = make_planner(cfg.planner, encoder_factory(cfg))
    res = planner.plan([HumanMessage(args.text)])
    calls = [{"name": c["name"], "args": c["args"]} for c in res.message.tool_calls]
    if args.json:
        print(json_line({"planner": res.answered_by, "tool_calls": calls, "text": str(res.message.content),
                         "notices": list(res.notices)}))
    else:
        for c in calls:
            say(f"{c['name']}({', '.join(f'{k}={v!r}' for k, v in c['args'].items())})")
        if not calls:
            say(res.message.content, multiline=True)
    return 0


def cmd_models(args) -> int:
    from models.common.runtime import default_weights_dir
    from tools.inventory import model_rows

    cfg = config_from_args(args)
    rows = model_rows(cfg.weights_dir or default_weights_dir(), cfg.data_dir)
    w = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        say("  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())
    return 0


def cmd_sessions(args) -> int:
    from agent.session import SessionStore

    store = SessionStore(config_from_args(args).data_dir)
    for s in store.list():
        say(f"{s.id}  {s.title}")
    return 0


def cmd_export(args) -> int:
    from agent.export import export_session
    from agent.session import SessionStore

    store = SessionStore(config_from_args(args).data_dir)
    say(export_session(store, args.session, args.out))
    return 0


def cmd_train(args) -> int:
    from agent.train_cli import cmd_train as train

    return train(args)


def cmd_learn(args) -> int:
    from agent.train_cli import cmd_learn as learn

    return learn(args)


def cmd_batch(args) -> int:
    from agent.batch import run_batch

    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise UserFixableError(f"--workers must be between 1 and 1024 (got {args.workers})")
    if args.workers and args.ray is None:
        raise UserFixableError("--workers needs --ray; without it the briefs run one after another here")
    if args.threads is not None:
        check_threads(args.threads, "--threads")  # the same range as ARSNOVA_THREADS
    cfg = config_from_args(args, planner=args.planner, threads=args.threads)
    report = run_batch(args.briefs, args.out, cfg, args.ray, args.workers, args.json)
    if report.failed:
        say(f"error: {len(report.failed)} of {len(report.outcomes)} briefs failed; see {Path(args.out) / 'summary.json'}",
            sys.stderr)
        return 1 if any(o.exit_code == 1 for o in report.failed) else 2  # a bug in any brief: 1, as `run` says
    return 0


def cmd_image(args) -> int:
    from agent.redraw import redraw

    say(redraw(args.from_png, args.out, config_from_args(args)))
    return 0


def cmd_chat(args) -> int:
    """The terminal studio: the one command that imports the Textual app."""
    from tui import run_chat

    return run_chat(config_from_args(args, planner=getattr(args, "planner", None)), getattr(args, "session", None))


COMMANDS: dict[str, Callable] = {
    "chat": cmd_chat, "image": cmd_image,
    "batch": cmd_batch,
    "run": cmd_run, "plan": cmd_plan, "models": cmd_models, "sessions": cmd_sessions,
    "export": cmd_export, "train": cmd_train, "learn": cmd_learn,
}


def main(argv: list[str] | None = None) -> int:
    """The console script `arsnova`."""
    # torch's OpenMP threads spin while they wait for a core; on a shared 2-core machine that made
    # a picture 9.7 s instead of 1.0 s (bench/image_speed_contended*.json). Read when torch loads,
    # which the commands do later; a value the person set wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed as one line
        return int(e.code or 0)
    command = args.command or "chat"
    real_stdout = sys.stdout
    try:
        if command != "chat":  # the chat owns the terminal
            sys.stdout = _PipeGuard(real_stdout)
        return COMMANDS[command](args)
    except UserFixableError as e:
        say(f"arsnova: {e}", sys.stderr)
        return 2
    except KeyboardInterrupt:
        say("arsnova: interrupted", sys.stderr)
        return 130
    except Exception as e:  # an internal failure: say so in one line; details with ARSNOVA_DEBUG=1
        from agent.config import debug_requested

        if debug_requested():
            raise
        say(f"arsnova: internal error: {type(e).__name__}: {e} (set ARSNOVA_DEBUG=1 for details)", sys.stderr)
        return 1
    finally:
        sys.stdout = real_stdout


class _PipeGuard:
    """stdout while a command runs. When the reader goes away (`arsnova run … | head -1`) the rest
    of the output is dropped and the work goes on, so the bundle is still written whole. As in
    Python's own advice for SIGPIPE, the descriptor is pointed at /dev/null, so that the flush at
    exit cannot fail (and print "Exception ignored … BrokenPipeError") either."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        self.reader_gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # not a real descriptor (a test's capture): nothing to flush later
            pass

    def __getattr__(self, name: str):  # isatty, fileno, encoding…: the real stream's
        return getattr(self._stream, name)
