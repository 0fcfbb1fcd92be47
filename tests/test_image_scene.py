"""Scenes: prompts read as subjects and a setting, canvases composed from them, and the checks
that find a setting in a picture (issue #21)."""

from __future__ import annotations

import numpy as np
import pytest

from models.image.scene import SubjectAsk, compose, parse_scene, setting_present


@pytest.mark.parametrize("prompt, subjects, sky, ground", [
    ("a castle on a hill at sunset", [("castle", (), 1)], "sunset", "hill"),
    ("a boat on the sea at dawn", [("boat", (), 1)], "dawn", "sea"),
    ("two dogs on a beach", [("dog", (), 2)], None, "beach"),
    ("a red car in the city at night", [("car", ("red",), 1)], "night", "city"),
    ("a rabbit and a fox in the snow", [("rabbit", (), 1), ("fox", (), 1)], None, "snow"),
    ("a tree on a hill in a storm", [("tree", (), 1)], "storm", "hill"),
    ("a purple elephant", [("elephant", ("purple",), 1)], None, None),
    ("three butterflies", [("butterfly", (), 3)], None, None),
])
def test_prompts_are_read_as_subjects_and_a_setting(prompt, subjects, sky, ground):
    sc = parse_scene(prompt)
    assert [(s.text, s.colours, s.count) for s in sc.subjects] == subjects
    assert (sc.sky, sc.ground) == (sky, ground)
    assert sc.is_scene == bool(sky or ground or len(subjects) > 1 or subjects[0][2] > 1)


def _disc(colour) -> np.ndarray:
    im = np.full((64, 64, 3), 255, np.uint8)
    yy, xx = np.mgrid[:64, :64]
    im[(yy - 32) ** 2 + (xx - 32) ** 2 < 400] = colour
    return im


def test_a_composed_scene_shows_its_setting_and_places_its_subjects():
    red, blue = _disc((220, 30, 40)), _disc((30, 60, 220))
    for prompt, pics in (("a castle on a hill at sunset", [red]), ("a rabbit and a fox in the snow", [red, blue]),
                         ("a red car in the city at night", [red]), ("a boat on the sea at dawn", [red]),
                         ("a deer in the forest", [red]), ("two dogs on a beach", [red]),
                         ("a tree on a hill in a storm", [red])):
        sc = parse_scene(prompt)
        canvas = compose(sc, pics, 64, seed=1)
        assert canvas.shape == (64, 64, 3) and canvas.dtype == np.uint8
        assert all(setting_present(canvas, e) for e in sc.elements), (prompt, sc.elements)
        reds = (canvas[..., 0] > 180) & (canvas[..., 1] < 80) & (canvas[..., 2] < 90)
        assert reds.sum() > 60, prompt  # the subject is on it, the white page around it is not
        assert not (canvas.min(axis=-1) > 250).mean() > 0.3, prompt
    two = compose(parse_scene("a rabbit and a fox in the snow"), [red, blue], 64, seed=1)
    assert ((two[..., 2] > 180) & (two[..., 0] < 80)).sum() > 40  # both subjects
    # the layout follows the seed
    sc = parse_scene("a castle on a hill at sunset")
    assert np.array_equal(compose(sc, [red], 64, 3), compose(sc, [red], 64, 3))
    assert not np.array_equal(compose(sc, [red], 64, 3), compose(sc, [red], 64, 4))


def test_setting_checks_do_not_fire_on_a_white_page_picture():
    apple = _disc((220, 30, 40))
    assert [e for e in ("sunset", "night", "dawn", "storm", "hill", "beach", "sea", "snow", "forest", "city")
            if setting_present(apple, e)] == []
    with pytest.raises(ValueError, match="unknown"):
        setting_present(apple, "volcano")


def test_a_scene_without_subjects_is_its_setting():
    canvas = compose(parse_scene("a stormy sky over the sea"), [], 64, seed=0)
    assert setting_present(canvas, "storm") and setting_present(canvas, "sea")
    assert SubjectAsk("dog").count == 1


def test_a_scene_subjects_colour_is_looked_for_on_the_subject():
    """A small red car in a night city is red, though red is under a tenth of the picture; a
    grey elephant under a purple sunset sky is not purple, though the sky is."""
    from tools.critics.image import adherence_report

    small_red = np.full((64, 64, 3), 255, np.uint8)
    small_red[28:36, 8:56] = (220, 30, 40)  # long and low, as a car is
    night = parse_scene("a red car in the city at night")
    canvas, mask = compose(night, [small_red], 64, seed=2, with_mask=True)
    assert np.array_equal(canvas, compose(night, [small_red], 64, seed=2))  # the same picture
    assert 0.01 < mask.mean() < 0.1 and (canvas[mask][:, 0] > 150).mean() > 0.5
    assert "not red" in adherence_report(canvas, "a red car in the city at night").missing  # whole picture
    assert "not red" not in adherence_report(canvas, "a red car in the city at night", subject_mask=mask).missing
    grey = _disc((128, 128, 128))
    sunset = parse_scene("a purple elephant on a hill at sunset")
    canvas, mask = compose(sunset, [grey], 64, seed=0, with_mask=True)
    rep = adherence_report(canvas, "a purple elephant on a hill at sunset", subject_mask=mask)
    assert "not purple" in rep.missing and "grey" in rep.palette
