"""The fourth sense critic's semantic branch (models/poetry/sense.py, semantic=True): real classes,
the tiny poet's LM and the real sentence encoder; the older critics' files still load as trained."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.poetry.sense import SenseConfig, build_head, coherence, line_vectors

TEXTS = ["The sea is wide,\nand the sky is grey;\nthe gulls cry out.", "O rose,", "A kettle sings\nupon the stove."]


def test_older_critics_configs_load_as_they_were_trained():
    cfg = SenseConfig(**{"features": 193, "hidden": 64, "max_tokens": 72, "context": 2})  # the third critic's
    assert not cfg.semantic
    head = build_head(cfg)
    assert set(head.state_dict()) == {"proj.weight", "proj.bias", "gru.weight_ih_l0", "gru.weight_hh_l0",
                                      "gru.bias_ih_l0", "gru.bias_hh_l0", "gru.weight_ih_l0_reverse",
                                      "gru.weight_hh_l0_reverse", "gru.bias_ih_l0_reverse",
                                      "gru.bias_hh_l0_reverse", "out.weight", "out.bias"}


def test_coherence_hears_a_line_that_repeats_and_a_single_line():
    states = torch.randn(2, 6, 384)
    states[0, 3:5] = states[0, 1:3]  # line 2 = line 1 token for token
    line_ids = torch.tensor([[-1, 0, 0, 1, 1, -1], [-1, 0, 0, 0, -1, -1]])
    coh, last, ctx = coherence(*line_vectors(states, line_ids))
    assert coh[0, 0] == pytest.approx(1.0, abs=1e-5) and coh[0, 6] == 1.0 and coh[0, 7] == 0.5
    assert coh[1, 0] == 0.0 and coh[1, 6] == 0.0 and ctx[1].abs().sum() == 0.0  # no context
    assert last.shape == ctx.shape == (2, 384)


@pytest.fixture(scope="module")
def lm(tiny_weights):
    from models.common.causal_lm import load_causal_lm

    return load_causal_lm(str(tiny_weights / "poet"), role="poet")


@pytest.mark.parametrize("variant", [{}, {"lm_branch": False}, {"sem_tokens": False},
                                     {"sem_tokens": False, "line_vectors": True}, {"line_vectors": True}])
def test_a_window_scores_the_same_alone_in_a_batch_and_from_the_training_cache(lm, encoder, tmp_path, variant):
    """The training reads cached features (sense_semantic.step_features -> batches); the chat reads
    live ones, one window or many: all three give the same P(real)."""
    from models.poetry.corpus import KW, POEM
    from models.poetry.sense import SenseCritic
    from models.poetry.training.sense_semantic import (batches, load_features, load_lines, predict, step_features,
                                                       step_lines, unique_lines)

    model, tok = lm
    torch.manual_seed(0)
    cfg = SenseConfig(features=model.config.n_embd + 1, semantic=True, **variant)
    critic = SenseCritic(model, tok, build_head(cfg).eval(), cfg, tok.encode(KW + POEM, add_special_tokens=False),
                         encoder)
    together = critic.windows(TEXTS)
    alone = np.array([critic.windows([t])[0] for t in TEXTS])
    step_features(tmp_path, critic, TEXTS, "t")
    step_lines(tmp_path, encoder, unique_lines(TEXTS), "l")
    vecs = load_lines(tmp_path, "l", unique_lines(TEXTS))
    rows = load_features(tmp_path, "t", len(TEXTS))
    cached = predict(critic.head, batches(rows, [1.0] * len(TEXTS), texts=TEXTS, vecs=vecs))
    assert together == pytest.approx(alone, abs=1e-5) and cached == pytest.approx(alone, abs=1e-3)


def test_an_installed_semantic_critic_loads_with_the_chats_encoder(lm, encoder, tiny_weights, tmp_path):
    import shutil
    from dataclasses import asdict

    from models.common.checkpoint import save_safetensors
    from models.poetry.sense import SENSE_FILE, load_sense_critic

    home = tmp_path / "poet"
    shutil.copytree(tiny_weights / "poet", home)
    model, tok = lm
    cfg = SenseConfig(features=model.config.n_embd + 1, semantic=True)
    save_safetensors(build_head(cfg).state_dict(), home / SENSE_FILE, {"config": asdict(cfg)})
    critic = load_sense_critic(home, model, tok, encoder=encoder)
    assert critic.encoder is encoder and critic.cfg.semantic
    poem = critic.poem(["The sea is wide,", "and the sky is grey.", "", "The gulls cry out."])
    assert len(poem.lines) == 3 and 0 < poem.score < 1


# -- the fifth critic (a candidate): the cross-encoder (models/poetry/training/sense_cross.py) ---------

def test_the_cross_encoder_starts_as_the_encoder_and_trains_only_its_top_layers(encoder):
    from models.poetry.sense import build_cross, cross_ids

    cross = build_cross(encoder.model, SenseConfig(cross_tuned=2)).eval()
    trained = {n for n, p in cross.named_parameters() if p.requires_grad}
    assert trained and all(n.startswith(("bert.encoder.layer.4.", "bert.encoder.layer.5.", "cls.")) for n in trained)
    assert set(cross.tuned_state()) == {f"cross.{n}" for n in trained}
    ids, mask = cross_ids(encoder.tokenizer, TEXTS, 64)
    with torch.inference_mode():
        ours = cross.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        theirs = encoder.model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(ours, theirs, atol=1e-5)
    cross.train()  # the frozen part keeps no dropout while the top layers train
    assert not cross.bert.encoder.layer[0].training and cross.bert.encoder.layer[5].training


def test_a_long_window_loses_its_first_words_never_the_last_line(encoder):
    from models.poetry.sense import CROSS_SEP, cross_ids

    long = "\n".join(["and on and on the weary road went winding far away"] * 6 + ["the kettle sings."])
    ids, mask = cross_ids(encoder.tokenizer, [long, "O rose,"], 24)
    assert ids.shape == (2, 24) and mask[1].sum() < 24
    text = encoder.tokenizer.decode(ids[0], skip_special_tokens=True)
    assert text.endswith("the kettle sings.") and CROSS_SEP.strip() in text
    assert ids[0, 0] == encoder.tokenizer.cls_token_id and ids[0, -1] == encoder.tokenizer.sep_token_id


@pytest.mark.parametrize("mix", ["sum", "alone"])
def test_a_cross_critic_file_loads_and_scores_the_same_alone_and_in_a_batch(lm, encoder, tiny_weights, tmp_path, mix):
    import shutil
    from dataclasses import asdict

    from models.common.checkpoint import half_floats, save_safetensors
    from models.poetry.sense import SENSE_FILE, build_cross, load_sense_critic

    home = tmp_path / "poet"
    shutil.copytree(tiny_weights / "poet", home)
    model, tok = lm
    torch.manual_seed(0)
    cfg = SenseConfig(features=model.config.n_embd + 1, cross_tuned=1, cross_mix=mix)
    cross = build_cross(encoder.model, cfg)
    with torch.no_grad():
        cross.cls.weight.normal_(0, 0.1)  # a logit that depends on the window
    head = build_head(cfg)
    path = tmp_path / "candidate.safetensors"
    save_safetensors(half_floats({**head.state_dict(), **cross.tuned_state()}), path, {"config": asdict(cfg)})
    critic = load_sense_critic(home, model, tok, encoder=encoder, path=path)
    assert critic.cfg.cross_tuned == 1 and critic.cfg.cross_mix == mix and critic.encoder is encoder
    together = critic.windows(TEXTS)
    alone = np.array([critic.windows([t])[0] for t in TEXTS])
    assert len(set(np.round(together, 4))) == 3
    if mix == "alone":  # (the third critic's head reads its padding: in a sum, a batch moves it a little)
        assert together == pytest.approx(alone, abs=1e-5)
    with torch.inference_mode():  # the sum is the head's logit + the cross-encoder's
        from models.poetry.sense import cross_ids

        c = cross.eval()
        c.load_state_dict({k[6:]: v.float() for k, v in half_floats(cross.tuned_state()).items()}, strict=False)
        lc = c(*cross_ids(encoder.tokenizer, TEXTS, cfg.cross_max_tokens)).numpy()
    lh = critic.logits(TEXTS) - lc
    if mix == "alone":
        assert lh == pytest.approx(0, abs=1e-4)
    else:
        f, m = critic.features(TEXTS)
        assert lh == pytest.approx(head.eval()(f, m).detach().numpy(), abs=1e-3)
    save_safetensors({k: v for k, v in head.state_dict().items()}, path, {"config": asdict(cfg)})
    from models.common.errors import ModelFileError

    with pytest.raises(ModelFileError):
        load_sense_critic(home, model, tok, encoder=encoder, path=path)


def test_two_sided_substitutions_change_content_words_and_surprise_ranks_them(lm):
    from models.poetry.training.sense_cross import WindowLM, surprise, two_sided_substituted, variant_scores

    model, tok = lm
    wlm = WindowLM(model, tok)
    src = ["The kettle sings upon the stove\nand morning light is warm.", "O rose, thou art sick."]
    out = two_sided_substituted(wlm, src, np.random.default_rng(0), p=1.0, alts=3)
    assert len(out) == 2
    for a, b in zip(src, out):
        wa, wb = a.split(), b.split()
        assert len(wa) == len(wb)  # whole words replaced, one for one
        changed = [(x, z) for x, z in zip(wa, wb) if x != z]
        assert all(x.lower().strip(".,") not in ("the", "and", "upon", "is", "o", "thou") for x, _ in changed)
    own, scored = variant_scores(wlm, src, alts=3)
    s = surprise(own, scored)
    assert s.shape == (2,) and (s >= 0).all()
    # the window's own log-prob is the sum over its tokens: a longer window of the same words reads lower
    lp = wlm.logprob(["the sea", "the sea the sea the sea"])
    assert lp[1] < lp[0] < 0
