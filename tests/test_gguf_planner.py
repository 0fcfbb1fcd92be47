"""The GGUF planner on llama.cpp (xllamacpp): a real GGUF file written from a tiny Qwen2, its tool
calls decoded under the grammar, bad files refused in one line."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent.gguf_planner import MAX_NEW_TOKENS, WORDS_MAX_TOKENS, cap_strings, request_messages, tool_call_grammar
from models.common.llamacpp import check_gguf
from agent.planner import Planner, check_calls, make_planner
from agent.tool_grammar import call_schema
from models.common.errors import ModelFileError, UserFixableError
from tools import registry

SCHEMAS = [convert_to_openai_tool(t) for t in registry.langchain_tools()]


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    pytest.importorskip("gguf")
    from tests.tiny import make_tiny_chat_model, make_tiny_gguf

    return make_tiny_gguf(make_tiny_chat_model(tmp_path_factory.mktemp("chat")))


@pytest.fixture(scope="module")
def gguf_model(tiny_gguf):
    pytest.importorskip("xllamacpp")
    from agent.gguf_planner import GGUFChatModel

    return GGUFChatModel.load(str(tiny_gguf), threads=1)


def test_the_grammar_offers_every_tool_and_no_seed():
    g = tool_call_grammar(SCHEMAS, "required")
    assert g.startswith("%llguidance {}") and "start: calls\n" in g
    schema = json.loads(g.split("%json ", 1)[1].rsplit(' "\\n</tool_call>"', 1)[0])
    names = {o["properties"]["name"]["const"] for o in schema["anyOf"]}
    assert names == set(registry.names())
    for o in schema["anyOf"]:
        assert not {"seed", "batch_seeds"} & set(o["properties"]["arguments"]["properties"])
    assert "calls | words" in tool_call_grammar(SCHEMAS, "auto")


def test_the_largest_call_fits_the_token_budget():
    """Free text is capped so that a whole call (4 bytes a character, a token a byte at worst)
    always fits: the grammar can close every call the budget lets the model start."""
    for option in cap_strings(call_schema(SCHEMAS), 200)["anyOf"]:
        props = option["properties"]["arguments"]["properties"]
        chars = sum(p.get("maxLength", 0) for p in props.values() if p.get("type") == "string")
        other = sum(max(len(json.dumps(v)) for v in p.get("enum", [0])) for p in props.values())
        keys = sum(len(k) + 6 for k in props)  # "key": value, — written once each
        bound = 4 * chars + other + keys + 64  # + the name and the tags
        assert bound < MAX_NEW_TOKENS, (option["properties"]["name"], bound)


def test_tools_go_in_the_system_message_and_earlier_calls_are_written_back():
    from langchain_core.messages import AIMessage, SystemMessage, ToolMessage

    msgs = request_messages([SystemMessage("You plan."), HumanMessage("a jig"),
                             AIMessage("", tool_calls=[{"name": "compose_music", "args": {"style": "jig"}, "id": "c1"}]),
                             ToolMessage("done", tool_call_id="c1")], SCHEMAS)
    assert msgs[0]["role"] == "system" and msgs[0]["content"].startswith("You plan.") and "<tools>" in msgs[0]["content"]
    assert msgs[2] == {"role": "assistant",
                       "content": '<tool_call>\n{"name": "compose_music", "arguments": {"style": "jig"}}\n</tool_call>'}
    assert msgs[3]["role"] == "tool"


@pytest.mark.parametrize("content, fragment", [(None, "no such GGUF file"), (b"\x89PNG\r\n\x1a\n", "not a GGUF file"),
                                               (b"", "not a GGUF file")])
def test_a_missing_or_foreign_file_is_refused_before_loading(tmp_path, content, fragment):
    path = tmp_path / "model.gguf"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=fragment):
        check_gguf(str(path))
    with pytest.raises(UserFixableError, match=fragment):
        make_planner(f"gguf:{path}", lambda: None)


def test_a_truncated_gguf_is_one_line_not_a_crash(tiny_gguf, tmp_path):
    pytest.importorskip("xllamacpp")
    cut = tmp_path / "cut.gguf"
    data = tiny_gguf.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="could not load"):
        make_planner(f"gguf:{cut}", lambda: None)


def test_a_random_model_under_the_grammar_calls_validly_first_time(gguf_model, tiny_gguf):
    """This untrained model writes gibberish; under the grammar, every call parses and validates
    on the first try, with no retry and no fallback (the issue's "100% valid" on the test model)."""
    bound = gguf_model.bind_tools(registry.langchain_tools(), tool_choice="required")
    planner = Planner(f"gguf:{tiny_gguf}", bound, router=None, max_retries=0)
    for text in ("a jig in D", "a haiku about rain"):
        res = planner.plan([HumanMessage(text)])
        assert res.answered_by == planner.name and res.message.tool_calls and not res.notices, res.notices
        good, errors = check_calls(res.message)
        assert not errors and len(good) == len(res.message.tool_calls)
    # the prompt (system, tools) was read once: the second request reused its cached prefix
    assert gguf_model.last_reused_tokens > 0.9 * gguf_model.last_prompt_tokens


def test_unconstrained_the_same_model_makes_no_call(gguf_model):
    gguf_model.constrained = False
    try:
        raw = gguf_model.bind_tools(registry.langchain_tools(), tool_choice="required").invoke([HumanMessage("a jig")])
    finally:
        gguf_model.constrained = True
    assert not raw.tool_calls


def test_an_answer_in_words_streams_and_a_hybrid_wraps_the_model(gguf_model, tiny_gguf):
    planner = Planner(f"gguf:{tiny_gguf}", gguf_model.bind_tools(registry.langchain_tools()), router=None,
                      max_retries=0)
    assert planner.streams
    shown: list[str] = []
    res = planner.plan([HumanMessage("hello there")], on_text=shown.append)
    if not res.message.tool_calls:  # the random model took the words branch: its words were passed on
        assert "".join(shown).strip() and "".join(shown).strip() in str(res.message.content)
        assert 0 < gguf_model.last_new_tokens <= WORDS_MAX_TOKENS + 1  # the grammar ends a reply in words
    hybrid = make_planner(f"hybrid:gguf:{tiny_gguf}", lambda: None)
    assert hybrid.llm.name == f"gguf:{tiny_gguf}"


def test_a_gguf_poet_writes_the_form_on_llama_cpp(tiny_gguf, tiny_weights, encoder, tmp_path):
    """--poet gguf:PATH: each line's candidates are decoded side by side by llama.cpp in this
    process; the form is kept by choosing among them, the seed reproduces the poem."""
    pytest.importorskip("xllamacpp")
    from models.poetry import prosody
    from models.poetry.forms import plan_form
    from models.poetry.kit import load_poet_kit
    from models.poetry.poet import SampleSettings

    kit = load_poet_kit(tiny_weights, f"gguf:{tiny_gguf}", encoder, tmp_path / "cache")
    assert kit.model_id == f"gguf:{tiny_gguf}"

    def write(seed):
        return kit.poet.write("a storm at sea", plan_form("couplet"), seed=seed,
                              settings=SampleSettings(candidates=8, max_line_tokens=16))

    poem = write(2)
    assert len(poem.lines) == 2 and all(ln.strip() for ln in poem.lines)
    assert prosody.rhymes(prosody.last_word(poem.lines[0]), prosody.last_word(poem.lines[1]))
    assert kit.poet.lm.nll(None, "\n".join(poem.lines)) > 0  # fluency from llama.cpp's log-probabilities
    assert write(2).lines == poem.lines
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        load_poet_kit(tiny_weights, f"gguf:{tiny_weights / 'poet' / 'content_words.json'}", encoder, None)


def test_the_bindings_local_listener_serves_nobody_else(gguf_model):
    """xllamacpp also listens on 127.0.0.1: with the random key nothing is told, another program
    on the machine gets 401 for the model's endpoints."""
    import urllib.error
    import urllib.request

    addr = gguf_model._server.listening_address
    assert addr.startswith("http://127.0.0.1:")
    for path in ("/completion", "/v1/chat/completions"):
        req = urllib.request.Request(addr + path, json.dumps({"prompt": "hi", "n_predict": 2}).encode(),
                                     {"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 401


def test_a_model_asked_for_twice_is_one_server_kept_for_the_process(tiny_gguf):
    """The binding's Server destructor can hang, so a server is never freed: the same model
    asked for again is the same server (no second copy in memory, nothing freed on a switch)."""
    pytest.importorskip("xllamacpp")
    from models.common.llamacpp import load_server

    a = load_server(tiny_gguf, n_ctx=2048, threads=1)
    assert load_server(tiny_gguf, n_ctx=2048, threads=1) is a
    assert load_server(tiny_gguf, n_ctx=1024, threads=1) is not a  # other settings: another server
