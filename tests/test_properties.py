"""Property tests: hostile input to the brief parser and tool schemas only ever ends in a clear error."""

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agent.brief import BriefError, parse_brief
from tools import registry

yaml_ish = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.lists(st.text(max_size=40), max_size=8).map(lambda xs: ("turns:\n" + "".join(f"  - {x}\n" for x in xs)).encode()),
    st.dictionaries(st.sampled_from(["title", "seed", "turns", "planner", "export", "x"]),
                    st.one_of(st.integers(), st.text(max_size=20), st.lists(st.integers(), max_size=3), st.none()),
                    max_size=5).map(lambda d: "\n".join(f"{k}: {v!r}" for k, v in d.items()).encode()),
)


@settings(max_examples=400, deadline=None)
@given(yaml_ish)
def test_brief_parser_never_crashes(raw):
    try:
        b = parse_brief(raw, "fuzz.yaml")
    except BriefError as e:
        assert str(e).startswith("fuzz.yaml") and "\n" not in str(e)
    else:
        assert b.turns and all(isinstance(t, str) and t for t in b.turns)


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                                     st.text(max_size=30)),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                           max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(registry.names())),
       st.dictionaries(st.sampled_from(["topic", "form", "lines", "prompt", "width", "steps", "key", "bars", "tempo",
                                        "meter", "instrument", "content_image", "style_image", "seed", "strength",
                                        "evil"]), json_values, max_size=6))
def test_tool_arguments_validate_or_explain(tool, args):
    try:
        registry.spec(tool).schema.model_validate(args)
    except ValidationError as e:
        msg = registry.validation_message(tool, e)
        assert msg.startswith(f"invalid arguments for {tool}: ")
