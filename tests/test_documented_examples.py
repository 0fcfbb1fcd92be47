"""Every request the README and the F1 help show plans as they say (issue 22): the examples are
read from the texts themselves, so a changed example is tested as it is written."""

import re
from pathlib import Path

import pytest
import yaml
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agent.planner import check_calls
from agent.prompts import CHAT_HELP
from agent.router import RouterChatModel

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
KIND_OF = {"poems": "write_poem", "pictures": "generate_image", "music": "compose_music",
           "Restyle": "style_transfer"}
EARLIER = {"write_poem": {"topic": "rain", "form": "haiku"}, "generate_image": {"prompt": "a red apple"},
           "compose_music": {"key": "D minor"}, "style_transfer": {"content_image": "a.png", "style_image": "udnie"}}


def help_examples() -> list[tuple[str, str]]:
    """(example, tool) from the F1 help's 'Ask for poems … / pictures … / music … / Restyle …' lines."""
    text = " ".join(CHAT_HELP.split("\n\n", 2)[-1].split())
    out = []
    for part in re.split(r"(?=Ask for |Restyle a picture)", text):
        kind = next((t for word, t in KIND_OF.items() if part.startswith(("Ask for " + word, word))), None)
        if kind:
            out += [(ex, kind) for ex in re.findall(r"\*([^*]+)\*", part)]
    return out


def readme_brief_turns() -> list[str]:
    block = re.search(r"```yaml\n(title: Autumn set.*?)```", README, re.S).group(1)
    return yaml.safe_load(block)["turns"]


@pytest.fixture(scope="module")
def router():
    from models.common.encoder import load_encoder

    return RouterChatModel(load_encoder())


def plan(router, text, earlier: str | None = None):
    history = []
    if earlier:
        history = [HumanMessage("before"), AIMessage("", tool_calls=[
            {"name": earlier, "args": EARLIER[earlier], "id": "call_0_x", "type": "tool_call"}]),
            ToolMessage("done", tool_call_id="call_0_x")]
    calls, errors = check_calls(router.invoke([*history, HumanMessage(text)]))
    assert not errors, errors
    return [c["name"] for c in calls]


def test_the_help_has_examples_of_every_kind():
    kinds = {k for _, k in help_examples()}
    assert kinds == set(KIND_OF.values()) and len(help_examples()) >= 12


@pytest.mark.parametrize("example,tool", help_examples())
def test_every_help_example_plans_its_tool(router, example, tool):
    follow_up = example.lower().startswith("make ")
    assert plan(router, example, earlier=tool if follow_up or tool == "style_transfer" else None) == [tool]


def test_the_readme_brief_plans_a_poem_then_music_then_a_revision(router):
    first, second, third = readme_brief_turns()
    assert plan(router, first) == ["write_poem"]
    assert plan(router, second, earlier="write_poem") == ["compose_music"]
    assert plan(router, third, earlier="compose_music") == ["compose_music"]


def test_the_readme_multi_tool_sentence_plans_all_three(router):
    quoted = re.search(r'so "([^"]+)" plans and runs all three calls', README).group(1)
    assert sorted(plan(router, quoted)) == ["compose_music", "generate_image", "write_poem"]
