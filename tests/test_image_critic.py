"""The subject critic (a small CNN aligned with MiniLM) and adherence as subject + setting + colour."""

from __future__ import annotations

import numpy as np
import pytest

from models.image.critic import CriticConfig, SubjectCritic, SubjectJudge, build_encoder, load_critic, save_critic


def _disc(colour, r=20) -> np.ndarray:
    im = np.full((64, 64, 3), 255, np.uint8)
    yy, xx = np.mgrid[:64, :64]
    im[(yy - 32) ** 2 + (xx - 32) ** 2 < r * r] = colour
    return im


def test_encoder_shapes_save_and_load_round_trip(tmp_path):
    import torch

    torch.manual_seed(0)
    model = build_encoder(CriticConfig()).eval()
    dis = np.random.default_rng(0).standard_normal((16, 384)).astype(np.float32)
    dis /= np.linalg.norm(dis, axis=1, keepdims=True)
    critic = SubjectCritic(model, CriticConfig(), dis, tuple(f"thing {i}" for i in range(16)))
    z = critic.embed([_disc((200, 0, 0)), np.full((128, 128, 3), 255, np.uint8)])  # any size is resized
    assert z.shape == (2, 384) and np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5)
    save_critic(tmp_path / "c.safetensors", model, CriticConfig(), dis, list(critic.distractor_names), {"threshold": 0.8})
    back = load_critic(tmp_path / "c.safetensors")
    assert back.distractor_names == critic.distractor_names
    assert np.allclose(back.embed([_disc((200, 0, 0))]), z[:1], atol=2e-2)  # fp16 on disk
    # a text's rank among the distractors: above all of them, below all of them, synonyms left out
    assert critic.rank(z[0], z[0]) == 1.0
    assert critic.rank(z[0], -z[0]) == 0.0
    assert critic.rank(dis[0], dis[0], exclude_above=0.75) == 1.0


