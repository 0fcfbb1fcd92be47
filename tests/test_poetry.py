"""The poet: prosody, form plans, constrained sampling on tiny real models, critics, the page, the tool."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from models.poetry import prosody
from models.poetry.forms import FormError, plan_form, rhyme_groups, style_profile


# ---- prosody -------------------------------------------------------------------------------
def test_cmudict_counts_stress_and_rhyme():
    assert prosody.syllables("river") == 2 and prosody.syllables("night") == 1
    assert prosody.syllable_options("fire") == (1, 2)
    assert prosody.stress("beautiful") == "100"
    assert prosody.rhymes("night", "bright") and prosody.rhymes("delight", "night")
    assert not prosody.rhymes("night", "night") and not prosody.rhymes("dark", "star")
    assert prosody.line_syllables("Shall I compare thee to a summer's day?") == 10
    assert prosody.meter_fit("Shall I compare thee to a summer's day?", "01") == 1.0
    assert prosody.meter_fit("Tyger Tyger, burning bright", "01") == 0.0  # trochaic


def test_unknown_words_get_an_estimate():
    assert "glorptastic" not in prosody._cmu()
    assert prosody.syllables("glorptastic") == 3 and prosody.syllables("zzk") == 1
    assert prosody.syllables("flambered") == 2  # silent -ed
    assert prosody.rhymes("glorptastic", "blorptastic")  # spelling stand-in


def test_rhyme_letters_group_rhyming_ends():
    assert prosody.rhyme_letters(["the night", "a star", "so bright", "from far", "and then"]) == list("ABABC")


# ---- forms ---------------------------------------------------------------------------------
@pytest.mark.parametrize("form,n,scheme", [
    ("haiku", 3, "---"), ("tanka", 5, "-----"), ("cinquain", 5, "-----"), ("limerick", 5, "AABBA"),
    ("sonnet", 14, "ABABCDCDEFEFGG"), ("couplet", 2, "AA"), ("free", 8, "--------"),
])
def test_form_plans(form, n, scheme):
    plan = plan_form(form)
    assert len(plan.lines) == n and plan.scheme == scheme


def test_haiku_and_sonnet_syllables_and_villanelle_refrains():
    assert [s.syllables for s in plan_form("haiku").lines] == [(5, 5), (7, 7), (5, 5)]
    assert all(s.syllables == (10, 10) for s in plan_form("sonnet").lines)
    v = plan_form("villanelle")
    assert len(v.lines) == 19 and [s.refrain for s in v.lines].count("A1") == 4
    assert rhyme_groups(v) == {"A": 7, "B": 6}
    assert plan_form("quatrain", 8, scheme="AABB").scheme == "AABBCCDD"
    assert plan_form("free", 20).lines[0].syllables == (4, 12)


@pytest.mark.parametrize("form,lines,fragment", [
    ("epic", None, "unknown form 'epic'; use one of free, haiku"),
    ("free", 0, "lines must be between 1 and 60 (got 0)"),
    ("free", 10_000, "lines must be between 1 and 60"),
    ("sonnet", 10, "a sonnet has 14 lines; omit lines, or use form free for 10 lines"),
    ("couplet", 3, "lines must be even"),
    ("quatrain", 6, "multiple of 4"),
])
def test_bad_form_arguments_say_what_is_allowed(form, lines, fragment):
    with pytest.raises(FormError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        plan_form(form, lines)


def test_style_profiles():
    d = style_profile("Emily Dickinson")
    assert d.form == "quatrain" and d.scheme == "ABCB" and d.meter == (8, 6, 8, 6)
    assert style_profile("Keats's").name == "John Keats"
    with pytest.raises(FormError, match="known poets: basho, blake"):
        style_profile("Zanzibar")


# ---- the poet on tiny real models ------------------------------------------------------------
@pytest.fixture(scope="module")
def kit(tiny_weights, encoder, tmp_path_factory):
    from models.poetry.kit import load_poet_kit

    return load_poet_kit(tiny_weights, None, encoder, tmp_path_factory.mktemp("cache"))


def write(kit, form, seed=0, **kw):
    from models.poetry.poet import SampleSettings

    return kit.poet.write("a storm at sea", plan_form(form), seed=seed, settings=SampleSettings(candidates=8, **kw))


def test_tiny_poet_was_made_by_the_real_pipeline(tiny_weights):
    import json

    from transformers import GPT2LMHeadModel

    home = tiny_weights / "poet"
    card = json.loads((home / "training.json").read_text())
    assert card["train_step"] == 200 and card["tokens_seen"] == 200 * 8 * 96 and 0 < card["val_nll"] < 3
    model = GPT2LMHeadModel.from_pretrained(home)
    assert model.config.n_layer == 2 and (home / "tokenizer.json").exists()


@pytest.mark.parametrize("form", ["haiku", "tanka", "cinquain"])
def test_syllable_forms_are_exact(kit, form):
    poem = write(kit, form)
    assert [prosody.line_syllables(ln) for ln in poem.lines] == [s.syllables[0] for s in plan_form(form).lines]
    assert all(r.ok for r in poem.line_results) and poem.title


def test_sonnet_rhymes_on_its_scheme_with_ten_syllable_lines(kit):
    from tools.critics.poetry import form_match

    poem = write(kit, "sonnet", seed=3)
    plan = plan_form("sonnet")
    assert len(poem.lines) == 14 and poem.stanzas == (4, 4, 4, 2)
    f = form_match(poem.lines, plan)
    assert f["rhymes_ok"] == 1.0 and f["syllables_ok"] == 1.0 and f["rhyme_pairs"] == 7
    # and the lines' own rhyme letters reproduce ABAB CDCD EFEF GG
    assert "".join(prosody.rhyme_letters(poem.lines)) == "ABABCDCDEFEFGG"


def test_limerick_and_villanelle(kit):
    lim = write(kit, "limerick", seed=1)
    assert "".join(prosody.rhyme_letters(lim.lines)) == "AABBA"
    v = write(kit, "villanelle", seed=2)
    assert v.lines[0] == v.lines[5] == v.lines[11] == v.lines[17] and v.lines[2] == v.lines[8] == v.lines[18]


def test_same_seed_same_poem_other_seed_other_poem(kit):
    assert write(kit, "haiku", seed=5).lines == write(kit, "haiku", seed=5).lines
    assert write(kit, "haiku", seed=5).lines != write(kit, "haiku", seed=6).lines


def test_ngram_blocking_rejects_corpus_ngrams(kit):
    from models.poetry.corpus import word_ids

    idx = kit.indexes[4]
    plain = [write(kit, "free", seed=s) for s in range(3)]
    blocked = [write(kit, "free", seed=s, block_n=4) for s in range(3)]

    def rate(poems):
        return float(np.mean([idx.copy_rate(word_ids(" ".join(p.lines))) for p in poems]))

    assert rate(blocked) < rate(plain)
    for p in blocked:  # within each line no 4-gram of the corpus survives
        for ln, r in zip(p.lines, p.line_results):
            ids = word_ids(ln)
            if r.ok and len(ids) >= 4:
                assert not idx.copied(ids).any(), ln


def test_cancel_between_lines(kit):
    from models.common.errors import Cancelled
    from models.poetry.poet import SampleSettings

    seen = []
    with pytest.raises(Cancelled):
        kit.poet.write("rain", plan_form("sonnet"), settings=SampleSettings(candidates=4),
                       on_line=lambda i, t: seen.append(i), cancelled=lambda: len(seen) >= 2)
    assert seen == [0, 1]


def test_any_causal_lm_directory_and_gguf_is_a_poet(tmp_path, encoder, tiny_weights):
    """A user's own model (here a tiny Qwen2 saved with save_pretrained, and the same as GGUF) writes
    through the same code, with a plain-text prompt instead of keyword conditioning."""
    from models.poetry.kit import load_poet_kit
    from models.poetry.poet import Poet
    from tests.tiny import make_tiny_chat_model, make_tiny_gguf

    d = make_tiny_chat_model(tmp_path / "qwen")
    for spec in (f"hf:{d}", f"hf:{d}#{make_tiny_gguf(d).name}"):
        kit = load_poet_kit(tiny_weights, spec, encoder, tmp_path / "cache")
        assert not kit.poet.lm.keyword_prompt and kit.model_id == spec
        poem = write(kit, "haiku", seed=1)
        assert isinstance(kit.poet, Poet) and len(poem.lines) == 3
        assert [prosody.line_syllables(ln) for ln in poem.lines] == [5, 7, 5]


def test_a_poet_served_by_an_openai_compatible_engine(tmp_path, encoder, tiny_weights):
    """--poet openai:URL#MODEL: lines come from the server's completions (n choices, seed,
    log-probabilities) and the form is kept by choosing among them; a dead server is one clear error."""
    from models.common.errors import ModelFileError
    from models.poetry.kit import load_poet_kit
    from tests.tiny import make_tiny_chat_model, serve_completions

    url, server = serve_completions(make_tiny_chat_model(tmp_path / "qwen"))
    try:
        kit = load_poet_kit(tiny_weights, f"openai:{url}#tiny", encoder, tmp_path / "cache")
        assert kit.model_id == f"openai:{url}#tiny"
        poem = write(kit, "couplet", seed=2, max_line_tokens=16)
        assert len(poem.lines) == 2 and all(ln.strip() for ln in poem.lines)
        assert all(r["n"] >= 2 and r["stop"] == ["\n"] and r["logprobs"] == 1 for r in server.requests)
        assert server.requests[0]["prompt"].startswith("A couplet about")
        assert kit.poet.lm.nll(None, "\n".join(poem.lines)) > 0  # fluency from the served log-probs
        again = write(kit, "couplet", seed=2, max_line_tokens=16)
        assert again.lines == poem.lines  # the seed goes to the server
        from agent.app import make_agent
        from agent.config import Config
        from tools.revise import ReviseConfig

        agent = make_agent(Config(data_dir=tmp_path / "d", weights_dir=tiny_weights, threads=1,
                                  poet=f"openai:{url}#tiny", revise=ReviseConfig(max_rounds=0)))
        sid = agent.store.create("t").id
        art = list(agent.run("write a couplet about the moon", sid))[-1].artifacts[0]
        assert art.kind == "poem" and art.model == f"openai:{url}#tiny" and art.scores.metrics["nll_per_token"] > 0
    finally:
        server.shutdown()
        server.server_close()
    kit = load_poet_kit(tiny_weights, f"openai:{url}#tiny", encoder, tmp_path / "cache")
    with pytest.raises(ModelFileError, match="cannot reach the poet server"):
        write(kit, "haiku", seed=1)
    with pytest.raises(ModelFileError, match="openai:http://HOST:PORT/v1#MODEL"):
        load_poet_kit(tiny_weights, "openai:localhost", encoder, None)


def test_missing_or_bad_poet_model_is_one_clear_error(tmp_path, encoder, tiny_weights):
    from models.common.errors import ModelFileError
    from models.poetry.kit import load_poet_kit

    with pytest.raises(ModelFileError, match="cannot load poet"):
        load_poet_kit(tiny_weights, f"hf:{tmp_path}/nothing-here", encoder, None)
    with pytest.raises(ModelFileError, match="arsnova train poetry --install"):
        load_poet_kit(tmp_path, None, encoder, None)


# ---- critics -----------------------------------------------------------------------------------
def test_critic_sees_copying_and_whole_copied_lines(kit, tiny_weights):
    from tools.critics.poetry import PoemContext, poem_scores

    from tests.tiny import tiny_verse_lines

    copied = tiny_verse_lines()[:4]  # the tiny corpus (lines of held-out passages excepted)
    ctx = PoemContext(plan_form("free", 4), kit.indexes, np.array([0.1, 0.2, 0.15]))
    vec = kit.embed([" ".join(copied)])[0]
    s_copy = poem_scores(copied, 3.0, 0.5, vec, ctx)
    fresh = ["quartz umbrellas hum", "beneath a violin of salt", "the ferry counts its keys", "and vinegar remembers"]
    s_new = poem_scores(fresh, 3.0, 0.5, kit.embed([" ".join(fresh)])[0], ctx)
    assert s_copy.metrics["copy_rate_5"] > 0.5 and s_copy.metrics["lines_copied_whole"] >= 1
    assert s_new.metrics["copy_rate_5"] == 0 and s_new.metrics["lines_copied_whole"] == 0
    assert s_new.novelty > s_copy.novelty
    # adherence: better than the random-passage baseline counts
    assert s_new.metrics["beats_baseline"] and poem_scores(fresh, 3.0, 0.05, vec, ctx).metrics["beats_baseline"] is False


# ---- the page and the tool -----------------------------------------------------------------------
def test_markdown_page_round_trip(kit):
    from tools.artifacts import Scores
    from models.poetry.page import poem_markdown, read_poem_lines, read_poem_title, scansion_text

    poem = write(kit, "limerick", seed=4)
    page = poem_markdown(poem, {"title": poem.title, "form": "limerick", "topic": "sea", "seed": 4}, Scores(0.5, 0.6, 0.7))
    front = yaml.safe_load(page.split("---\n")[1])
    assert front["form"] == "limerick" and front["scores"]["novelty"] == 0.6 and front["title"] == poem.title
    assert read_poem_lines(page) == poem.lines and read_poem_title(page) == poem.title
    assert "| 1 | " in page and "## Scansion" in page
    gutter = scansion_text(poem.lines).splitlines()
    assert len(gutter) == 5 and gutter[0].split("│")[0].split()[1] == "A"


def test_write_poem_through_the_agent(tiny_weights, tmp_path):
    from agent import events as ev
    from agent.app import make_agent
    from agent.config import Config

    agent = make_agent(Config(data_dir=tmp_path / "d", weights_dir=tiny_weights, threads=1))
    sid = agent.store.create("t").id
    events = list(agent.run("write a sonnet about the harbour at dawn", sid))
    art = events[-1].artifacts[0]
    assert art.kind == "poem" and art.args["form"] == "sonnet"
    page = (agent.store.session_dir(sid) / art.files["poem"]).read_text()
    front = yaml.safe_load(page.split("---\n")[1])
    assert front["scheme"] == "ABABCDCDEFEFGG" and front["model"] == "arsnova-poet"
    assert art.scores.metrics["rhymes_ok"] == 1.0 and art.scores.metrics["line_count_ok"] == 1.0
    progress = [e for e in events if isinstance(e, ev.Progress)]
    assert progress and progress[-1].unit == "lines" and progress[-1].total == 14
    assert [r.round for r in art.trajectory][0] == 0
    # "more like Dickinson": the revision turn changes the form to her common-meter quatrains
    events = list(agent.run("make it more like Dickinson", sid))
    art2 = events[-1].artifacts[0]
    assert art2.revision["direction"] == "style:Dickinson"
    page2 = (agent.store.session_dir(sid) / art2.files["poem"]).read_text()
    assert yaml.safe_load(page2.split("---\n")[1])["scheme"] == "-A-A"
    from models.poetry.page import read_poem_lines

    assert [prosody.line_syllables(ln) for ln in read_poem_lines(page2)] == [8, 6, 8, 6]


@pytest.mark.parametrize("args,fragment", [
    ({"topic": "x", "form": "sonnet", "lines": 10}, "a sonnet has 14 lines"),
    ({"topic": "x", "language": "Klingon"}, "write English only"),
    ({"topic": "x", "form": "couplet", "lines": 5}, "couplets come in pairs"),
])
def test_bad_poem_arguments_are_tool_errors_the_planner_can_act_on(tiny_weights, tmp_path, args, fragment):
    from langchain_core.messages import AIMessage

    from agent import events as ev
    from agent.app import make_agent
    from agent.config import Config
    from agent.planner import Planner

    class Fixed:
        def invoke(self, messages):
            return AIMessage("", tool_calls=[{"name": "write_poem", "args": args, "id": "c1", "type": "tool_call"}])

    agent = make_agent(Config(data_dir=tmp_path / "d", weights_dir=tiny_weights, threads=1),
                       planner=Planner("fixed", Fixed()))
    sid = agent.store.create("t").id
    events = list(agent.run("poem", sid))
    failed = [e for e in events if isinstance(e, ev.ToolFailed)]
    assert len(failed) == 1 and failed[0].kind == "error" and fragment in failed[0].error
    assert not list(agent.store.session_dir(sid).glob("*.md"))


def test_train_poetry_cli_resumes_and_installs(capsys, tmp_path):
    """`arsnova train poetry` on a prepared corpus: train, stop, resume to the step count, install."""
    import json

    import pandas as pd

    from agent.cli import main
    from models.poetry.training.train import PrepConfig, prepare
    from tests.tiny import tiny_verse_lines

    lines = tiny_verse_lines(400)
    df = pd.DataFrame({"text": lines, "syllables": [prosody.line_syllables(ln) for ln in lines]})
    prepare(tmp_path / "corpus", PrepConfig(val_passages=10, vocab_size=300), df=df, log=lambda s: None)
    base = ["--weights", str(tmp_path / "w"), "train", "poetry", "--corpus", str(tmp_path / "corpus"),
            "--run-dir", str(tmp_path / "run"), "--threads", "1"]
    assert main(base + ["--steps", "2"]) == 0
    assert json.loads((tmp_path / "run" / "state.json").read_text())["step"] == 2
    assert main(base + ["--steps", "4", "--install"]) == 0
    out = capsys.readouterr().out
    assert "resumed at step 2" in out and "installed into" in out
    card = json.loads((tmp_path / "w" / "poet" / "training.json").read_text())
    assert card["train_step"] == 4 and card["corpus"]["passages"] > 10
    assert main(["--weights", str(tmp_path / "w"), "models"]) == 0
    assert "arsnova-poet (GPT-2)" in capsys.readouterr().out


@pytest.mark.parametrize("topic", [
    "\u202eright-to-left override\u202c and \u0627\u0644\u0628\u062d\u0631", "zero\u200bwidth\u200djoiners\ufeff",
    "\U0001F30A" * 60, "x" * 2000, "   snow   ", "\x1b[31mred\x1b[0m terminal escapes", "<script>alert(1)</script>",
])
def test_hostile_topics_still_give_a_haiku(kit, topic):
    from models.poetry.poet import SampleSettings

    poem = kit.poet.write(topic, plan_form("haiku"), seed=0, settings=SampleSettings(candidates=6))
    assert [prosody.line_syllables(ln) for ln in poem.lines] == [5, 7, 5]
    assert poem.title and "\n" not in poem.title and len(poem.title) <= 60


def test_context_cache_matches_a_full_forward(kit, tmp_path):
    """The sampler reads the poem so far once and repeats its key/value cache for every candidate:
    the logits equal a full forward pass on each row (float tolerance)."""
    import torch

    lm = kit.poet.lm
    ctx = lm.prompt("rain", ["rain"], "haiku") + lm.encode("The dark sea falls upon the night\n")
    past, first = lm.context_cache(ctx, 3)
    assert first.shape[0] == 3
    nxt = torch.tensor([[lm.encode(" The")[0]]] * 3)
    with torch.inference_mode():
        step = lm.model(input_ids=nxt, past_key_values=past, use_cache=True).logits[:, -1]
        full = lm.model(input_ids=torch.tensor([ctx + [int(nxt[0, 0])]])).logits[0]
    assert torch.allclose(first[1], full[-2], atol=1e-4) and torch.allclose(step[2], full[-1], atol=1e-4)


def test_nucleus_sampling_follows_the_filtered_distribution():
    """sample_nucleus draws from the same distribution as top-p filtering of the full vector."""
    import torch

    from models.poetry.poet import sample_nucleus

    def top_p(probs, p):  # the textbook filter: sort everything, keep the smallest prefix with mass >= p
        sp, si = torch.sort(probs, descending=True)
        out = torch.zeros_like(probs).scatter(-1, si, sp * (sp.cumsum(-1) - sp < p))
        return out / out.sum(-1, keepdim=True)

    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(2, 300, generator=g) * torch.tensor([[3.0], [0.3]]), -1)
    want = top_p(probs, 0.8)
    counts = torch.zeros(2, 300)
    for _ in range(4000):
        counts[torch.arange(2), sample_nucleus(probs, 0.8, g, k=16)] += 1  # row 2 needs the fallback
    assert ((counts > 0) <= (want > 0)).all()  # never outside the nucleus
    assert torch.allclose(counts / 4000, want, atol=0.03)
