"""Constrained tool calls (issue 22): the grammar admits exactly the calls the tool schemas
validate, and a local model decoded under it makes valid calls the first time, even a random one."""

import json

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent.llm_planner import HFChatModel
from agent.planner import Planner, check_calls
from agent.tool_grammar import CALL_CLOSE, CALL_OPEN, ToolGrammar, decodable, grid
from tools import registry

SCHEMAS = [convert_to_openai_tool(t) for t in registry.langchain_tools()]
REQUIRED_FILL = {"topic": "rain", "prompt": "a fox", "content_image": "@last", "style_image": "starry night"}


def accepts(parser, text: str) -> bool:
    for ch in text:
        if ch not in parser.get_allowed_characters():
            return False
        parser = parser.add_character(ch)
    return parser.can_end()


def call(name, args):
    return CALL_OPEN + json.dumps({"name": name, "arguments": args}) + CALL_CLOSE


@pytest.mark.parametrize("name", registry.names())
def test_every_value_the_grammar_offers_validates(name):
    schema = registry.spec(name).schema
    js = schema.model_json_schema()
    base = {k: v for k, v in REQUIRED_FILL.items() if k in js.get("required", [])}
    offered = decodable(js)["properties"]
    assert "seed" not in offered  # seeds are the session's
    checked = 0
    for field, prop in offered.items():
        for value in prop.get("enum", []):
            schema.model_validate({**base, field: value})  # raises if the grammar offers an invalid value
            checked += 1
    assert checked > 0 or not any("enum" in p for p in offered.values())


def test_grids_keep_the_round_values_people_ask_for():
    assert 128 in grid(16, 2048, True) and 512 in grid(16, 2048, True) and 2048 in grid(16, 2048, True)
    assert grid(1, 128, True) == list(range(1, 129))
    g = grid(0.0, 30.0, False)
    assert 7.5 in g and 0.0 in g and 30.0 in g and len(g) <= 401


@pytest.mark.parametrize("choice", ["auto", "required"])
def test_the_grammar_admits_valid_calls_and_nothing_else(choice):
    g = ToolGrammar(SCHEMAS, tokenizer=None)
    assert accepts(g.parser(choice), call("compose_music", {"key": "D minor", "bars": 16, "meter": "6/8"}))
    assert accepts(g.parser(choice), call("write_poem", {"topic": "rain", "form": "haiku"}) + "\n"
                   + call("generate_image", {"prompt": "rain", "width": 128}))
    assert not accepts(g.parser(choice), call("compose_music", {"bars": 500}))  # out of range
    assert not accepts(g.parser(choice), call("compose_music", {"meter": "5/4"}))  # not a meter it writes
    assert not accepts(g.parser(choice), call("write_poem", {"form": "haiku"}))  # the topic is required
    assert not accepts(g.parser(choice), call("paint", {}))  # no such tool
    assert not accepts(g.parser(choice), call("write_poem", {"topic": "rain", "colour": "red"}))  # no such argument
    words = "A sonnet has fourteen lines."
    assert accepts(g.parser(choice), words) == (choice == "auto")


@pytest.fixture(scope="module")
def tiny_chat_dir(tmp_path_factory):
    from tests.tiny import make_tiny_chat_model

    return make_tiny_chat_model(tmp_path_factory.mktemp("chat"))


def test_a_random_model_decoded_under_the_grammar_calls_validly_first_time(tiny_chat_dir):
    """Unconstrained, this random model writes gibberish; constrained, every call it makes
    parses and validates on the first try, with no retry and no fallback."""
    model = HFChatModel.load(str(tiny_chat_dir), max_new_tokens=160)
    bound = model.bind_tools(registry.langchain_tools(), tool_choice="required")
    planner = Planner(f"hf:{tiny_chat_dir}", bound, router=None, max_retries=0)
    for text in ("a jig in D", "a haiku about rain"):
        res = planner.plan([HumanMessage(text)])
        assert res.answered_by == f"hf:{tiny_chat_dir}", res.notices
        assert res.message.tool_calls and not res.notices
        good, errors = check_calls(res.message)
        assert not errors and len(good) == len(res.message.tool_calls)
    free = HFChatModel.load(str(tiny_chat_dir), max_new_tokens=40, constrained=False)
    raw = free.bind_tools(registry.langchain_tools(), tool_choice="required").invoke([HumanMessage("a jig in D")])
    assert not raw.tool_calls  # the same model, unconstrained: no call at all
