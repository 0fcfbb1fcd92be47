"""Issue 20: the sense critic, the lexicon, finished sentences, topic words, revision that cannot
make a poem worse. Real classes at toy size: the tiny poet made by the real pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from models.poetry import prosody
from models.poetry.forms import plan_form


@pytest.fixture(scope="module")
def kit(tiny_weights, encoder, tmp_path_factory):
    from models.poetry.kit import load_poet_kit

    return load_poet_kit(tiny_weights, None, encoder, tmp_path_factory.mktemp("cache"))


def write(kit, form, seed=0, topic="a storm at sea"):
    from models.poetry.poet import SampleSettings

    return kit.poet.write(topic, plan_form(form), seed=seed, settings=SampleSettings(candidates=8))


def test_lexicon_knows_words_and_their_prefixes(tmp_path):
    import json

    from models.poetry.lexicon import load_lexicon

    (tmp_path / "lexicon_extra.json").write_text(json.dumps({"min_count": 3, "words": ["whilom"]}))
    lex = load_lexicon(tmp_path)
    assert lex.known("sea") and lex.known("Sea's") and lex.known("whilom")
    assert not lex.known("brutters") and not lex.known("gloofs")
    assert lex.prefix_ok("bru") and lex.prefix_ok("whil") and not lex.prefix_ok("brutt")


def test_sampler_refuses_words_outside_the_lexicon(kit):
    poet = kit.poet
    assert poet._in_lexicon("The dark ", "sea") and poet._in_lexicon("The dark se", "a ")
    assert not poet._in_lexicon("The dark ", "glo" + "ofs")  # no word starts so
    assert not poet._in_lexicon("The dark seax", " ")  # closes an unknown word
    assert not poet._in_lexicon("The dark ", "Kau\u015b")  # CMUdict spells in ASCII
    for seed in range(3):
        poem = write(kit, "tanka", seed=seed)
        assert all(poet.lexicon.known(w) for ln in poem.lines for w in prosody.line_words(ln))


@pytest.mark.parametrize("form", ["haiku", "sonnet", "villanelle"])
def test_poems_end_on_a_finished_sentence(kit, form):
    from tools.critics.poetry import finished_sentence

    poem = write(kit, form, seed=1)
    assert finished_sentence(poem.lines), poem.lines[-1]


def test_finished_sentence():
    from tools.critics.poetry import finished_sentence

    assert finished_sentence(["a", "The end."]) and finished_sentence(["Is it?\u201d"])
    assert not finished_sentence(["The end of the,"]) and not finished_sentence(["and then"])


def test_a_topic_word_is_in_the_poem(kit):
    for topic in ("a storm at sea", "the moon and the stars"):
        words = kit.poet.topic_words(topic)
        assert {"storm", "sea"} <= kit.poet.topic_words("a storm at sea")
        poem = write(kit, "haiku", topic=topic)
        assert any(w in words for ln in poem.lines for w in prosody.line_words(ln)), (topic, poem.lines)


def test_roc_auc_is_the_pairwise_ranking_probability():
    from models.poetry.training.sense_train import roc_auc

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    s = rng.normal(size=60) + y
    pairs = [(a > b) + 0.5 * (a == b) for a in s[y == 1] for b in s[y == 0]]
    assert roc_auc(y, s) == pytest.approx(np.mean(pairs))
    assert roc_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.2, 0.1])) == 1.0


def test_hard_negatives_shuffle_and_substitute():
    from models.poetry.training.sense_train import shuffled, substituted

    rng = np.random.default_rng(0)
    w = ["The dark sea falls upon the stone,"]
    sh = shuffled(w, rng)[0]
    assert sorted(sh.rstrip(",").split()) == sorted(w[0].rstrip(",").split()) and sh != w[0] and sh.endswith(",")
    sub = substituted(w, ["apple"], rng, p=1.0)[0]
    assert sub.lower().split() == ["apple"] * 6 + ["apple,"]


def test_a_sense_head_trained_on_the_tiny_poet_tells_verse_from_word_salad(kit):
    """The real training loop at toy size: the tiny poet's features separate its corpus lines from
    the same lines word-shuffled, on lines it did not train the head on."""
    import torch

    from models.poetry.corpus import KW, POEM
    from models.poetry.sense import SenseConfig, SenseCritic, build_head
    from models.poetry.training.sense_train import fit_head, roc_auc, shuffled
    from tests.tiny import tiny_verse_lines

    torch.manual_seed(0)
    lm = kit.poet.lm
    cfg = SenseConfig(features=lm.model.config.n_embd + 1, hidden=16)
    critic = SenseCritic(lm.model, lm.tokenizer, build_head(cfg), cfg,
                         lm.tokenizer.encode(KW + POEM, add_special_tokens=False))
    rng = np.random.default_rng(0)
    lines = tiny_verse_lines(500, seed=7)

    def items(ls):
        return [(ln, 1, "real") for ln in ls] + [(shuffled([ln], rng)[0], 0, "shuffled") for ln in ls]

    _, history, (y, p, _) = fit_head(critic, items(lines[:400]), items(lines[400:]), epochs=4, log=lambda *_: None)
    assert roc_auc(y, p) > 0.8 and len(history) == 4
    s = critic.poem(lines[400:403])
    assert len(s.lines) == 3 and 0 <= s.score <= 1


def test_sense_is_part_of_quality(kit):
    from models.poetry.sense import PoemSense
    from tools.critics.poetry import PoemContext, poem_scores

    plan = plan_form("haiku")
    lines = ["The cold sea falls down", "And the dark stone sleeps in night", "O bright moon, my star."]
    ctx = PoemContext(plan, kit.indexes, np.zeros(3), (), 4.0, sense_floor=0.6)
    vec = np.ones(4) / 2
    good = poem_scores(lines, 3.0, 0.5, vec, ctx, PoemSense(0.8, (0.8, 0.8, 0.8)))
    bad = poem_scores(lines, 3.0, 0.5, vec, ctx, PoemSense(0.1, (0.1, 0.1, 0.1)))
    assert good.metrics["syllables_ok"] == bad.metrics["syllables_ok"] == 1.0
    assert good.quality == pytest.approx(1.0) and bad.quality < 0.75
    assert bad.metrics["sense_lines"] == [0.1, 0.1, 0.1] and bad.metrics["finished_sentence"]


def test_quality_gives_full_sense_marks_only_above_real_verse(kit):
    """With real verse's quartiles known, sense counts as the share of real passages it beats: a poem
    as sensible as real verse's lower quartile no longer scores 1.00 (it did: 23 of 34 blind-judged
    poems the reader gave 1-3 of 5 scored 1.00)."""
    from models.poetry.sense import PoemSense
    from tools.critics.poetry import PoemContext, poem_scores, sense_percentile

    real = (0.575, 0.69, 0.775)
    assert sense_percentile(0.575, real) == pytest.approx(0.25) and sense_percentile(0.69, real) == pytest.approx(0.5)
    assert sense_percentile(0.1, real) < 0.05 and sense_percentile(0.95, real) > 0.9
    plan = plan_form("haiku")
    lines = ["The cold sea falls down", "And the dark stone sleeps in night", "O bright moon, my star."]
    ctx = PoemContext(plan, kit.indexes, np.zeros(3), (), 4.0, 0.575, real)
    vec = np.ones(4) / 2
    q = {v: poem_scores(lines, 3.0, 0.5, vec, ctx, PoemSense(v, (v, v, v))).quality for v in (0.3, 0.6, 0.75, 0.99)}
    assert q[0.3] < q[0.6] < q[0.75] < q[0.99] and q[0.6] < 0.9 and q[0.99] > 0.98
    old = PoemContext(plan, kit.indexes, np.zeros(3), (), 4.0, 0.575)  # no quartiles: the floor's band
    assert poem_scores(lines, 3.0, 0.5, vec, old, PoemSense(0.6, (0.6,) * 3)).quality == pytest.approx(1.0)


def test_revision_never_keeps_a_poem_worse_than_round_0():
    from tools.artifacts import Scores
    from tools.revise import ReviseConfig, revise
    from tools.write_poem import never_worse

    def scores(sense, novelty):
        return Scores(0.9, novelty, 0.9, {"sense": sense, "syllables_ok": 1.0, "rhymes_ok": 1.0,
                                          "line_count_ok": 1.0})

    table = {"r0": scores(0.6, 0.5), "worse": scores(0.4, 0.99), "better": scores(0.7, 0.8)}
    cfg = ReviseConfig(max_rounds=2, candidates=1, quality_floor=0.5, adherence_floor=0.5, target=0.999)
    rounds = {1: ["worse"], 2: ["better"]}
    out = revise(["r0"], {}, lambda r, n: (rounds[r], {}), table.__getitem__, cfg, keeps=never_worse)
    assert out.best == "better" and [r.chosen for r in out.trajectory] == [True, False, True]
    only_worse = revise(["r0"], {}, lambda r, n: (["worse"], {}), table.__getitem__, cfg, keeps=never_worse)
    assert only_worse.best == "r0" and only_worse.best_round == 0


def test_adversarial_negatives_are_split_by_topic_and_read_as_the_critic_reads(tmp_path):
    """The critic-in-the-loop poems (bench/poetry_eval.py --split critic): no topic in both halves,
    each poem once, the kept poem marked; windows are each line with up to two lines before it."""
    import json

    from models.poetry.training.sense_train import line_windows, loop_poems

    rows = [{"topic": f"t{i}", "form": "haiku", "kept": {"lines": [f"k{i}", "b"]},
             "written": [[f"r{i}", "b"], [f"k{i}", "b"]]} for i in range(8)]
    path = tmp_path / "neg.json"
    path.write_text(json.dumps({"poems": rows}))
    train, test = loop_poems(path, seed=0)
    assert len(test) == 2 * 2 and len(train) == 6 * 2  # 25% of topics; the kept poem not twice
    topics = lambda half: {ln[0][1:] for ln, _ in half}  # noqa: E731
    assert not topics(train) & topics(test)
    assert sum(kept for _, kept in train + test) == 8
    assert line_windows(["a", "b", "c", "d"]) == [["a"], ["a", "b"], ["a", "b", "c"], ["b", "c", "d"]]


def test_stitched_and_fragment_negatives():
    """The rewriter's hard negatives: a window cut where one passage's sentence ends and finished
    from another passage; fragment lists made of other lines' chunks, ending a line as verse does."""
    from models.poetry.training.sense_train import fragments, stitched

    rng = np.random.default_rng(0)
    a = ["The night is dark upon the sea.", "And all the stars are gone away,", "I wait for thee."]
    b = ["He rode into the town at noon,", "His horse was white as any snow."]
    assert stitched(a, b, rng) == a[:1] + b  # cut after the first sentence
    assert stitched(a[:1], b, rng) == a[:1] + b[:1]  # a one-line window still gets a stranger's line
    for _ in range(20):
        frag = fragments(a, [a, b], rng)
        assert len(frag) == len(a) and sum(ln not in a for ln in frag) >= len(a) - 1
        assert any("," in ln for ln in frag if ln not in a)


def test_the_shipped_critic_hears_a_nonsense_limerick():
    """Issue 20's rewritten limerick that read as nonsense ("Ding, dong, rose, the dog is in the
    town!") scored sense 0.97 with the first critic, above most real passages. The critic trained
    on the rewriter's own kinds of failure (stitched sentences, LM-guided substitutions, fragment
    lists, rewritten poems) must put it below the lower quartile of real held-out passages of its length."""
    from models.common.runtime import default_weights_dir
    from models.poetry.sense import heldout_passages, load_sense_critic
    from models.poetry.training.sense_train import NONSENSE_LIMERICK

    home = default_weights_dir() / "poet"
    critic = load_sense_critic(home)
    if critic is None:
        pytest.skip("the shipped sense critic is not installed")
    real = [p[:2] for p in heldout_passages(home)[:120] if len(p) >= 2]
    real_scores = np.array([critic.poem(p).score for p in real])
    nonsense = critic.poem(list(NONSENSE_LIMERICK)).score
    assert nonsense < np.percentile(real_scores, 25), (nonsense, np.percentile(real_scores, 25))
    assert nonsense < 0.5
