"""Planner policy (validate → retry → router) with scripted chat models, and the HF backend."""

import threading

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

from agent.llm_planner import HFChatModel, parse_tool_calls
from agent.planner import Planner, check_calls, make_planner
from agent.router import RouterChatModel
from models.common.errors import ModelFileError, UserFixableError
from tools import registry


def scripted(*messages):
    return GenericFakeChatModel(messages=iter(messages))


@pytest.fixture(scope="module")
def router_factory():
    from models.common.encoder import load_encoder

    r = RouterChatModel(load_encoder())
    return lambda: r


def call(name, args, i=0):
    return {"name": name, "args": args, "id": f"c{i}", "type": "tool_call"}


def test_valid_llm_plan_is_used(router_factory):
    p = Planner("hf:test", scripted(AIMessage("", tool_calls=[call("compose_music", {"key": "g minor", "bars": 8})])),
                router_factory)
    res = p.plan([HumanMessage("music")])
    assert res.answered_by == "hf:test" and res.notices == ()
    assert res.message.tool_calls[0]["args"] == {"key": "G minor", "bars": 8}


def test_invalid_call_is_retried_with_the_error_then_accepted(router_factory):
    seen = []

    class Recording(GenericFakeChatModel):
        def _generate(self, messages, *a, **kw):
            seen.append(messages)
            return super()._generate(messages, *a, **kw)

    model = Recording(messages=iter([
        AIMessage("", tool_calls=[call("compose_music", {"bars": 1_000_000_000, "colour": "red"})]),
        AIMessage("", tool_calls=[call("compose_music", {"bars": 16})]),
    ]))
    res = Planner("hf:test", model, router_factory).plan([HumanMessage("music")])
    assert res.answered_by == "hf:test"
    assert "less than or equal to 128" in res.notices[0] and "colour: unknown argument" in res.notices[0]
    assert "Call the tool again" in seen[1][-1].content  # the error went back to the model


def test_malformed_calls_fall_back_to_the_router(router_factory):
    bad = AIMessage("", tool_calls=[call("summon_demon", {})])
    res = Planner("hf:test", scripted(bad, bad, bad), router_factory, max_retries=2).plan(
        [HumanMessage("write a haiku about frost")])
    assert res.answered_by == "router"
    assert [c["name"] for c in res.message.tool_calls] == ["write_poem"]
    assert sum("invalid tool call" in n for n in res.notices) == 3
    assert res.notices[-1] == "the router planner answered instead"


def test_a_hanging_planner_times_out_to_the_router(router_factory):
    release, finished = threading.Event(), threading.Event()

    class Hanging(GenericFakeChatModel):
        def _generate(self, *a, **kw):
            release.wait(60)  # hangs until the test lets it go
            finished.set()

    p = Planner("openai:x#y", Hanging(messages=iter([])), router_factory, timeout_s=0.2)
    res = p.plan([HumanMessage("a slow tune in C")])
    # the router answered while the model was still hanging (no clock: had plan() waited for
    # the model, the model would have finished first)
    assert not finished.is_set()
    release.set()
    assert res.answered_by == "router" and "did not answer within" in res.notices[0]


def test_check_calls_normalises_and_reports():
    good, errors = check_calls(AIMessage("", tool_calls=[call("compose_music", {"key": "bb", "meter": "5/4"}),
                                                         call("write_poem", {"topic": "x", "lines": 0}, 1)]))
    assert good == []
    assert "meter" in errors[0] and "lines" in errors[1] and "greater than or equal to 1" in errors[1]


def test_unknown_planner_spec_is_a_user_error():
    with pytest.raises(UserFixableError, match="unknown planner"):
        make_planner("gpt-17", lambda: None, [])


@pytest.mark.parametrize("text,names", [
    ('<tool_call>{"name": "write_poem", "arguments": {"topic": "rain"}}</tool_call>', ["write_poem"]),
    ('<tool_call>\n{"name": "a", "arguments": "{\\"x\\": 1}"}\n</tool_call><tool_call>{"name": "b", "arguments": {}}</tool_call>',
     ["a", "b"]),
    ('[{"type": "function", "function": {"name": "compose_music", "parameters": {"bars": 8}}}]', ["compose_music"]),
    ('```json\n{"name": "generate_image", "arguments": {"prompt": "cat"}}\n```', ["generate_image"]),
    ("Hello! I can help.", []),
    ('<tool_call>{"name": broken json</tool_call>', []),
])
def test_parse_tool_call_formats(text, names):
    calls, _ = parse_tool_calls(text)
    assert [c["name"] for c in calls] == names


