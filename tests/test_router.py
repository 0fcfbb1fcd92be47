"""The semantic router on the real MiniLM encoder: tools, multi-requests, slots, context."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from tools import slots
from agent.router import RouterChatModel


@pytest.fixture(scope="module")
def router():
    from models.common.encoder import load_encoder

    return RouterChatModel(load_encoder())


def plan(router, text, history=()):
    msg = router.invoke([*history, HumanMessage(text)])
    return [(c["name"], c["args"]) for c in msg.tool_calls], msg


CASES = [
    ("Compose 16 bars of slow piano music in D minor", ["compose_music"]),
    ("I need a jaunty little melody for the violin in 6/8", ["compose_music"]),
    ("could you whistle up a reel for the fiddle", ["compose_music"]),
    ("a Bach chorale in A minor", ["compose_music"]),
    ("sing me something in E flat major at 90 bpm for 8 bars", ["compose_music"]),
    ("write a haiku about first snow", ["write_poem"]),
    ("could you put some words together about grief, in sonnet form", ["write_poem"]),
    ("twelve lines about the ocean", ["write_poem"]),
    ("pen a limerick concerning a forgetful cat", ["write_poem"]),
    ("render a lighthouse at night", ["generate_image"]),
    ("draw me a red apple", ["generate_image"]),
    ("show me a blue car on a sunny road", ["generate_image"]),
    ("write a poem about this painting", ["write_poem"]),  # what is asked for, not what it is about
    ("a poem about a picture", ["write_poem"]),
    ("draw a picture about my poem", ["generate_image"]),
    ("an image of a blue car", ["generate_image"]),
    ("repaint the last image in the style of the scream", ["style_transfer"]),
    ("restyle photo.jpg like starry night", ["style_transfer"]),
    ("make my photo cat.png look like starry_night.jpg", ["style_transfer"]),
    ("repaint it in the style of the great wave", ["style_transfer"]),
    ("a haiku about first snow, a matching picture, and a slow piano piece in D minor",
     ["write_poem", "generate_image", "compose_music"]),
    ("a poem and a folk tune", ["write_poem", "compose_music"]),
    ("hello there", []),
    ("what can you do?", []),
]


@pytest.mark.parametrize("text,tools", CASES)
def test_router_picks_the_tools(router, text, tools):
    calls, msg = plan(router, text)
    assert [c[0] for c in calls] == tools
    if not tools:
        assert "poems" in msg.content  # answers in words


def test_topics_with_and_stay_one_request(router):
    calls, _ = plan(router, "a poem about salt and pepper")
    assert calls == [("write_poem", {"topic": "salt and pepper", "form": "free"})] or \
        calls == [("write_poem", {"topic": "salt and pepper"})]


@pytest.mark.parametrize("text,args", [
    ("a haiku about snow, seed 4", {"topic": "snow", "form": "haiku", "seed": 4}),
    ("a quatrain about autumn in AABB", {"topic": "autumn", "form": "quatrain"}),
    ("write a 12-line poem about trains", {"topic": "trains", "form": "free", "lines": 12}),
    ("a sonnet about the sea at night", {"topic": "the sea at night", "form": "sonnet"}),
])
def test_poem_slots_keep_the_topic_clean(router, text, args):
    calls, _ = plan(router, text)
    assert calls == [("write_poem", args)]


def test_music_slots(router):
    calls, _ = plan(router, "a slow waltz in G minor for violin, 12 bars, seed 9")
    name, args = calls[0]
    assert name == "compose_music"
    assert args == {"mood": "slow", "key": "G minor", "tempo": 72, "bars": 12, "meter": "3/4",
                    "instrument": "violin", "seed": 9}


def test_primer_and_model_slots(router):
    calls, _ = plan(router, "continue primer.mid for eight bars with the rnn")
    assert calls == [("compose_music", {"bars": 8, "primer_midi": "primer.mid", "model": "rnn"})]


def test_matching_picture_uses_the_poem_topic(router):
    calls, _ = plan(router, "a poem about the sea and a picture to go with it")
    assert calls[1] == ("generate_image", {"prompt": "the sea"})


def test_revision_reuses_the_previous_call(router):
    history = [HumanMessage("compose a jig in D major"),
               AIMessage("", tool_calls=[{"name": "compose_music", "args": {"key": "D major", "meter": "6/8"}, "id": "c0"}])]
    calls, msg = plan(router, "make the music less conventional", history)
    assert calls == [("compose_music", {"key": "D major", "meter": "6/8"})]
    assert msg.additional_kwargs["arsnova_revisions"] == [{"tool": "compose_music", "direction": "more_novel"}]


def test_revise_direction_names_a_poet(router):
    history = [HumanMessage("a poem about rain"),
               AIMessage("", tool_calls=[{"name": "write_poem", "args": {"topic": "rain"}, "id": "c0"}])]
    _, msg = plan(router, "make the poem more like Dickinson", history)
    rev = msg.additional_kwargs["arsnova_revisions"][0]
    assert rev["like"] == "Dickinson" and rev["direction"] == ""


def test_router_is_deterministic(router):
    text = "a haiku about the moon and a lively jig"
    assert plan(router, text)[0] == plan(router, text)[0]


@pytest.mark.parametrize("text,key", [("in D minor", "D minor"), ("in f#", "F# major"), ("B-flat major", "Bb major"),
                                      ("in Ebm", "Eb minor"), ("in a dreamy mood", None), ("in C", "C major"),
                                      ("A minor", "A minor"), ("key of G", "G major")])
def test_key_slot(text, key):
    assert slots.music_key(text) == key


@pytest.mark.parametrize("text,expected", [("16 bars", 16), ("sixteen measures", 16), ("8-bar", 8), ("no length", None)])
def test_bars_slot(text, expected):
    assert slots.bars(text) == expected


@pytest.mark.parametrize("text,expected", [("at 96 bpm", 96), ("allegro", 132), ("very slow", 55), ("tempo 140", 140)])
def test_tempo_slot(text, expected):
    assert slots.tempo(text) == expected


def test_paths_and_last_image():
    assert slots.paths('style "my photos/cat.png" after ../art/wave.JPG') == ["my photos/cat.png", "../art/wave.JPG"]
    assert slots.mentions_last_image("restyle the last image")
