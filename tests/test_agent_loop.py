"""The agent loop with the real tools on tiny models: events, storage, faults."""

import threading

import pytest

from agent import events as ev
from agent.app import make_agent
from agent.config import Config


@pytest.fixture
def agent(tiny_weights, tmp_path):
    return make_agent(Config(data_dir=tmp_path / "data", weights_dir=tiny_weights, threads=1))


def run(agent, sid, text, cancel=None):
    return list(agent.run(text, sid, cancel))


def test_event_order_and_storage(agent):
    sid = agent.store.create("t").id
    events = run(agent, sid, "a picture of a fox, a haiku about snow and 4 bars of music in E minor")
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "PlanMade" and kinds[-1] == "Final"
    assert kinds.index("ToolStarted") < kinds.index("Progress") < kinds.index("Critique") < kinds.index("ToolFinished")
    failed = [e for e in events if isinstance(e, ev.ToolFailed)]
    assert [(f.tool, f.kind) for f in failed] == [("generate_image", "unavailable")]
    final = events[-1]
    assert [a.kind for a in final.artifacts] == ["poem", "music"] and final.planner == "router"
    assert "not available yet" in final.text and "Composed 4 bars in E minor" in final.text
    assert "Wrote a haiku" in final.text
    # stored: the human message, the plan, the three tool results, the artifacts
    msgs = agent.store.messages(sid)
    assert [type(m).__name__ for m in msgs] == ["HumanMessage", "AIMessage"] + ["ToolMessage"] * 3
    assert agent.store.artifacts(sid)[1].scores.to_dict() == final.artifacts[1].scores.to_dict()


def test_revision_rounds_emit_revision_events(tiny_weights, tmp_path):
    from tools.revise import ReviseConfig

    a = make_agent(Config(data_dir=tmp_path / "d", weights_dir=tiny_weights, threads=1,
                          revise=ReviseConfig(max_rounds=2, candidates=2, target=1.01)))
    sid = a.store.create("t").id
    events = run(a, sid, "4 bars of music in C major")
    revs = [e for e in events if isinstance(e, ev.Revision)]
    assert [r.record.round for r in revs] == [1, 2] and all(r.record.candidates == 2 for r in revs)
    art = events[-1].artifacts[0]
    assert len(art.trajectory) == 3 and art.revision["stopped"] == "round limit"
    assert "revision round limit" in art.limits_hit


def test_a_tool_that_raises_keeps_the_others(agent, monkeypatch):
    calls = {"n": 0}
    import tools.compose_music as tool

    real = tool.run

    def flaky(args, ctx):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return real(args, ctx)

    monkeypatch.setattr(tool, "run", flaky)
    sid = agent.store.create("t").id
    events = run(agent, sid, "4 bars of music in D minor and 4 bars of music in G major")
    failed = [e for e in events if isinstance(e, ev.ToolFailed)]
    assert len(failed) == 1 and failed[0].kind == "internal" and "RuntimeError: boom" in failed[0].error
    assert len(events[-1].artifacts) == 1 and "G major" in events[-1].artifacts[0].summary
    assert "RuntimeError: boom" in (agent.store.data_dir / "logs" / "errors.log").read_text()
    assert sum("boom" in str(e) for e in events if isinstance(e, ev.ToolFailed)) == 1  # reported once


def test_cancel_before_start_and_midway(agent):
    from tests.tiny import slow_music

    slow_music(agent, 0.02)
    sid = agent.store.create("t").id
    cancel = threading.Event()
    cancel.set()
    events = run(agent, sid, "64 bars of music in F major", cancel)
    assert [e.kind for e in events if isinstance(e, ev.ToolFailed)] == ["cancelled"]
    cancel = threading.Event()
    seen = []
    for e in agent.run("128 bars of music in F major", sid, cancel):
        seen.append(e)
        if isinstance(e, ev.Progress) and e.done >= 2:
            cancel.set()
    assert [e.kind for e in seen if isinstance(e, ev.ToolFailed)] == ["cancelled"]
    assert not list(agent.store.session_dir(sid).glob("*.tmp"))
    after = run(agent, sid, "2 bars of music in F major")  # the next request works
    assert len(after[-1].artifacts) == 1


def test_words_only_answer(agent):
    sid = agent.store.create("t").id
    events = run(agent, sid, "hello, who are you?")
    assert [type(e).__name__ for e in events] == ["PlanMade", "Final"]
    assert "compose music" in events[-1].text


def test_a_primer_lends_its_key_and_meter(agent, tmp_path):
    from models.music.midi_io import midi_bytes
    from models.music.tokens import Key
    from tests.tiny import scale_tune

    primer = tmp_path / "primer.mid"
    primer.write_bytes(midi_bytes(scale_tune(Key(9, "minor"), bars=2, meter="3/4"), 90.0))
    sid = agent.store.create("t").id
    events = run(agent, sid, f"continue {primer} for 2 bars")
    art = events[-1].artifacts[0]
    assert "4 bars in A minor, 3/4" in art.summary  # 2 of the primer + 2 new


def test_a_planner_cannot_steer_file_names(tiny_weights, tmp_path):
    """Tool-call ids come from the model; they are replaced by our own before they reach a file name."""
    from langchain_core.messages import AIMessage

    from agent.app import make_agent
    from agent.planner import Planner

    class Hostile:
        def invoke(self, messages):
            return AIMessage("", tool_calls=[{"name": "compose_music", "args": {"bars": 2}, "id": "../../../escaped",
                                              "type": "tool_call"}])

    agent = make_agent(Config(data_dir=tmp_path / "d", weights_dir=tiny_weights, threads=1),
                       planner=Planner("hostile", Hostile()))
    sid = agent.store.create("t").id
    events = run(agent, sid, "music")
    art = events[-1].artifacts[0]
    folder = agent.store.session_dir(sid)
    assert all((folder / f).resolve().parent == folder.resolve() for f in art.files.values())
    assert not list(tmp_path.rglob("*escaped*"))


def test_the_planner_computes_on_the_turns_threads(agent):
    """The router's encoder runs at the turn's thread count, not torch's one-per-core default,
    even on a turn that runs no tool."""
    import torch

    from dataclasses import replace

    torch.set_num_threads(2)
    sid = agent.store.create("t").id
    list(agent.run("hello", sid, settings=replace(agent.settings, threads=1)))
    assert torch.get_num_threads() == 1


def test_a_church_mode_is_written_as_its_key_and_the_summary_says_so(agent):
    """'A dorian' was read as 'in A' and came out in A major without a word; now: A minor, and said."""
    sid = agent.store.create("t").id
    final = run(agent, sid, "4 bars of a reel in A dorian")[-1]
    (art,) = final.artifacts
    assert art.args["key"] == "A dorian"
    assert "Composed 4 bars in A minor (A dorian asked: the models write major and minor keys, not modes)" in art.summary
