"""Many briefs at once: serially in this process, or as Ray tasks on a local or remote cluster.

Each brief becomes one bundle ``OUT/<brief name>``. A ``BriefRunner`` runs briefs one after
another in one process and keeps its models loaded between them (the Studio is shared; every
brief gets its own session and seed), so a Ray worker is simply a ``BriefRunner`` actor: the
models load once per worker. Ray restarts an actor whose process died and retries the call
(``max_restarts``/``max_task_retries``); bundles are renamed into place whole (agent/export.py),
so a retried brief leaves one complete bundle, never two or half of one. With the same seeds
and threads the bundles are the same bytes as a serial run's.

A brief with bad input fails alone: it is reported in ``OUT/summary.json`` and the table, and
the others go on. On a cluster with GPUs the pictures are drawn by one ``ImageService`` actor
per GPU (``num_gpus=1``), which the workers call instead of loading the image model themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TextIO

from agent.config import Config, image_service_requested, ray_address
from agent.terminal import json_line, safe_json, safe_text
from models.common.errors import UserFixableError

SUMMARY = "summary.json"
BATCH_FORMAT = "arsnova-batch/1"  # summary.json's marker: an --out folder holding it is an earlier batch's
WORK = ".work"  # per-worker session stores and attempt counters; removed when the batch ends
WORK_MARK = "arsnova-batch-work"  # the file in .work that says this program made it (so may remove it)


@dataclass(frozen=True)
class BriefJob:
    path: str
    name: str  # the bundle's directory name under OUT (the brief's file stem, made unique)


@dataclass
class BriefOutcome:
    name: str
    brief: str
    status: str  # "done" | "partial" (a bundle, but some turns failed) | "failed" (no bundle)
    seconds: float
    bundle: str | None = None
    digest: str | None = None  # content hash of the bundle (bundle_digest)
    artifacts: int = 0
    attempts: int = 1
    worker: str = ""
    error: str | None = None
    failed_turns: list[dict] = field(default_factory=list)  # as the manifest's "failed" (agent/headless.py)
    exit_code: int = 0  # what `arsnova run` would have exited with for this brief: 0, 2 bad input, 1 a bug


def plan_jobs(paths: list[str]) -> list[BriefJob]:
    """One job per brief path, named after the file. A name already taken (by an earlier brief,
    or summary.json / .work) gets the first free -2, -3…, so every brief has its own bundle:
    ``d1/x.yaml``, ``d2/x.yaml``, ``x-2.yaml`` give x, x-2, x-2-2."""
    if not paths:
        raise UserFixableError("give at least one brief file: arsnova batch BRIEF... --out DIR")
    from agent.export import is_reserved_name

    taken = {SUMMARY, WORK}  # by lower case: names that differ only by case collide on macOS/Windows
    jobs = []
    for p in paths:
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(p).stem).strip(".")[:100] or "brief"
        if is_reserved_name(stem):
            stem = f"{stem}_"
        name, n = stem, 1
        while name.lower() in taken:
            n += 1
            name = f"{stem}-{n}"
        taken.add(name.lower())
        jobs.append(BriefJob(str(Path(p).resolve()), name))
    return jobs


def check_batch_out(out: Path) -> set[str]:
    """Refuse an --out folder Ars Nova did not make, before anything is written or removed. It
    is ours when it is new or empty, or an earlier batch's: our summary.json, the bundles it
    lists and our own .work, nothing else. -> the bundle names the earlier summary lists."""
    from agent.export import read_small_json, refuse_system_folder

    refuse_system_folder(out)
    if out.is_symlink():
        raise UserFixableError(f"{out} is a symbolic link; give a real directory for the batch")
    if not out.exists():
        return set()
    if not out.is_dir():
        raise UserFixableError(f"{out} exists and is not a directory; choose another --out")
    listed = _listed_bundles(read_small_json(out / SUMMARY))
    ours = {SUMMARY, *listed} if listed is not None else set()
    for name in os.listdir(out):
        if not (name in ours or (name == WORK and _is_our_work(out / WORK))):
            raise UserFixableError(f"{out} holds files Ars Nova did not write (it is not an earlier batch's folder); "
                                   "choose an empty or new --out")
    return listed or set()


def _listed_bundles(summary: object) -> set[str] | None:
    """The bundle folder names an earlier summary.json of ours lists; None when it is not ours."""
    if not isinstance(summary, dict) or summary.get("format") != BATCH_FORMAT:
        return None
    names = summary.get("bundles")
    if not isinstance(names, list):
        return None
    return {n for n in names if isinstance(n, str)} - {SUMMARY, WORK}


def _is_our_work(work: Path) -> bool:
    """A .work folder this program made (it holds WORK_MARK), and so may remove."""
    mark = work / WORK_MARK
    return work.is_dir() and not work.is_symlink() and mark.is_file() and not mark.is_symlink()


def bundle_digest(path: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in path order. Bundles hold no time
    stamps (the manifest leaves them out, PNG parameters carry none), so equal digests mean the
    same result."""
    h = hashlib.sha256()
    for p in sorted(x for x in Path(path).rglob("*") if x.is_file()):
        h.update(p.relative_to(path).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


class _LineSink:
    """A text stream that hands each complete line to ``put`` (events from inside a worker)."""

    def __init__(self, put: Callable[[str], None]) -> None:
        self._put, self._buf = put, ""

    def write(self, s: str) -> int:
        self._buf += s
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            if line.strip():
                self._put(line)
        return len(s)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class BriefRunner:
    """Runs briefs in this process with one set of loaded models (see module doc)."""

    def __init__(self, config: Config, out: str, image_service=None) -> None:
        self.config = config
        self.out = Path(out)
        self.work = Path(tempfile.mkdtemp(prefix="worker-", dir=self._work_root()))
        self.host = None  # the models, loaded once and shared by every brief this runner runs
        self.image_service = image_service
        self._encoder = None

    def _work_root(self) -> Path:
        root = self.out / WORK
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _attempt(self, job: BriefJob) -> int:
        """Counts tries of a brief across worker restarts (a file per brief under OUT/.work)."""
        marker = self._work_root() / f"{job.name}.attempts"
        n = int(marker.read_text() or 0) + 1 if marker.exists() else 1
        marker.write_text(str(n))
        return n

    def _agent(self, brief, seed: int, session_dir: Path):
        from agent.app import encoder_factory, make_agent
        from agent.session import SessionStore

        if self._encoder is None:
            self._encoder = encoder_factory(self.config)
        cfg = replace(self.config, seed=seed, planner=brief.planner or self.config.planner, data_dir=session_dir)
        service = self.image_service
        remote = (lambda spec=None: RemoteImageKit(service)) if service is not None else None
        agent = make_agent(cfg, store=SessionStore(session_dir), host=self.host, encoder=self._encoder,
                           image_loader=remote)
        self.host = agent.host
        return agent

    def run(self, job: BriefJob, as_json: bool = False, events: Callable[[str], None] | None = None) -> dict:
        """-> a BriefOutcome as a dict. Bad input is an outcome with status "failed", not an exception."""
        from agent.brief import load_brief
        from agent.headless import run_brief

        t0 = time.perf_counter()
        attempts = self._attempt(job)
        worker = f"{os.uname().nodename}:{os.getpid()}"
        put = events or (lambda line: None)
        put(json.dumps({"event": "BriefStarted", "brief": job.name, "worker": worker, "attempt": attempts}))
        session_dir = Path(tempfile.mkdtemp(prefix=f"{job.name}-", dir=self.work))
        try:
            brief = load_brief(job.path)
            seed = brief.seed or 0
            agent = self._agent(brief, seed, session_dir)
            sink = _LineSink(lambda line: put(_tag(line, job.name) if as_json else line))
            result = run_brief(brief, agent, str(self.out / job.name), as_json=True, stream=sink)
            bundle = result.bundle
            turns = dict(error=result.reason or None, failed_turns=list(result.failed), exit_code=result.exit_code)
            if bundle is None:
                out = BriefOutcome(job.name, job.path, "failed", time.perf_counter() - t0, attempts=attempts,
                                   worker=worker, **turns)
            else:
                manifest = json.loads((bundle / "manifest.json").read_text())
                out = BriefOutcome(job.name, job.path, "partial" if result.failed else "done", time.perf_counter() - t0,
                                   str(bundle), bundle_digest(bundle), len(manifest["artifacts"]), attempts, worker,
                                   **turns)
        except UserFixableError as e:
            out = BriefOutcome(job.name, job.path, "failed", time.perf_counter() - t0, attempts=attempts, worker=worker,
                               error=str(e), exit_code=2)
        finally:
            shutil.rmtree(session_dir, ignore_errors=True)
        put(json.dumps({"event": "BriefFinished", **asdict(out)}))
        return asdict(out)


def _tag(line: str, name: str) -> str:
    try:
        d = json.loads(line)
    except json.JSONDecodeError:
        return json.dumps({"event": "Text", "brief": name, "text": line})
    return json_line({"brief": name, **d}) if isinstance(d, dict) else line


class RemoteImageKit:
    """The ImageKit interface over an ImageService actor: a worker draws on the GPU node."""

    def __init__(self, service) -> None:
        import ray

        self._service = service
        info = ray.get(service.describe.remote())
        self.kind, self.native, self.index = info["kind"], info["native"], info["index"]
        self.model_id, self.model_hash, self.scheduler = info["model_id"], info["model_hash"], info["scheduler"]

    def generate(self, prompt, negative, size, steps, guidance, seeds, progress=None, should_stop=None):
        import ray

        out = ray.get(self._service.generate.remote(prompt, negative, tuple(size), steps, guidance, list(seeds)))
        if progress:
            progress(len(seeds) * steps, len(seeds) * steps)
        return out


class ImageService:
    """Loads the configured image model once (on a GPU when Ray gave this actor one)."""

    def __init__(self, config: Config) -> None:
        from agent.app import encoder_factory
        from tools.host import make_host

        self.kit = make_host(config.weights_dir, encoder_factory(config)).get("image", config.image_model)
        try:
            import torch

            if torch.cuda.is_available() and hasattr(self.kit.pipe, "to"):
                self.kit.pipe.to("cuda")
        except Exception:  # noqa: BLE001 - a GPU that will not take the model leaves it on the CPU
            pass

    def describe(self) -> dict:
        k = self.kit
        return {"kind": k.kind, "native": k.native, "index": k.index, "model_id": k.model_id,
                "model_hash": k.model_hash, "scheduler": k.scheduler}

    def generate(self, prompt, negative, size, steps, guidance, seeds):
        return self.kit.generate(prompt, negative, size, steps, guidance, seeds)


# ---- driving a batch ----------------------------------------------------------------------

@dataclass
class BatchReport:
    outcomes: list[BriefOutcome] = field(default_factory=list)
    seconds: float = 0.0
    engine: str = "serial"

    @property
    def failed(self) -> list[BriefOutcome]:
        return [o for o in self.outcomes if o.status != "done"]

    def to_dict(self) -> dict:
        return {"format": BATCH_FORMAT, "engine": self.engine, "briefs": len(self.outcomes),
                "done": len(self.outcomes) - len(self.failed), "failed": len(self.failed),
                "seconds": round(self.seconds, 2), "outcomes": [asdict(o) for o in self.outcomes]}

    def table(self) -> str:
        rows = [("brief", "status", "seconds", "tries", "artifacts", "worker", "bundle / error")]
        for o in self.outcomes:
            rows.append(tuple(safe_text(c) for c in (o.name, o.status, f"{o.seconds:.1f}", str(o.attempts),
                                                     str(o.artifacts), o.worker,
                                                     "; ".join(x for x in (o.bundle, o.error) if x))))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
        done = len(self.outcomes) - len(self.failed)
        lines.append(f"{done} of {len(self.outcomes)} briefs done in {self.seconds:.1f}s ({self.engine})")
        return "\n".join(lines)


class BatchProgress:
    """One bar for the batch (rewritten on a terminal) plus a status line per brief."""

    def __init__(self, total: int, stream: TextIO, as_json: bool) -> None:
        self.total, self.s, self.json, self.done = total, stream, as_json, 0
        self.tty = stream.isatty() and not as_json

    def line(self, line: str) -> None:
        if self.json:
            self.s.write(safe_json(line) + "\n")
            self.s.flush()
            return
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            return
        if d.get("event") == "BriefStarted":
            retry = f" (try {d['attempt']})" if d.get("attempt", 1) > 1 else ""
            self._say(f"  started  {d['brief']} on {d['worker']}{retry}", False)
        elif d.get("event") == "Notice" and "brief" not in d:
            self._say(f"  note: {d.get('text', '')}", False)
        elif d.get("event") == "BriefFinished":
            self.done += 1
            made = f"{d['artifacts']} artifacts -> {d['bundle']}" if d.get("bundle") else ""
            what = "; ".join(x for x in (made, d.get("error") or "") if x)  # a partial brief has both
            self._say(f"  {d['status']:<8} {d['name']} in {d['seconds']:.1f}s: {what}", True)

    def _say(self, text: str, finished: bool) -> None:
        filled = int(30 * self.done / max(1, self.total))
        bar = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} briefs"
        text = safe_text(text)  # brief names, errors and paths come from files
        if self.tty:  # the bar stays on the last line, rewritten
            self.s.write(f"\r\033[K{text}\n{bar}")
        else:
            self.s.write(f"{text}\n" + (f"{bar}\n" if finished else ""))
        self.s.flush()


