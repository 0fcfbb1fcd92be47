"""Picture critics: quality against the training pictures' floors, novelty as distance to the
nearest training picture and the session's earlier ones, adherence as subject + scene + colour:
the subject critic (a small CLIP-style encoder aligned with MiniLM, ``models/image/critic.py``)
finds each asked subject, the setting checks find the sky and ground, and the palette the asked
colours. The critique names what is missing ("no sunset", "subject not found: castle")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.artifacts import Scores
from tools.critics import band


# a subject the library lacks ('a submarine') counts as found only when its critic cosine on the
# picture is this far above the best library subject's ('boat'). Set on a dev set, none of it an eval
# prompt (bench/image_misses.py -> bench/image_misses.json): 53 subjects no emoji draws, each drawn
# as the tool draws it (9 candidates from the nearest exemplars): the rank alone passed a candidate
# of 48, a margin of 0 one (anteater, +0.001), 0.02 none; 198 held-out clip-art pictures of
# subjects the library lacks (what a right picture looks like): found 82% by the rank alone, 31% at
# 0.02, 15% at 0.04. The smallest margin with no false pass on dev.
LACKING_MARGIN = 0.02


@dataclass(frozen=True)
class ImageContext:
    """The training set's feature index and quality floors, and the session's earlier images."""

    index: object  # models.image.metrics.FeatureIndex, or None for a model without one
    earlier: tuple = ()  # feature vectors
    judge: object = None  # models.image.critic.SubjectJudge, or None (then adherence is colour only)
    library: object = None  # float32 (K, 384): the exemplar library's subjects in the MiniLM space, or None
    lacking: tuple[str, ...] = ()  # the asked subjects the library has no exemplar for ('submarine')


@dataclass(frozen=True)
class Adherence:
    """What of the prompt a picture shows. ``score`` weighs subject 0.5, setting 0.25, colour 0.25
    over the parts the prompt asks for (and the critics can see)."""

    score: float
    subject_score: float | None  # mean rank of the asked subjects among the critic's distractors
    subject_found: bool | None  # every asked subject above the critic's threshold
    scene_asked: tuple[str, ...]
    scene_present: tuple[str, ...]
    colour_match: float  # share of the asked colours in the palette (1.0 when none asked)
    palette: tuple[str, ...]
    missing: tuple[str, ...]  # "subject not found: castle", "no sunset", "not purple"


def adherence_report(rgb: np.ndarray, prompt: str, judge=None, subject_mask: np.ndarray | None = None,
                     library: np.ndarray | None = None, lacking: tuple[str, ...] = ()) -> Adherence:
    """The picture (uint8, any size) against the prompt's subjects, setting and colours. With
    ``subject_mask`` (a composed scene: where its subjects stand, same size) the asked colours are
    looked for on the subjects: a red car that is a tenth of a night scene is red, and a purple
    sunset sky does not make an elephant purple.

    A subject in ``lacking`` (the library has no exemplar of it, so the picture was drawn from
    something else) is found only if the critic also scores it ``LACKING_MARGIN`` above every
    subject of ``library``: a submarine redrawn from the boat exemplar must look more like a
    submarine than like the boat, which the rank among random distractors alone did not ask."""
    from models.image.colours import colour_words
    from models.image.scene import parse_scene, setting_present

    scene = parse_scene(prompt)
    missing, parts = [], []
    subject_score = found = None
    if judge is not None and scene.subjects:
        texts = [("an " if s.text[:1] in "aeiou" else "a ") + s.text for s in scene.subjects]
        ranks = judge.ranks(rgb, texts)
        ok = [r > judge.threshold for r in ranks]
        strict = [k for k, s in enumerate(scene.subjects) if ok[k] and s.text in lacking]
        if strict and library is not None:
            margins = judge.library_margins(rgb, [texts[k] for k in strict], library)
            for k, m in zip(strict, margins):
                ok[k] = m > LACKING_MARGIN
        subject_score, found = float(np.mean(ranks)), all(ok)
        missing += [f"subject not found: {s.text}" for s, k in zip(scene.subjects, ok) if not k]
        parts.append((0.5, float(np.mean([1.0 if k else 0.5 * r for r, k in zip(ranks, ok)]))))
    present = tuple(e for e in scene.elements if setting_present(rgb, e))
    missing += [f"no {e}" for e in scene.elements if e not in present]
    if scene.elements:
        parts.append((0.25, len(present) / len(scene.elements)))
    wanted = requested_colours(prompt)
    palette = tuple(colour_words(rgb, min_share=0.1, max_words=3, where=subject_mask))
    colour_ok = sum(c in palette for c in wanted) / len(wanted) if wanted else 1.0
    missing += [f"not {c}" for c in wanted if c not in palette]
    if wanted or not parts:
        parts.append((0.25, colour_ok))
    score = sum(w * v for w, v in parts) / sum(w for w, _ in parts)
    return Adherence(score, subject_score, found, scene.elements, present, colour_ok, palette, tuple(missing))


def requested_colours(prompt: str) -> list[str]:
    from models.image.colours import colours_in

    return colours_in(prompt)


def image_scores(rgb: np.ndarray, prompt: str, ctx: ImageContext, start: np.ndarray | None = None,
                 subject_mask: np.ndarray | None = None, delivered: np.ndarray | None = None) -> Scores:
    """rgb: the picture at the model's native size (uint8). quality: colourfulness, contrast,
    entropy and sharpness against the 5th percentiles of the training images; novelty: distance
    to the nearest training image (scaled by the training set's own median nearest-neighbour
    distance; a near-copy scores 0) and to the session's earlier images; adherence: subject,
    setting and colour (``adherence_report``). With ``start`` (the picture a redraw began from, same
    size): noise and crispness against it, and a degraded redraw (``metrics.Degradation``) has its
    quality halved, below the revision floor, so a cleaner candidate is kept when there is one.
    ``subject_mask``: where a composed scene's subjects stand (``adherence_report``). ``delivered``:
    the picture as it will be delivered, read back at ``rgb``'s size; the noise and crispness are
    measured on it (the enlargement alone costs ~8% of an outline's crispness: an exemplar through
    Lanczos to 256 px and back reads 0.92 of its own edges), so the floor holds for what is seen."""
    from models.image.metrics import features, quality_metrics

    q = quality_metrics(rgb)
    floors = ctx.index.quality_p05 if ctx.index is not None else {k: 0.0 for k in q}
    quality_parts = {k: band(v, floors.get(k, 0.0), 1e9, max(floors.get(k, 0.0), 1e-6)) for k, v in q.items()}
    quality = float(np.mean(list(quality_parts.values())))
    clean = {}
    if start is not None and np.shape(start) == np.shape(rgb):
        from models.image.metrics import degradation

        d = degradation(rgb if delivered is None else delivered, start)
        clean = {"speckle_ratio": d.speckle_ratio, "edge_ratio": d.edge_ratio, "degraded": d.degraded}
        quality *= 0.5 if d.degraded else 1.0
    f = features(rgb)
    near_copy, d_train = False, 1.0
    if ctx.index is not None:
        d_train, _ = ctx.index.nearest(f)
        near_copy = d_train < ctx.index.loo_p01
        train_part = 0.0 if near_copy else min(1.0, d_train / max(ctx.index.loo_median, 1e-6))
    else:
        train_part = 1.0
    session = 1.0
    if ctx.earlier:
        session = float(min(1.0, min(np.sqrt(max(0.0, 2 - 2 * float(f @ e))) for e in ctx.earlier) / 0.5))
    novelty = 0.7 * train_part + 0.3 * session
    wanted = requested_colours(prompt)
    rep = adherence_report(rgb, prompt, ctx.judge, subject_mask, ctx.library, ctx.lacking)
    subject = {} if rep.subject_score is None else {"subject_score": rep.subject_score, "subject_found": rep.subject_found}
    scene = {"scene_asked": list(rep.scene_asked), "scene_present": list(rep.scene_present)} if rep.scene_asked else {}
    return Scores(quality, novelty, rep.score, {
        **q, **clean, "nearest_training_distance": d_train, "near_copy": near_copy, "session_distance": session,
        "requested_colours": wanted, "palette": list(rep.palette), "colour_match": rep.colour_match,
        **subject, **scene, "missing": list(rep.missing),
    })


def stray_colours(scores: Scores) -> list[str]:
    """The measured colours that were not asked for, when an asked-for colour is missing: the
    next round's negative prompt ("a red apple" that came out green and grey -> "green grey")."""
    m = scores.metrics
    wanted = m.get("requested_colours") or []
    if not wanted or m.get("colour_match", 1.0) >= 1.0:
        return []
    return [c for c in m.get("palette", []) if c not in wanted and c != "white"]
