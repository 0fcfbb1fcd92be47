"""The rewriting poet (models/poetry/rewrite.py) on the tiny poet: real sentences of its own corpus,
rewritten under the form, with no corpus 5-gram left, and more rewritten each round."""

import shutil
from dataclasses import replace

import numpy as np
import pytest

from models.poetry import prosody
from models.poetry.forms import plan_form


from models.poetry.rewrite import RewriteSettings

# the tiny vocabulary has few rhymes to spare; the tiny critic is untrained, so every segment would
# read "weak" and draw the wider search (which makes round 0 and round 2 pick different sources)
TINY = RewriteSettings(spare_partners=0, weak_sense=0.0)


@pytest.fixture(scope="module")
def rkit(tiny_weights, encoder, tmp_path_factory):
    """The tiny weights with a unit store made of the tiny corpus's own lines, as sentences."""
    from models.poetry.kit import REWRITE, load_poet_kit
    from models.poetry.training.units import sentence_units, write_store
    from tests.tiny import tiny_verse_lines

    weights = tmp_path_factory.mktemp("rw") / "weights"
    shutil.copytree(tiny_weights, weights)
    lines = tiny_verse_lines()  # the corpus the tiny poet and its n-gram indexes were made from
    passage = ["The end is near."]
    for k, ln in enumerate(lines[:600]):  # sentences of one, two and three lines
        passage.append(ln + ".,.,,."[k % 6])
    units = sentence_units(passage, lambda w: True)
    assert len(units) > 250 and {len(u) for u in units} == {1, 2, 3}
    write_store(units, weights / "poet")
    return load_poet_kit(weights, REWRITE, encoder, tmp_path_factory.mktemp("cache"))


def test_sentence_units_begin_and_end_with_a_sentence():
    from models.poetry.training.units import sentence_units

    p = ["and so it went.", "The sea is cold,", "the wind is high.", "It ends", "And STATIUS says.", "A last one here!"]
    assert sentence_units(p, lambda w: True) == [["The sea is cold,", "the wind is high."], ["A last one here!"]]


WIDE = replace(TINY, right_context=True, joint=6, weak_units=6)  # the off-by-default scoring, still kept


@pytest.mark.parametrize("form,settings", [("free", TINY), ("quatrain", TINY), ("couplet", TINY), ("quatrain", WIDE)])
def test_rewritten_poems_keep_the_form_end_a_sentence_and_copy_no_5gram(rkit, form, settings):
    from models.poetry.corpus import word_ids
    from tools.critics.poetry import copied_lines, finished_sentence, form_match

    plan = plan_form(form, rng=np.random.default_rng(0))
    poem = rkit.poet.write("a storm at sea", plan, seed=1, settings=settings)
    assert poem.route == "rewrite r0" and poem.sources  # it says what it imitated
    f = form_match(poem.lines, plan)
    assert f["syllables_ok"] == 1.0 and f["rhymes_ok"] == 1.0 and f["line_count_ok"] == 1.0, poem.lines
    assert finished_sentence(poem.lines)
    assert rkit.indexes[5].copy_rate(word_ids(" ".join(poem.lines))) == 0.0
    assert copied_lines(poem.lines, rkit.indexes[5]) == 0


def test_later_rounds_rewrite_more_of_the_same_sources(rkit):
    plan = plan_form("free", 6)
    polls = [rkit.poet.write("the old hill at dawn", plan, seed=2, settings=replace(TINY, round=r)) for r in (0, 2)]

    def kept(poem):  # words left where they were in the source lines
        src = [ln for u in poem.sources for ln in u.split("\n")]
        pairs = [(a, b) for s, ln in zip(src, poem.lines) for a, b in zip(prosody.line_words(s), prosody.line_words(ln))]
        assert len(src) == len(poem.lines)
        return sum(a == b for a, b in pairs) / len(pairs)

    assert polls[1].route == "rewrite r2" and kept(polls[1]) < kept(polls[0])
    assert rkit.poet.write("the old hill at dawn", plan, seed=2, settings=TINY).lines == polls[0].lines  # seeded


def test_write_poem_takes_the_rewrite_route_as_a_poet_spec(rkit, tmp_path):
    from tests.tiny import run_tool

    host_weights = rkit.home.parent
    from tools.host import make_host

    host = make_host(host_weights, cache_dir=tmp_path / "cache")
    art = run_tool("write_poem", {"topic": "a storm at sea", "form": "free", "lines": 4, "seed": 3}, tmp_path, host, poet="rewrite")
    assert "route: rewrite r" in (tmp_path / art.files["poem"]).read_text()
    rounds = [r.params.get("rewrite_round") for r in art.trajectory]
    assert rounds == list(range(len(rounds))) and rounds[0] == 0  # (it stops once novelty is reached)