def run_batch(paths: list[str], out: str | Path, config: Config, ray_address: str | None = None,
              workers: int | None = None, as_json: bool = False, stream: TextIO | None = None,
              on_event: Callable[[dict], None] | None = None) -> BatchReport:
    """Run every brief; write OUT/summary.json; return the report. ``ray_address``: None = serial
    in this process; "auto" = $RAY_ADDRESS or a new local Ray; "local"; or a cluster address."""
    from agent.export import check_can_write, check_out_dir

    stream = stream or sys.stdout
    jobs = plan_jobs(paths)
    out = Path(out).expanduser()
    earlier = check_batch_out(out)
    for j in jobs:
        check_out_dir(out / j.name)  # a non-bundle directory in the way fails before any work
    check_can_write(out / jobs[0].name)  # a read-only or full disk too
    out.mkdir(parents=True, exist_ok=True)
    (out / WORK).mkdir(exist_ok=True)
    (out / WORK / WORK_MARK).write_text(BATCH_FORMAT + "\n")
    config = replace(config, threads=config.threads or 1)  # same threads everywhere: same numbers
    progress = BatchProgress(len(jobs), stream, as_json)

    def put(line: str) -> None:
        progress.line(line)
        if on_event:
            try:
                on_event(json.loads(line))
            except json.JSONDecodeError:
                pass

    t0 = time.perf_counter()
    try:
        if ray_address is None:
            runner = BriefRunner(config, str(out))
            report = BatchReport([BriefOutcome(**runner.run(j, as_json, put)) for j in jobs], engine="serial")
        else:
            report = _run_on_ray(jobs, out, config, ray_address, workers, as_json, put)
    finally:
        if _is_our_work(out / WORK):
            shutil.rmtree(out / WORK, ignore_errors=True)
    report.seconds = time.perf_counter() - t0
    from models.common.files import write_atomic

    # every bundle in OUT, this batch's and earlier ones', so the next batch knows them as ours
    bundles = sorted(n for n in earlier | {o.name for o in report.outcomes} if (out / n).is_dir())
    summary = {**report.to_dict(), "bundles": bundles}
    write_atomic(out / SUMMARY, (json.dumps(summary, indent=1) + "\n").encode())
    if as_json:
        stream.write(json.dumps({"event": "BatchFinished", "summary": str(out / SUMMARY), **report.to_dict()}) + "\n")
    else:
        stream.write(("\n" if progress.tty else "") + report.table() + f"\nsummary: {safe_text(out / SUMMARY)}\n")
    stream.flush()
    return report