@pytest.fixture(scope="module")
def tiny_chat_dir(tmp_path_factory):
    from tests.tiny import make_tiny_chat_model

    return make_tiny_chat_model(tmp_path_factory.mktemp("chat"))


def test_hf_planner_loads_a_local_model_and_renders_tools(tiny_chat_dir):

    model = HFChatModel.load(str(tiny_chat_dir), max_new_tokens=4)
    tools = registry.langchain_tools()
    schemas = model.bind_tools(tools).kwargs["tool_schemas"]
    ids = model.prompt_ids([HumanMessage("a tune")], schemas)
    prompt = model._tok.decode(ids)
    for name in ("write_poem", "generate_image", "style_transfer", "compose_music"):
        assert name in prompt
    assert prompt.rstrip().endswith("assistant")


def test_hf_planner_reuses_the_prompt_prefix_cache(tiny_chat_dir):

    tools = registry.langchain_tools()
    cached = HFChatModel.load(str(tiny_chat_dir), max_new_tokens=6)
    bound = cached.bind_tools(tools)
    first = bound.invoke([HumanMessage("compose a waltz")])
    assert cached.last_reused_tokens == 0
    second = bound.invoke([HumanMessage("write a sonnet about rain")])
    assert cached.last_reused_tokens > 0.8 * cached.last_prompt_tokens - 20  # system + tools came from the cache
    fresh = HFChatModel.load(str(tiny_chat_dir), max_new_tokens=6).bind_tools(tools)
    assert fresh.invoke([HumanMessage("write a sonnet about rain")]).content == second.content
    assert isinstance(first, AIMessage)


def test_a_random_llm_falls_back_to_the_router(tiny_chat_dir, router_factory):

    model = HFChatModel.load(str(tiny_chat_dir), max_new_tokens=6).bind_tools(registry.langchain_tools())
    res = Planner(f"hf:{tiny_chat_dir}", model, router_factory, max_retries=1).plan([HumanMessage("a jig in D")])
    # gibberish has no tool calls: it is taken as a words-only answer, which is valid
    assert res.answered_by in (f"hf:{tiny_chat_dir}", "router")


def test_missing_local_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="cannot load planner model"):
        HFChatModel.load(str(tmp_path / "nothing-here"))


