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
