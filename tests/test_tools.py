"""Tool contracts (DESIGN.md): names, argument names, types and ranges are pinned here."""

import pytest
from langchain_core.messages import ToolMessage
from pydantic import ValidationError

from tools import registry
from tools.base import ToolContext, TurnSettings
from tools.host import ModelHost


def compact(schema: dict) -> dict:
    out = {}
    for name, p in schema["properties"].items():
        opts = p.get("anyOf", [p])
        main = next(o for o in opts if o.get("type") != "null")
        out[name] = (main.get("type"), main.get("minimum"), main.get("maximum"), tuple(main.get("enum", ())))
    return out


PINNED = {
    "write_poem": {
        "topic": ("string", None, None, ()),
        "form": ("string", None, None, ("free", "haiku", "sonnet", "limerick", "quatrain", "couplet", "tanka",
                                        "cinquain", "villanelle")),
        "lines": ("integer", 1, 60, ()), "language": ("string", None, None, ()),
        "poet": ("string", None, None, ()),  # a poet learned from the person's poems
        "seed": ("integer", 0, 2**31 - 1, ()),
    },
    "generate_image": {
        "prompt": ("string", None, None, ()), "negative_prompt": ("string", None, None, ()),
        "width": ("integer", 16, 2048, ()), "height": ("integer", 16, 2048, ()), "steps": ("integer", 1, 200, ()),
        "guidance": ("number", 0.0, 30.0, ()), "candidates": ("integer", 1, 8, ()),
        "batch_seeds": ("array", None, None, ()),  # re-drawing a PNG: the batch it was drawn in
        "exemplar": ("boolean", None, None, ()), "variation": ("number", 0.1, 1.0, ()),
        "seed": ("integer", 0, 2**31 - 1, ()),
    },
    "style_transfer": {
        "content_image": ("string", None, None, ()), "style_image": ("string", None, None, ()),
        "strength": ("number", 0.0, 1.0, ()), "preserve_color": ("boolean", None, None, ()),
        "size": ("integer", 64, 1024, ()), "steps": ("integer", 1, 2000, ()), "seed": ("integer", 0, 2**31 - 1, ()),
    },
    "compose_music": {
        "mood": ("string", None, None, ()), "key": ("string", None, None, ()), "tempo": ("integer", 20, 300, ()),
        "bars": ("integer", 1, 128, ()),
        "meter": ("string", None, None, ("2/4", "3/4", "4/4", "2/2", "3/2", "4/2", "6/8", "9/8", "12/8", "3/8", "6/4")),
        "instrument": ("string", None, None, ()),
        "style": ("string", None, None, ("chorale", "folk", "irish", "scottish", "english")),
        "primer_midi": ("string", None, None, ()), "model": ("string", None, None, ("transformer", "rnn")),
        "composer": ("string", None, None, ()),  # a composer learned from the person's pieces
        "form": ("string", None, None, ("AABB", "AABA", "ABA", "ABAB", "AAB", "AB", "rondo", "through")),
        "accompaniment": ("string", None, None, ("none", "auto", "waltz", "alberti", "broken", "block")),
        "seed": ("integer", 0, 2**31 - 1, ()),
    },
}
REQUIRED = {"write_poem": ["topic"], "generate_image": ["prompt"], "style_transfer": ["content_image", "style_image"],
            "compose_music": []}


@pytest.mark.parametrize("tool", registry.langchain_tools(), ids=lambda t: t.name)
def test_tool_schema_is_pinned(tool):
    schema = tool.tool_call_schema.model_json_schema()
    assert compact(schema) == PINNED[tool.name]
    assert sorted(schema.get("required", [])) == sorted(REQUIRED[tool.name])
    assert tool.response_format == "content_and_artifact"
    assert tool.description.startswith(("Write", "Generate", "Repaint", "Compose"))


def test_tools_return_text_for_the_planner_and_keep_the_artifact(monkeypatch, tmp_path):
    import tools.compose_music as tool

    class Art:
        summary = "Composed 8 bars"

    got = []
    monkeypatch.setattr(tool, "run", lambda args, ctx: got.append((ctx.tool_name, args)) or Art())
    ctx = ToolContext("c1", tmp_path, 1, emit=lambda e: None, should_stop=lambda: False, host=ModelHost({}),
                      settings=TurnSettings())
    msg = registry.spec("compose_music").tool.invoke(
        {"name": "compose_music", "args": {"bars": 8, "key": "d minor"}, "id": "c1", "type": "tool_call"},
        config={"configurable": {"arsnova_ctx": ctx}})
    assert isinstance(msg, ToolMessage) and msg.content == "Composed 8 bars" and isinstance(msg.artifact, Art)
    assert got == [("compose_music", {"bars": 8, "key": "D minor"})]


@pytest.mark.parametrize("tool,args,fragment", [
    ("compose_music", {"bars": 10**9}, "bars: Input should be less than or equal to 128"),
    ("compose_music", {"tempo": -5}, "tempo: Input should be greater than or equal to 20"),
    ("compose_music", {"key": "Z minor"}, "write it like 'D minor'"),
    ("compose_music", {"instrument": "theremin"}, "unknown instrument 'theremin'"),
    ("compose_music", {"bars": "many"}, "bars: Input should be a valid integer"),
    ("compose_music", {"colour": "red"}, "colour: unknown argument; compose_music accepts mood, key"),
    ("write_poem", {"topic": "x", "lines": 10_000}, "lines: Input should be less than or equal to 60"),
    ("write_poem", {"topic": "x", "lines": 0}, "lines: Input should be greater than or equal to 1"),
    ("write_poem", {"topic": "x", "form": "epic"}, "form: Input should be"),
    ("generate_image", {"prompt": "x", "steps": 10**9}, "steps: Input should be less than or equal to 200"),
    ("generate_image", {"prompt": "x", "width": 100000}, "width: Input should be less than or equal to 2048"),
    ("style_transfer", {"content_image": "a\x00b", "style_image": "s"}, "must not contain NUL bytes"),
])
def test_bad_arguments_name_the_field_and_range(tool, args, fragment):
    with pytest.raises(ValidationError) as e:
        registry.spec(tool).schema.model_validate(args)
    assert fragment in registry.validation_message(tool, e.value)