def test_a_trained_step_moves_pictures_toward_their_captions():
    """Contrastive training at toy size: two picture kinds, two caption vectors; after a few
    steps each picture is nearer its own caption (the loss is real and falls)."""
    import torch

    from models.image.training.critic import _loss, augment

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = build_encoder(CriticConfig(channels=(8, 16, 16, 32)))
    t = torch.from_numpy(np.eye(384, dtype=np.float32)[:2])
    imgs = np.stack([_disc((220, 30, 40)), _disc((30, 60, 220), r=10)] * 4)
    tt = t.repeat(4, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        loss = _loss(model, augment(imgs, rng), tt)
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    z = model(torch.from_numpy(imgs[:2]).permute(0, 3, 1, 2).float() / 255).detach().numpy()
    assert float(loss.detach()) < first
    assert z[0] @ t[0].numpy() > z[0] @ t[1].numpy() and z[1] @ t[1].numpy() > z[1] @ t[0].numpy()


def test_retrieval_counts_hits_and_chance():
    from models.image.training.critic import retrieval

    t = np.eye(4, dtype=np.float32)
    r = retrieval(t.copy(), t, ["a", "b", "c", "d"])
    assert r["recall@1"] == 1.0 and r["chance@1"] == 0.25 and r["recall@5"] == 1.0
    assert retrieval(t[::-1].copy(), t, ["a", "b", "c", "d"])["recall@1"] == 0.0



def test_adherence_names_what_is_missing():
    from tools.critics.image import adherence_report

    class Critic:  # scores a picture by how red it is: rank 1.0 for 'apple' on a red picture
        def embed(self, pictures):
            return np.array([[float((p[..., 0] > 180).mean() > 0.05)] for p in pictures])

        def rank(self, z, t):
            return float(z[0]) if t[0] > 0 else 0.2

    enc = lambda texts: np.array([[1.0] if "apple" in s else [0.0] for s in texts])  # noqa: E731
    judge = SubjectJudge(Critic(), enc, threshold=0.9)
    red = _disc((220, 30, 40))
    rep = adherence_report(red, "a red apple", judge)
    assert rep.subject_found and rep.missing == () and rep.score == pytest.approx(1.0)
    rep = adherence_report(red, "a blue apple at sunset", judge)
    assert rep.subject_found and set(rep.missing) == {"no sunset", "not blue"} and rep.score < 0.75
    rep = adherence_report(red, "a submarine", judge)
    assert rep.subject_found is False and rep.missing == ("subject not found: submarine",) and rep.score < 0.5
    plain = adherence_report(red, "a red apple")  # no critic: colour only, as before
    assert plain.subject_found is None and plain.score == 1.0


def test_a_subject_the_library_lacks_must_beat_every_library_subject():
    """The boat a submarine was drawn from passes the rank among distractors, but it looks more
    like the library's boat than like a submarine: not found. A picture that does look like a
    submarine (closer to it than to the boat by more than the margin) is found."""
    from tools.critics.image import LACKING_MARGIN, adherence_report

    vec = {"boat": [1.0, 0.0], "submarine": [0.8, 0.6]}  # near words: cosine 0.8

    class Critic:  # the picture's embedding is written in its first pixel; every rank passes
        def embed(self, pictures):
            return np.array([[1.0, 0.0] if p[0, 0, 0] > 128 else [0.8, 0.6] for p in pictures])

        def rank(self, z, t):
            return 0.99

    enc = lambda texts: np.array([vec[t.split()[-1]] for t in texts])  # noqa: E731
    judge = SubjectJudge(Critic(), enc, threshold=0.9)
    boat, sub = np.full((8, 8, 3), 255, np.uint8), np.zeros((8, 8, 3), np.uint8)
    library = np.array([vec["boat"]], np.float32)
    assert adherence_report(boat, "a submarine", judge).subject_found  # the rank alone passes it
    rep = adherence_report(boat, "a submarine", judge, library=library, lacking=("submarine",))
    assert rep.subject_found is False and rep.missing == ("subject not found: submarine",)
    assert 0.2 > LACKING_MARGIN and adherence_report(sub, "a submarine", judge, library=library,
                                                     lacking=("submarine",)).subject_found
    # the library's own subjects are judged by the rank only
    assert adherence_report(boat, "a boat", judge, library=library, lacking=()).subject_found


def test_augment_draws_the_subject_on_a_setting_at_the_critic_size():
    """64 px pictures -> (B, 3, 32, 32) in 0..1; on a composer's setting the page is see-through
    (the sky shows around the subject), and the draws follow the generator."""
    from models.image.training.critic import augment, setting_backgrounds

    settings = setting_backgrounds(64, 1, seed=0)
    assert settings.shape == (34, 64, 64, 3) and settings.min() >= 0 and settings.max() <= 1
    imgs = np.stack([_disc((220, 30, 40)), _disc((30, 60, 220), r=10)] * 8)
    x = augment(imgs, np.random.default_rng(0), settings, size=32)
    assert tuple(x.shape) == (16, 3, 32, 32) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert np.allclose(x.numpy(), augment(imgs, np.random.default_rng(0), settings, size=32).numpy())
    corners = x[:, :, :2, :2].mean(dim=(1, 2, 3)).numpy()
    assert (corners < 0.85).any()  # some pictures are not on the white page any more


def test_batches_balance_captions_and_add_near_subjects():
    from models.image.training.critic import draw_batch, neighbour_table, sampling_weights

    texts = ["a star"] * 16 + ["a cat", "a dog", "a car", "a tree"]
    vecs = np.zeros((20, 384), np.float32)
    vecs[:16, 0] = 1
    vecs[16, 1:3] = (0.8, 0.6)  # cat
    vecs[17, 2] = 1  # dog: cos 0.6 to the cat (near, not a synonym)
    vecs[18, 3] = vecs[19, 4] = 1
    emoji = np.zeros(20, bool)
    idx = np.arange(20)
    p = sampling_weights(texts, emoji, idx)
    assert np.isclose(p.sum(), 1) and np.isclose(p[:16].sum() / p[16], 4.0)  # 16 stars weigh as 4 pictures
    near, groups = neighbour_table(texts, vecs, idx, lo=0.5, hi=0.9)
    assert near["a cat"] == ["a dog"] and near["a star"] == [] and groups["a star"] == list(range(16))
    b = draw_batch(np.random.default_rng(0), idx, p, 6, 2, texts, near, groups)
    assert len(b) == 6


def test_near_captions_are_pushed_below_the_pictures_distractor_percentile():
    """The near-caption terms at toy size: each picture has a caption near its own (cos 0.6, not a
    synonym); after training with them the picture scores its own caption above its near one
    and above its 93rd distractor percentile, the near one below it (the tool's 'found' rule)."""
    import torch

    from models.image.training.critic import _loss, augment, near_batch, near_text_table

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    eye = np.eye(384, dtype=np.float32)
    t = eye[:2]
    nv = np.stack([0.6 * eye[0] + 0.8 * eye[2], 0.6 * eye[1] + 0.8 * eye[3]])  # near 'cat' / near 'car'
    texts = ["a cat", "a car", "a lion", "a bus"]
    names, u, near = near_text_table(texts, np.concatenate([t, nv]), np.arange(4), k=4, lo=0.45, hi=0.72)
    assert [names[j] for j in near["a cat"]] == ["a lion"] and [names[j] for j in near["a car"]] == ["a bus"]
    dis = torch.from_numpy(eye[10:42])  # 32 unrelated distractor captions
    model = build_encoder(CriticConfig(channels=(8, 16, 16, 32)))
    imgs = np.stack([_disc((220, 30, 40)), _disc((30, 60, 220), r=10)] * 4)
    caps = ["a cat", "a car"] * 4
    nb, ok = near_batch(rng, caps, u, near, 2)
    assert nb.shape == (8, 2, 384) and ok.sum() == 8  # one real near caption each, the other slot masked
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    tt = torch.from_numpy(t).repeat(4, 1)
    for _ in range(40):
        loss = _loss(model, augment(imgs, rng), tt, torch.from_numpy(nb), torch.from_numpy(ok), dis)
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    z = model(torch.from_numpy(imgs[:2]).permute(0, 3, 1, 2).float() / 255).detach().numpy()
    q = np.quantile(z @ dis.numpy().T, 0.93, axis=1)
    for k in range(2):
        assert z[k] @ t[k] > q[k] > z[k] @ nv[k]
