"""`arsnova batch`: many briefs, one bundle each; serially here, and on local Ray with a worker
killed mid-run (slow)."""

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from agent.batch import bundle_digest, plan_jobs
from agent.cli import main

BRIEFS = {
    "haiku": "title: Haiku\nseed: 1\nturns:\n  - Write a haiku about autumn rain.\n",
    "waltz": "title: Waltz\nseed: 2\nturns:\n  - Compose 4 bars of a waltz in G minor for piano.\n",
    "both": "title: Both\nseed: 3\nturns:\n  - Write a haiku about the sea.\n  - Compose 2 bars of calm music in C major.\n",
    "sad": "title: Sad\nseed: 4\nturns:\n  - Compose 3 bars of sad music in A minor.\n  - Make it less conventional.\n",
}


def write_briefs(folder: Path, names) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in names:
        (folder / f"{n}.yaml").write_text(BRIEFS[n])
        paths.append(str(folder / f"{n}.yaml"))
    return paths


def test_job_names_are_unique_and_safe(tmp_path):
    jobs = plan_jobs(["a/x.yaml", "b/x.yaml", "c/../we ird;name.yml", "x.yaml", "X.yaml", "con.yaml", "Lpt1.x.yaml",
                      "a" * 300 + ".yaml"])
    assert [j.name for j in jobs] == ["x", "x-2", "we_ird_name", "x-3", "X-4", "con_", "Lpt1.x_", "a" * 100]


def test_serial_batch_bundles_and_a_bad_brief_does_not_stop_the_others(capsys, tmp_path, tiny_weights):
    paths = write_briefs(tmp_path / "briefs", ["haiku", "waltz"])
    broken = tmp_path / "briefs" / "broken.yaml"
    broken.write_text("turns: [unclosed\n")
    out = tmp_path / "out"
    code = main(["--weights", str(tiny_weights), "batch", paths[0], str(broken), paths[1], "--out", str(out)])
    stdout, err = capsys.readouterr()
    assert code == 2 and err.strip().splitlines() == [f"error: 1 of 3 briefs failed; see {out / 'summary.json'}"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["engine"] == "serial" and (summary["done"], summary["failed"]) == (2, 1)
    rows = {o["name"]: o for o in summary["outcomes"]}
    assert rows["broken"]["status"] == "failed" and "broken.yaml" in rows["broken"]["error"]
    assert rows["haiku"]["artifacts"] == 1 and rows["waltz"]["artifacts"] == 1
    assert all(o["seconds"] > 0 for o in summary["outcomes"])
    assert rows["haiku"]["digest"] == bundle_digest(out / "haiku")
    assert sorted(p.name for p in out.iterdir()) == ["haiku", "summary.json", "waltz"]  # no work dirs left
    assert "2 of 3 briefs done" in stdout and "[####" in stdout


def test_batch_json_streams_tagged_events(capsys, tmp_path, tiny_weights):
    paths = write_briefs(tmp_path / "briefs", ["haiku"])
    assert main(["--weights", str(tiny_weights), "batch", *paths, "--out", str(tmp_path / "o"), "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    kinds = [d["event"] for d in lines]
    assert kinds[0] == "BriefStarted" and "ToolFinished" in kinds and kinds[-1] == "BatchFinished"
    assert all(d.get("brief") == "haiku" for d in lines if d["event"] in ("PlanMade", "ToolFinished"))


def test_batch_argument_errors(capsys, tmp_path):
    assert main(["batch", "x.yaml", "--out", str(tmp_path / "o"), "--workers", "0", "--ray"]) == 2
    assert main(["batch", "x.yaml", "--out", str(tmp_path / "o"), "--workers", "2"]) == 2
    (tmp_path / "f").write_text("x")
    assert main(["batch", "x.yaml", "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "--workers" in err[0] and "needs --ray" in err[1] and "not a directory" in err[2]


@pytest.mark.slow
def test_ray_batch_survives_a_killed_worker_and_matches_the_serial_run(capsys, tmp_path, tiny_weights):
    pytest.importorskip("ray")
    names = ["haiku", "waltz", "both", "sad"]
    paths = write_briefs(tmp_path / "briefs", names)
    from agent.batch import run_batch
    from agent.config import Config

    cfg = Config(data_dir=tmp_path / "d", weights_dir=tiny_weights, threads=1)
    serial = run_batch(paths, tmp_path / "serial", cfg, stream=open(os.devnull, "w"))
    assert not serial.failed

    killed = {}

    def on_event(d):
        # kill the worker that starts the third brief, as soon as it has started it
        if d.get("event") == "BriefStarted" and d["brief"] == "both" and not killed:
            pid = int(d["worker"].rsplit(":", 1)[1])
            killed["pid"] = pid
            threading.Timer(0.3, lambda: os.kill(pid, signal.SIGKILL)).start()

    report = run_batch(paths, tmp_path / "ray", cfg, ray_address="local", workers=2, on_event=on_event,
                       stream=open(os.devnull, "w"))
    assert killed and not report.failed
    assert report.engine == "ray (2 workers)"
    by = {o.name: o for o in report.outcomes}
    assert by["both"].attempts >= 2  # retried on the restarted worker
    for n in names:
        assert bundle_digest(tmp_path / "ray" / n) == bundle_digest(tmp_path / "serial" / n), n
    summary = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert [o["name"] for o in summary["outcomes"]] == names and all(o["seconds"] > 0 for o in summary["outcomes"])
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == sorted(names + ["summary.json"])
    time.sleep(0.1)


@pytest.mark.slow
def test_ray_batch_draws_through_the_image_service(tmp_path, tiny_weights, monkeypatch):
    """The path a GPU node takes (one ImageService actor draws for every worker), forced on a CPU."""
    pytest.importorskip("ray")
    import shutil

    from agent.batch import run_batch
    from agent.config import Config
    from tests.tiny import make_tiny_image_model

    weights = tmp_path / "w"
    shutil.copytree(tiny_weights, weights)
    make_tiny_image_model(weights)
    (tmp_path / "b").mkdir()
    for k, colour in enumerate(["red", "blue"]):
        (tmp_path / "b" / f"{colour}.yaml").write_text(f"seed: {k}\nturns:\n  - draw a {colour} boat, 32x32, 2 steps\n")
    paths = sorted(str(p) for p in (tmp_path / "b").glob("*.yaml"))
    cfg = Config(data_dir=tmp_path / "d", weights_dir=weights, threads=1)
    serial = run_batch(paths, tmp_path / "serial", cfg, stream=open(os.devnull, "w"))
    monkeypatch.setenv("ARSNOVA_IMAGE_SERVICE", "1")
    remote = run_batch(paths, tmp_path / "ray", cfg, ray_address="local", workers=2, stream=open(os.devnull, "w"))
    assert not serial.failed and not remote.failed
    for o in serial.outcomes:
        assert bundle_digest(tmp_path / "ray" / o.name) == o.digest
