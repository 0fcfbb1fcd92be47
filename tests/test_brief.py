"""Brief parsing: good briefs load; bad ones give one line naming file, line and field."""

import pytest

from agent.brief import MAX_BRIEF_BYTES, BriefError, load_brief, parse_brief


def test_a_full_brief_loads(tmp_path):
    p = tmp_path / "autumn.yaml"
    p.write_text("title: Autumn set\nseed: 7\nplanner: router\nturns:\n  - Write a haiku about autumn rain.\n"
                 "  - Compose 16 bars of slow piano music in D minor.\nexport: out/autumn\n")
    b = load_brief(p)
    assert b.title == "Autumn set" and b.seed == 7 and b.planner == "router" and b.export == "out/autumn"
    assert b.turns == ("Write a haiku about autumn rain.", "Compose 16 bars of slow piano music in D minor.")
    assert parse_brief(b.to_yaml().encode()).turns == b.turns


@pytest.mark.parametrize("text,fragment", [
    ("turns:\n  - a\n  - [b\n", "b.yaml:3: invalid YAML"),
    ("title: x\n", "b.yaml:1: field 'turns' is missing"),
    ("turns: hello\n", "b.yaml:1: field 'turns' must be a list"),
    ("title: x\nturns: []\n", "b.yaml:2: field 'turns' is empty"),
    ("turns:\n  - 5\n", "message 1 must be text, got int"),
    ("turns:\n  - '   '\n", "message 1 is empty"),
    ("seed: -1\nturns: [a]\n", "b.yaml:1: field 'seed' must be a whole number"),
    ("seed: lots\nturns: [a]\n", "field 'seed' must be a whole number"),
    ("turns: [a]\ncolour: red\n", "b.yaml:2: field 'colour' is not a brief field"),
    ("- a\n- b\n", "a brief is a mapping"),
    ("turns:\n  - !!python/object/apply:os.system ['echo hi']\n", "b.yaml:2: YAML tag !!python/object/apply:os.system is not allowed"),
    ("a: &a ['x','x']\nb: &b [*a,*a]\nturns: [*b]\n", "b.yaml:1: YAML anchors and aliases are not allowed"),
])
def test_bad_briefs(tmp_path, text, fragment):
    p = tmp_path / "b.yaml"
    p.write_text(text)
    with pytest.raises(BriefError) as e:
        load_brief(p)
    assert fragment in str(e.value)
    assert "\n" not in str(e.value)


def test_limits(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_bytes(b"turns:\n" + b"  - hello\n" * (MAX_BRIEF_BYTES // 10 + 1))
    with pytest.raises(BriefError, match="over the 262144 byte limit"):
        load_brief(p)
    many = tmp_path / "many.yaml"
    many.write_text("turns:\n" + "  - x\n" * 10_000)
    with pytest.raises(BriefError, match="has 10000 messages; the limit is 200"):
        load_brief(many)
    with pytest.raises(BriefError, match="not valid UTF-8"):
        parse_brief(b"turns:\n  - caf\xe9\n", "latin1.yaml")
    with pytest.raises(BriefError, match="no such brief file"):
        load_brief(tmp_path / "missing.yaml")


def test_non_utf8_and_ten_thousand_turns(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_bytes(b"turns:\n  - caf\xe9 au lait\n")
    with pytest.raises(BriefError, match=r"b.yaml:2: not valid UTF-8 \(byte 14\); save the brief as UTF-8"):
        load_brief(p)
    p.write_text("turns:\n" + "  - hello\n" * 10_000)
    with pytest.raises(BriefError, match="has 10000 messages; the limit is 200"):
        load_brief(p)