def _run_on_ray(jobs, out: Path, config: Config, address: str, workers: int | None, as_json: bool, put) -> BatchReport:
    try:
        import ray
        from ray.util.queue import Empty, Queue
    except ImportError:
        raise UserFixableError("--ray needs Ray: pip install 'arsnova[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        target = ray_address() if address == "auto" else (None if address == "local" else address)
        kw = {"num_cpus": workers * (config.threads or 1)} if target is None and workers else {}
        try:
            ray.init(address=target, include_dashboard=False, log_to_driver=False, configure_logging=False, **kw)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise UserFixableError(f"cannot reach Ray at {target or 'a new local cluster'}: {str(e).splitlines()[0]}; "
                                   "start one with `ray start --head` or leave out --ray") from None
    try:
        fits = max(1, int(ray.cluster_resources().get("CPU", 1) // (config.threads or 1)))
        n = min(workers or fits, fits, len(jobs))  # more actors than the cluster can place would wait forever
        if workers and workers > fits:
            put(json.dumps({"event": "Notice", "text": f"the cluster has room for {fits} workers of "
                                                       f"{config.threads} threads; using {n}"}))
        service = None
        if ray.cluster_resources().get("GPU", 0) >= 1 or image_service_requested():
            gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
            # no CPU reserved: it computes while the worker that called it waits in ray.get
            service = ray.remote(num_gpus=gpus, num_cpus=0, max_restarts=3, max_task_retries=3)(ImageService).remote(config)
        events = Queue()
        Worker = ray.remote(num_cpus=config.threads or 1, max_restarts=3, max_task_retries=3)(_RayBriefRunner)
        actors = [Worker.remote(config, str(out)) for _ in range(n)]
        todo, running, results = list(jobs), {}, {}
        for a in actors:
            if todo:
                job = todo.pop(0)
                running[a.run_remote.remote(job, as_json, events, service)] = (a, job)
        while running:
            ready, _ = ray.wait(list(running), timeout=0.2)
            while True:
                try:
                    put(events.get_nowait())
                except Empty:
                    break
            for ref in ready:
                a, job = running.pop(ref)
                try:
                    results[job.name] = BriefOutcome(**ray.get(ref))
                except ray.exceptions.RayError as e:  # out of retries: report it, keep going
                    results[job.name] = BriefOutcome(job.name, job.path, "failed", 0.0, attempts=4,
                                                     error=f"worker failed: {str(e).splitlines()[0][:200]}", exit_code=1)
                    put(json.dumps({"event": "BriefFinished", **asdict(results[job.name])}))
                if todo:
                    nxt = todo.pop(0)
                    running[a.run_remote.remote(nxt, as_json, events, service)] = (a, nxt)
        while True:
            try:
                put(events.get_nowait())
            except Empty:
                break
        return BatchReport([results[j.name] for j in jobs], engine=f"ray ({n} workers)")
    finally:
        if started_here:
            ray.shutdown()


class _RayBriefRunner(BriefRunner):
    """A BriefRunner whose events go to a Ray queue the driver drains. The queue and the image
    service come with each call, so a restarted actor needs nothing but its small constructor
    arguments."""

    def run_remote(self, job: BriefJob, as_json: bool, events, image_service) -> dict:
        if image_service is not None and self.image_service is None:
            self.image_service = image_service
        return self.run(job, as_json, events.put)