def test_cli_plan_with_a_local_hf_planner(tiny_chat_dir, capsys):
    import json

    from agent.cli import main

    code = main(["plan", "a slow tune in D minor", "--planner", f"hf:{tiny_chat_dir}", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    # the untrained model answers in gibberish words (a valid no-tool answer) or is replaced by the router
    assert out["planner"] in (f"hf:{tiny_chat_dir}", "router")


@pytest.mark.parametrize("spec,fragment", [("openai:http://127.0.0.1:9/v1#m", "langchain-openai"),
                                           ("ollama:qwen", "langchain-ollama"), ("openai:http://x", "openai:URL#MODEL")])
def test_server_planners_need_the_llm_extra(spec, fragment, capsys):
    from agent.cli import main

    try:
        import langchain_openai  # noqa: F401

        pytest.skip("the [llm] extra is installed here")
    except ImportError:
        pass
    code = main(["plan", "a tune", "--planner", spec])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err


def test_a_gguf_file_is_a_valid_planner(tiny_chat_dir, router_factory):
    pytest.importorskip("gguf")
    pytest.importorskip("accelerate")
    from tests.tiny import make_tiny_gguf

    gguf_path = make_tiny_gguf(tiny_chat_dir)
    planner = make_planner(f"hf:{tiny_chat_dir}#{gguf_path.name}", lambda: None, registry.langchain_tools())
    hf = planner.model.bound if hasattr(planner.model, "bound") else planner.model
    assert type(hf._model).__name__ == "Qwen2ForCausalLM"
    assert "<|im_start|>" in hf._tok.decode(hf.prompt_ids([HumanMessage("a jig")], None))  # template from the GGUF
    res = planner.plan([HumanMessage("a jig in D")])
    assert res.answered_by in (planner.name, "router")


def test_answer_gate_streams_prose_and_holds_back_tool_calls():
    from agent.llm_planner import AnswerGate

    def run(pieces):
        out = []
        g = AnswerGate(out.append)
        for p in pieces:
            g(p)
        return "".join(out)

    assert run(["  Here is ", "a plan: ", "first the poem."]) == "  Here is a plan: first the poem."
    assert run(["<tool_call>", '{"name": "x"}']) == ""
    assert run(['{"name": ', '"write_poem"}']) == ""
    assert run(["Sure. ", "<tool_", "call>{...}"]) == "Sure. "


def test_an_hf_planner_streams_its_answer_as_text_deltas(tmp_path, tiny_weights):
    """The local LLM planner's words reach the caller while it writes (TextDelta events), and
    what was streamed is the start of what it wrote."""
    from agent import events as ev
    from agent.app import make_agent
    from agent.config import Config
    from tests.tiny import make_tiny_chat_model

    model = make_tiny_chat_model(tmp_path / "qwen")
    agent = make_agent(Config(data_dir=tmp_path / "d", weights_dir=tiny_weights, threads=1, planner=f"hf:{model}"))
    assert agent.planner.streams
    base = agent.planner.model.bound
    seen = []
    base._text_sink = seen.append
    msg = agent.planner.model.invoke([__import__("langchain_core.messages", fromlist=["HumanMessage"]).HumanMessage("hi")])
    base._text_sink = None
    streamed = "".join(seen)
    raw = str(msg.content)
    assert streamed.strip(), f"the tiny planner wrote {raw!r} and nothing was streamed"
    assert streamed.strip()[:40] in raw  # what was streamed is what it wrote
    sid = agent.store.create("t").id
    events = list(agent.run("hello", sid))
    deltas = [e for e in events if isinstance(e, ev.TextDelta)]
    assert type(events[-1]).__name__ == "Final"
    assert deltas and events.index(deltas[0]) < events.index(events[-1])
    assert "".join(d.text for d in deltas).strip()[:40] in events[-1].text  # the answer, as it was written


class _Refuses(GenericFakeChatModel):
    def _generate(self, *a, **kw):
        raise AssertionError("the hybrid asked the model although the router was sure")


def test_hybrid_asks_the_model_only_when_the_router_is_unsure_or_it_is_no_request(router_factory):
    from agent.planner import HybridPlanner

    sure = HybridPlanner("hybrid:test", router_factory, Planner("test", _Refuses(messages=iter([])), router_factory))
    res = sure.plan([HumanMessage("a haiku about rain")])
    assert res.answered_by == "router (hybrid)" and res.message.tool_calls[0]["name"] == "write_poem"
    res = sure.plan([HumanMessage("What's the difference between a sonnet and a villanelle?")])
    assert res.answered_by == "router (hybrid)" and not res.message.tool_calls  # the help text answers

    words = HybridPlanner("hybrid:test", router_factory,
                          Planner("test", scripted(AIMessage("Gute Nacht.")), router_factory))
    res = words.plan([HumanMessage("translate 'good night' into German")])
    assert res.answered_by == "test (hybrid: not a request for the tools)"
    assert res.message.content == "Gute Nacht."

    unsure = HybridPlanner("hybrid:test", router_factory, Planner("test", scripted(
        AIMessage("", tool_calls=[call("compose_music", {"key": "C# minor", "mood": "dark"})])), router_factory),
        min_lead=2.0)  # nothing leads by 2: every decision is "unsure"
    res = unsure.plan([HumanMessage("a tense, dark piece in C# minor")])
    assert res.answered_by == "test (hybrid: the router was unsure)"
    assert res.message.tool_calls[0]["args"]["key"] == "C# minor"


@pytest.mark.parametrize("spec", ["hybrid:", "hybrid:router", "hybrid:hybrid:router"])
def test_a_hybrid_needs_a_model_planner(spec):
    with pytest.raises(UserFixableError, match="hybrid:<model planner>"):
        make_planner(spec, lambda: None)


def test_a_hybrid_over_a_local_model_builds(tiny_chat_dir):
    from agent.planner import HybridPlanner

    p = make_planner(f"hybrid:hf:{tiny_chat_dir}", lambda: None)
    assert isinstance(p, HybridPlanner) and p.llm.name == f"hf:{tiny_chat_dir}" and p.router is p.llm.router
