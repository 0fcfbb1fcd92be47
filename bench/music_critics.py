"""Does each music critic hear what it claims? ROC AUC of each critic telling real corpus pieces
from degraded copies of them.

Real pieces: music21's Bach chorales (four parts kept) and ABC folk tunes (O'Neill's 1850 dance
tunes and Essen folk songs, repeats written out). Every other piece of a deterministic sample is
dev (used to tune the critics' thresholds), the rest test (only reported). Degradations, each
applied to every real piece with a fixed seed:

- shuffled: the bars in a random order (all voices together);
- wrong_key: transposed 1..11 semitones while the request keeps the original key;
- jittered: a quarter of the notes moved 1 or 2 semitones;
- scrambled (chorales): alto and tenor shifted a beat later, tenor an octave up;
- reciting: the melody made a reciting tone (pitches drawn toward their median, a quarter to a half
  of the notes repeats of the one before; rhythm, key and the other parts kept), as the composer's
  audit heard the tool's chorale sopranos and narrow tunes (its own random draws, so the others'
  copies are those of before);
- held (harmonised pieces): the parts under the melody hold their first-beat notes across each bar
  (whole bars of one chord, as the second composer audit heard them);
- tonic_dominant (harmonised pieces): every note under the melody moved to the tonic or dominant
  triad (whichever holds more of the melody in that half bar; the lowest part to its root): harmony
  nearly only I-V. Both draw nothing at random; in this corpus only the chorales are harmonised.

Writes bench/music_critics.json (per critic: AUC per degradation on dev and test, on the
degradations it is meant to hear, pooled, and on all of them, pooled (``auc_pooled_all``); the
share of real pieces clearing every floor (``_floors_real``); per critic and split also the pooled AUC by style and
by whether the real piece ends on the tonic it is labelled with).

The cadence critic finds phrase ends in the music (``analysis.phrase_end_notes``); the bench
checks them against the fermatas music21 reads in the same chorales (the corpus reading drops
them): the share of the phrase ends found that are fermata notes, and of fermatas found, beside
the fixed grid the critic used before (``_fermatas`` in the JSON).

    .venv/bin/python bench/music_critics.py [--chorales 60] [--folk 80]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# the degradations each critic is meant to hear (its AUC target is on these, pooled)
HEARS = {
    "tonal": ("wrong_key", "jittered"),
    "cadence": ("wrong_key", "shuffled"),
    "form": ("shuffled",),
    "texture": ("jittered", "scrambled"),
    "voice_leading": ("scrambled", "jittered"),
    "melody": ("reciting",),
    "harmony": ("held", "tonic_dominant"),
}


def load_real(n_chorales: int, n_folk: int, cache: Path | None = None) -> list:
    """Real pieces as Scores with voices: chorales first, then folk tunes."""
    import warnings

    from music21 import converter, corpus

    from models.music.training.chords import chorale_scores, load_voiced
    from models.music.training.data import MusicCorpus, score_from_music21

    if cache and cache.exists():
        return load_voiced(cache)
    warnings.simplefilter("ignore")

    out = [s for s in chorale_scores()[::5] if s.bars >= 6][:n_chorales]  # a spread over the collection
    root = Path(corpus.__file__).parent
    # O'Neill's dance tunes (jigs, reels, hornpipes: repeats written out as played) and Essen songs
    files = [root / "oneills1850" / f for f in ("0759-0810.abc", "0811-0899.abc", "0900-0950.abc")]
    files += sorted((root / "essenFolksong").glob("*.abc"))[:2]
    folk = []
    for f in files:
        try:
            opus = converter.parse(str(f))
        except Exception:
            continue
        style = "irish" if "oneills" in str(f) else "folk"
        for k, s in enumerate(getattr(opus, "scores", [opus])):
            if k % 4:
                continue
            try:
                sc = score_from_music21(s, style, repeats=True)
            except Exception:
                sc = None
            if sc is not None and 8 <= sc.bars <= 64:
                folk.append(sc)
    rng = np.random.default_rng(0)
    rng.shuffle(folk)
    out += folk[:n_folk]
    if cache:
        c = MusicCorpus.from_scores(out)
        voices = np.array([n.voice for s in out for n in s.notes], np.int64)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, voices=voices, **{k: getattr(c, k) for k in MusicCorpus.__dataclass_fields__})
    return out


# ---- phrase ends against the chorales' fermatas ---------------------------------------------------------
def chorale_fermatas(chorales: list) -> list[list[int]]:
    """Per chorale of ``chorales`` (as load_real picks them), the onsets (sixteenths, in the Score's
    time) of the soprano notes music21 marks with a fermata. The chorales are parsed again in the
    order ``chorale_scores`` reads them and matched by their notes."""
    import warnings

    from music21 import corpus, expressions

    from models.music.training.data import score_from_music21

    warnings.simplefilter("ignore")
    want = {s.notes: i for i, s in enumerate(chorales)}
    out: list[list[int] | None] = [None] * len(chorales)
    for m21 in corpus.chorales.Iterator(returnType="stream"):
        if all(o is not None for o in out):
            break
        try:
            sc = score_from_music21(m21, "chorale", voices=True)
        except Exception:
            continue
        if sc is None or sc.notes not in want:
            continue
        sop = list(m21.parts)[0].stripTies().flatten().notes
        first = min(n.start for n in sc.notes if n.voice == 0)
        shift = first - int(round(float(sop[0].offset) * 4))
        out[want[sc.notes]] = [int(round(float(n.offset) * 4)) + shift for n in sop
                               if any(isinstance(e, expressions.Fermata) for e in n.expressions)]
    return [o or [] for o in out]


def grid_phrase_ends(score, phrase_bars: int) -> list:
    """The phrase ends the cadence critic read before (kept here as the baseline): in every
    ``phrase_bars``-th bar (after an upbeat bar) its longest melody note, and the last note."""
    from models.music.analysis import melody_notes

    mel = melody_notes(score)
    bar = score.bar_length
    if not mel:
        return []
    pickup = 1 if bar // 2 <= mel[0].start < bar else 0
    out = []
    for end_bar in range(pickup + phrase_bars - 1, score.bars - 1, phrase_bars):
        inside = [n for n in mel if n.start // bar == end_bar]
        if inside:
            out.append(max(inside, key=lambda n: (n.duration, n.start)))
    return out + [mel[-1]]


def fermata_check(chorales: list) -> dict:
    """Inner phrase ends (the final left out: every method has it) against the fermatas: precision
    (share of the ends found that are fermata notes) and recall (share of fermatas found), pooled
    over the chorales, for the ends found in the music and for the old two-bar grid."""
    from models.music.analysis import phrase_end_notes
    from tools.critics.music import default_phrase_bars

    fermatas = chorale_fermatas(chorales)
    res = {"chorales_with_fermatas": sum(bool(f) for f in fermatas)}
    for name, finder in (("found_in_music", phrase_end_notes), ("fixed_grid", grid_phrase_ends)):
        hit = found = marked = 0
        for s, ferm in zip(chorales, fermatas):
            if not ferm:
                continue
            last = max(n.start for n in s.notes if n.voice == 0)
            ends = {n.start for n in finder(s, default_phrase_bars("chorale", s.bars))} - {last}
            marks = set(ferm) - {last}
            hit += len(ends & marks)
            found += len(ends)
            marked += len(marks)
        res[name] = {"precision": hit / found if found else None, "recall": hit / marked if marked else None,
                     "ends": found, "fermatas": marked}
    return res


# ---- degradations ----------------------------------------------------------------------------------
def shuffled(score, rng):
    from models.music.tokens import NoteEvent, Score

    bar = score.bar_length
    perm = rng.permutation(score.bars)
    while score.bars > 1 and (perm == np.arange(score.bars)).all():
        perm = rng.permutation(score.bars)
    where = {int(old): new for new, old in enumerate(perm)}
    notes = [NoteEvent(where[n.start // bar] * bar + n.start % bar, n.duration, n.pitch, n.voice)
             for n in score.notes if n.start // bar in where]
    return Score(tuple(sorted(notes, key=lambda n: (n.start, -n.pitch))), score.meter, score.key, score.style,
                 score.density, score.bars)


def wrong_key(score, rng):
    from models.music.tokens import NoteEvent, Score

    t = int(rng.integers(1, 12))
    t = t - 12 if t > 6 else t
    notes = tuple(NoteEvent(n.start, n.duration, n.pitch + t, n.voice) for n in score.notes)
    return Score(notes, score.meter, score.key, score.style, score.density, score.bars)  # request keeps the key


def jittered(score, rng):
    from models.music.tokens import NoteEvent, Score

    notes = []
    for n in score.notes:
        d = int(rng.choice([-2, -1, 1, 2])) if rng.random() < 0.25 else 0
        notes.append(NoteEvent(n.start, n.duration, n.pitch + d, n.voice))
    return Score(tuple(notes), score.meter, score.key, score.style, score.density, score.bars)


def scrambled(score, rng):
    """Alto and tenor a beat late (clipped at the end), tenor an octave up: voices cross and clash."""
    from models.music.tokens import NoteEvent, Score

    end = score.bars * score.bar_length
    notes = []
    for n in score.notes:
        if n.voice in (1, 2):
            start = n.start + 4
            if start >= end:
                continue
            notes.append(NoteEvent(start, min(n.duration, end - start), n.pitch + (12 if n.voice == 2 else 0), n.voice))
        else:
            notes.append(n)
    return Score(tuple(sorted(notes, key=lambda n: (n.start, -n.pitch))), score.meter, score.key, score.style,
                 score.density, score.bars)


def reciting(score, rng):
    """The melody made a reciting tone, as the composer's audit heard the tool's: its pitches drawn
    toward their median (to 30-50% of their distance, kept in the key's scale) and a quarter to a
    half of its notes (after the first) made repeats of the note before; rhythm, key and every
    other part kept."""
    from models.music.analysis import melody_notes
    from models.music.tokens import NoteEvent, Score

    mel = melody_notes(score)
    if not mel:
        return score
    scale = score.key.scale()
    med = float(np.median([n.pitch for n in mel]))
    squeeze, repeat = rng.uniform(0.3, 0.5), rng.uniform(0.25, 0.5)
    new, prev = {}, None
    for n in mel:
        p = int(round(med + (n.pitch - med) * squeeze))
        p = min((q for q in range(p - 2, p + 3) if q % 12 in scale), key=lambda q: (abs(q - p), q), default=p)
        if prev is not None and rng.random() < repeat:
            p = prev
        new[n], prev = p, p
    notes = [NoteEvent(n.start, n.duration, new.get(n, n.pitch), n.voice) for n in score.notes]
    return Score(tuple(sorted(notes, key=lambda n: (n.start, -n.pitch))), score.meter, score.key, score.style,
                 score.density, score.bars)


def _lower_voice_notes(score, fn):
    """The piece with every note under the melody (voices below 0, or a one-voice score's lower
    notes) replaced by ``fn(notes under the melody)``; the melody kept."""
    from models.music.analysis import melody_notes
    from models.music.tokens import Score

    vs = sorted({n.voice for n in score.notes})
    mel = set(n for n in score.notes if n.voice == vs[0]) if len(vs) >= 2 else set(melody_notes(score))
    lower = [n for n in score.notes if n not in mel]
    notes = list(mel) + fn(lower)
    return Score(tuple(sorted(notes, key=lambda n: (n.start, -n.pitch))), score.meter, score.key, score.style,
                 score.density, score.bars)


def held(score, rng):
    """Static harmony (the composer's "whole bars of one chord"): the parts under the melody hold
    the notes they sound on each bar's first beat across the bar; the melody kept."""
    from models.music.tokens import NoteEvent

    bar = score.bar_length

    def fn(lower):
        out = []
        for b in range(score.bars):
            at = b * bar
            for v in sorted({n.voice for n in lower}):
                # the notes of this part sounding on the downbeat, else those starting in the first beat
                mine = [n for n in lower if n.voice == v and n.start <= at < n.start + n.duration]
                if not mine:
                    first = [n for n in lower if n.voice == v and at < n.start < at + 4]
                    mine = [n for n in first if n.start == min(m.start for m in first)]
                out += [NoteEvent(at, bar, n.pitch, n.voice) for n in mine]
        return out
    return _lower_voice_notes(score, fn)


def tonic_dominant(score, rng):
    """Harmony nearly only I and V (the composer's complaint): each half bar, the chord (tonic or
    dominant triad) that holds more of the melody's notes there; every note under the melody moved to
    the nearest tone of it (the lowest part to its root); rhythm and the melody kept."""
    from models.music.analysis import melody_notes
    from models.music.tokens import NoteEvent

    half = max(score.bar_length // 2, 4)
    t = score.key.tonic
    third = 4 if score.key.mode == "major" else 3
    tonic = {t, (t + third) % 12, (t + 7) % 12}
    dom = {(t + 7) % 12, (t + 11) % 12, (t + 2) % 12}
    mel = melody_notes(score)
    vs = sorted({n.voice for n in score.notes})

    def fn(lower):
        bass_voice = max(vs) if len(vs) >= 2 else None
        out = []
        for n in lower:
            seg = n.start // half
            inside = [m for m in mel if m.start // half == seg]
            fit_t = sum(m.duration for m in inside if m.pitch % 12 in tonic)
            fit_d = sum(m.duration for m in inside if m.pitch % 12 in dom)
            chord = dom if fit_d > fit_t else tonic
            root = (t + 7) % 12 if chord is dom else t
            is_bass = n.voice == bass_voice if bass_voice is not None else \
                n.pitch == min(m.pitch for m in lower if m.start <= n.start < m.start + m.duration)
            want = {root} if is_bass else chord
            p = min((q for q in range(n.pitch - 6, n.pitch + 7) if q % 12 in want), key=lambda q: (abs(q - n.pitch), q))
            out.append(NoteEvent(n.start, n.duration, p, n.voice))
        return out
    return _lower_voice_notes(score, fn)


DEGRADATIONS = {"shuffled": shuffled, "wrong_key": wrong_key, "jittered": jittered, "scrambled": scrambled,
                "reciting": reciting, "held": held, "tonic_dominant": tonic_dominant}
OWN_RNG = ("reciting", "held", "tonic_dominant")  # degradations added later draw from their own generator: the others' draws stay as they were


def critic_values(score) -> dict[str, float | None]:
    from tools.critics.music import hearing

    h = hearing(score, score.key, style=score.style)
    return {"tonal": h.tonal, "cadence": h.cadence, "form": h.form, "texture": h.texture,
            "voice_leading": h.voice_leading, "melody": h.melody, "harmony": h.harmony, "_failing": h.failing()}


def auc(pos: list[float], neg: list[float]) -> float | None:
    """ROC AUC = P(real scores above degraded), ties half (Mann-Whitney)."""
    if not pos or not neg:
        return None
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def evaluate(real: list, seed: int = 0) -> dict:
    from models.music.analysis import melody_notes

    rng = np.random.default_rng(seed)
    rows = []  # (split, kind, degradation or "real", values)
    on_tonic = {}  # split -> per real piece (in order): its melody ends on its labelled tonic
    for i, s in enumerate(real):
        split = "dev" if i % 2 == 0 else "test"
        rows.append((split, s.style, "real", critic_values(s)))
        on_tonic.setdefault(split, []).append(melody_notes(s)[-1].pitch % 12 == s.key.tonic)
        for name, fn in DEGRADATIONS.items():
            if name == "scrambled" and len({n.voice for n in s.notes}) < 4:
                continue
            r = np.random.default_rng([seed, i, list(DEGRADATIONS).index(name)]) if name in OWN_RNG else rng
            rows.append((split, s.style, name, critic_values(fn(s, r))))
    out: dict = {}
    for critic, hears in HEARS.items():
        res: dict = {}
        for split in ("dev", "test"):
            real_v = [v[critic] for sp, _, d, v in rows if sp == split and d == "real" and v[critic] is not None]
            per = {}
            pooled_neg = []
            for name in DEGRADATIONS:
                neg = [v[critic] for sp, _, d, v in rows if sp == split and d == name and v[critic] is not None]
                per[name] = auc(real_v, neg)
                if name in hears:
                    pooled_neg += neg
            by_style = {}
            for style in sorted({st for _, st, _, _ in rows}):
                r = [v[critic] for sp, st, d, v in rows if sp == split and st == style and d == "real"
                     and v[critic] is not None]
                n = [v[critic] for sp, st, d, v in rows if sp == split and st == style and d in hears
                     and v[critic] is not None]
                by_style[style] = auc(r, n)
            # the real pieces split by whether they end on the tonic the bench labels them with
            # (Krumhansl-Schmuckler; a modal tune or a chorale read in another key ends off it)
            reals = [v[critic] for sp, _, d, v in rows if sp == split and d == "real"]
            ending = {}
            for name, want in (("on_labelled_tonic", True), ("off_labelled_tonic", False)):
                r = [x for x, t in zip(reals, on_tonic[split]) if t == want and x is not None]
                ending[name] = {"n_real": len(r), "auc_pooled": auc(r, pooled_neg)}
            res[split] = {"auc": per, "auc_pooled": auc(real_v, pooled_neg), "auc_pooled_by_style": by_style,
                          "auc_pooled_by_ending": ending,
                          "n_real": len(real_v), "real_mean": float(np.mean(real_v)) if real_v else None}
        out[critic] = res
    # the real pieces that clear every floor (``FLOORS``; and music21 hearing the labelled key in 8
    # bars or more): quality capped under the revision floor for the rest
    floors = {}
    for split in ("dev", "test"):
        fails = [v["_failing"] for sp, _, d, v in rows if sp == split and d == "real"]
        names = sorted({f for fl in fails for f in fl})
        floors[split] = {"n_real": len(fails), "clear_every_floor": float(np.mean([not f for f in fails])),
                         "under": {k: int(sum(k in f for f in fails)) for k in names}}
    out["_floors_real"] = floors
    # each critic's AUC against every degradation pooled (a critic hears only some: the melody
    # critic cannot tell a transposed or shuffled piece, whose line is the same)
    for critic in HEARS:
        for split in ("dev", "test"):
            real_v = [v[critic] for sp, _, d, v in rows if sp == split and d == "real" and v[critic] is not None]
            neg = [v[critic] for sp, _, d, v in rows if sp == split and d != "real" and v[critic] is not None]
            out[critic][split]["auc_pooled_all"] = auc(real_v, neg)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chorales", type=int, default=60)
    ap.add_argument("--folk", type=int, default=80)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/music-critics-real.npz"))
    ap.add_argument("--no-fermatas", dest="fermatas", action="store_false",
                    help="skip the fermata check (it parses the chorales again)")
    args = ap.parse_args()
    real = load_real(args.chorales, args.folk, args.cache)
    res = evaluate(real)
    res["_pieces"] = {"chorales": sum(s.style == "chorale" for s in real),
                      "folk": sum(s.style != "chorale" for s in real)}
    if args.fermatas:
        res["_fermatas"] = fermata_check([s for s in real if s.style == "chorale"])
        print("phrase ends vs fermatas", json.dumps(res["_fermatas"]))
    (Path(__file__).parent / "music_critics.json").write_text(json.dumps(res, indent=1))
    for critic in HEARS:
        t = res[critic]["test"]
        print(f"{critic:14s} pooled test {t['auc_pooled']!s:6.6} dev {res[critic]['dev']['auc_pooled']!s:6.6} "
              + " ".join(f"{k}={v:.2f}" for k, v in t["auc"].items() if v is not None))
    print("real pieces clearing every floor", json.dumps(res["_floors_real"]))


if __name__ == "__main__":
    main()
