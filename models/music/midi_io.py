"""MIDI in and out (pretty_midi), piano-roll pictures (Pillow) and audio (FluidSynth, optional).

Reading is defensive: ``midi_check.scan_midi`` walks the whole file before pretty_midi sees it,
so a hostile file costs milliseconds and gives one clear error.
"""

from __future__ import annotations

from pathlib import Path

from models.common.errors import InputFileError
from models.common.files import read_capped, write_atomic
from models.music.midi_check import MAX_MIDI_BYTES, scan_midi
from models.music.tokens import MAX_PITCH, MIN_PITCH, Key, NoteEvent, Score, meter_sixteenths

MAX_MIDI_SECONDS = 3600.0
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")

# General MIDI programs for instrument names people use
INSTRUMENTS = {
    "piano": 0, "bright piano": 1, "electric piano": 4, "harpsichord": 6, "celesta": 8, "glockenspiel": 9,
    "music box": 10, "vibraphone": 11, "marimba": 12, "organ": 19, "church organ": 19, "accordion": 21,
    "harmonica": 22, "guitar": 24, "nylon guitar": 24, "steel guitar": 25, "electric guitar": 27,
    "bass": 32, "acoustic bass": 32, "violin": 40, "viola": 41, "cello": 42, "contrabass": 43,
    "harp": 46, "timpani": 47, "strings": 48, "string ensemble": 48, "choir": 52, "voice": 53,
    "trumpet": 56, "trombone": 57, "tuba": 58, "french horn": 60, "horn": 60, "brass": 61,
    "soprano sax": 64, "alto sax": 65, "saxophone": 65, "tenor sax": 66, "oboe": 68, "english horn": 69,
    "bassoon": 70, "clarinet": 71, "piccolo": 72, "flute": 73, "recorder": 74, "pan flute": 75,
    "whistle": 78, "ocarina": 79, "sitar": 104, "banjo": 105, "bagpipe": 109, "fiddle": 110,
}


def read_midi(path: Path, key: Key | None = None, meter: str = "4/4") -> Score:
    """A MIDI file as a quantised Score (sixteenth grid at the file's first tempo)."""
    return read_midi_piece(path, key, meter)[0]


def read_midi_piece(path: Path, key: Key | None = None, meter: str = "4/4") -> tuple[Score, float]:
    """(the quantised Score, the file's first tempo in quarter notes per minute)."""
    import pretty_midi

    path = Path(path)
    data = read_capped(path, MAX_MIDI_BYTES, "MIDI")  # a FIFO, a device or a huge file: refused unread
    scan_midi(data, str(path))
    import io
    import warnings

    try:
        with warnings.catch_warnings():  # e.g. "tempo events on non-zero tracks": not worth a terminal line
            warnings.simplefilter("ignore", RuntimeWarning)
            pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as e:  # mido/pretty_midi raise many types for corrupt data
        msg = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise InputFileError(f"{path}: corrupt MIDI data ({msg}); re-export the file") from None
    notes = [n for inst in pm.instruments if not inst.is_drum for n in inst.notes]
    if not notes:
        raise InputFileError(f"{path}: contains no pitched notes to continue from")
    if pm.get_end_time() > MAX_MIDI_SECONDS:
        raise InputFileError(f"{path}: lasts {pm.get_end_time():.0f} s, over the {MAX_MIDI_SECONDS:.0f} s limit")
    tempos = pm.get_tempo_changes()[1]
    qpm = float(tempos[0]) if len(tempos) else 120.0
    sixteenth = 60.0 / qpm / 4
    if pm.time_signature_changes:
        ts = pm.time_signature_changes[0]
        cand = f"{ts.numerator}/{ts.denominator}"
        try:
            meter_sixteenths(cand)
            Score((), cand, Key(0, "major"))
            meter = cand
        except ValueError:
            pass
    events = tuple(
        sorted(
            (NoteEvent(int(round(n.start / sixteenth)), max(1, int(round((n.end - n.start) / sixteenth))),
                       min(max(n.pitch, MIN_PITCH), MAX_PITCH)) for n in notes),
            key=lambda n: (n.start, -n.pitch),
        )
    )
    if key is None and pm.key_signature_changes:  # the file says (pretty_midi's numbering is ours)
        k = int(pm.key_signature_changes[0].key_number)
        key = Key(k % 12, "minor" if k >= 12 else "major")
    if key is None:
        from models.music.metrics import estimate_key

        key, _ = estimate_key(Score(events, meter, Key(0, "major")))
    return Score(events, meter, key), qpm


SATB = ("soprano", "alto", "tenor", "bass")
ACCOMPANIED = ("melody", "accompaniment", "bass")
# piano-roll colours per voice (fill, outline)
VOICE_COLOURS = (((40, 90, 160), (20, 50, 100)), ((200, 120, 40), (130, 70, 20)), ((60, 140, 70), (30, 90, 40)),
                 ((170, 60, 110), (110, 30, 70)), ((120, 100, 180), (70, 55, 120)))


def part_names(score: Score, name: str = "Ars Nova") -> dict[int, str]:
    """A track name per voice: one voice keeps ``name``; three are melody/accompaniment/bass; four SATB."""
    vs = sorted({n.voice for n in score.notes}) or [0]
    if len(vs) == 1:
        return {vs[0]: name}
    names = SATB if len(vs) == 4 else ACCOMPANIED if len(vs) == 3 else tuple(f"part {i + 1}" for i in range(len(vs)))
    return {v: f"{name} {names[i]}" for i, v in enumerate(vs)}


def to_pretty_midi(score: Score, tempo: float, program: int = 0, name: str = "Ars Nova", velocity: int = 80):
    """One named track per voice (melody louder than the parts under it)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=float(tempo))
    num, den = (int(x) for x in score.meter.split("/"))
    pm.time_signature_changes.append(pretty_midi.TimeSignature(num, den, 0.0))
    pm.key_signature_changes.append(pretty_midi.KeySignature(score.key.index, 0.0))
    names = part_names(score, name)
    tracks = {v: pretty_midi.Instrument(program=program, name=nm) for v, nm in names.items()}
    accompanied = len(names) == 3
    sixteenth = 60.0 / tempo / 4
    end_limit = score.bars * score.bar_length
    for n in score.notes:
        end = min(n.start + n.duration, end_limit) if end_limit else n.start + n.duration
        if end <= n.start:
            continue
        # accent the downbeat slightly so the rendering breathes; an accompaniment sits under the tune
        vel = velocity + (8 if n.start % score.bar_length == 0 else 0) - (18 if accompanied and n.voice else 0)
        tracks[n.voice].notes.append(pretty_midi.Note(max(1, min(127, vel)), n.pitch, n.start * sixteenth,
                                                      end * sixteenth))
    pm.instruments.extend(tracks[v] for v in sorted(tracks))
    return pm


def midi_bytes(score: Score, tempo: float, program: int = 0, name: str = "Ars Nova") -> bytes:
    import io

    buf = io.BytesIO()
    to_pretty_midi(score, tempo, program, name).write(buf)
    return buf.getvalue()


def read_parts(path: Path, key: Key | None = None) -> Score:
    """A MIDI file with each pitched track as one voice (track order), for analysis."""
    import io

    import pretty_midi

    data = read_capped(Path(path), MAX_MIDI_BYTES, "MIDI")
    scan_midi(data, str(path))
    flat = read_midi(Path(path), key=key)
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    tempos = pm.get_tempo_changes()[1]
    sixteenth = 60.0 / (float(tempos[0]) if len(tempos) else 120.0) / 4
    notes = []
    for v, inst in enumerate(i for i in pm.instruments if not i.is_drum):
        for n in inst.notes:
            notes.append(NoteEvent(int(round(n.start / sixteenth)), max(1, int(round((n.end - n.start) / sixteenth))),
                                   min(max(n.pitch, MIN_PITCH), MAX_PITCH), min(v, 15)))
    notes.sort(key=lambda n: (n.start, n.voice, -n.pitch))
    return Score(tuple(notes), flat.meter, flat.key)


def piano_roll_png(score: Score, path: Path, title: str = "") -> None:
    """A piano roll: one row per semitone, one column per sixteenth, bar lines in grey."""
    from PIL import Image, ImageDraw

    cell_w, cell_h = 8, 6
    if score.notes:
        lo = min(n.pitch for n in score.notes) - 2
        hi = max(n.pitch for n in score.notes) + 2
    else:
        lo, hi = 60, 72
    total = max(score.bars * score.bar_length, 1)
    w, h = total * cell_w + 1, (hi - lo + 1) * cell_h + 18
    img = Image.new("RGB", (w, h), (250, 248, 240))
    d = ImageDraw.Draw(img)
    scale = score.key.scale()
    for p in range(lo, hi + 1):
        y = 18 + (hi - p) * cell_h
        if p % 12 not in scale:
            d.rectangle([0, y, w, y + cell_h - 1], fill=(236, 233, 224))
    for b in range(score.bars + 1):
        x = b * score.bar_length * cell_w
        d.line([x, 18, x, h], fill=(170, 170, 170))
    voices = sorted({n.voice for n in score.notes})
    for n in sorted(score.notes, key=lambda n: -n.voice):  # the melody drawn last, on top
        x0 = n.start * cell_w
        x1 = min(n.start + n.duration, total) * cell_w - 1
        y = 18 + (hi - n.pitch) * cell_h
        fill, outline = VOICE_COLOURS[voices.index(n.voice) % len(VOICE_COLOURS)]
        d.rectangle([x0, y, max(x0 + 1, x1), y + cell_h - 1], fill=fill, outline=outline)
    d.text((4, 3), title or f"{score.key.name}  {score.meter}  {score.bars} bars", fill=(30, 30, 30))
    if len(voices) > 1:  # a legend: one swatch per part, right-aligned in the title strip
        names = [nm.split()[-1] for nm in part_names(score, "").values()]
        x = w - 4
        for i in reversed(range(len(voices))):
            label = names[i] if i < len(names) else f"part {i + 1}"
            tw = int(d.textlength(label)) if hasattr(d, "textlength") else 6 * len(label)
            x -= tw + 14
            d.rectangle([x, 5, x + 8, 12], fill=VOICE_COLOURS[i % len(VOICE_COLOURS)][0])
            d.text((x + 11, 3), label, fill=(30, 30, 30))
            x -= 6
    buf = _png_bytes(img)
    write_atomic(Path(path), buf)


def _png_bytes(img) -> bytes:
    import io

    b = io.BytesIO()
    img.save(b, format="PNG")
    return b.getvalue()


def find_soundfont(preferred: str | Path | None = None) -> str | None:
    """``preferred`` (the person's, from $ARSNOVA_SOUNDFONT) when it exists, else a system one."""
    for cand in ([str(preferred)] if preferred else []) + list(SOUNDFONTS):
        if cand and Path(cand).exists():
            return cand
    return None


def synth_available(soundfont: str | Path | None = None) -> str | None:
    """Why audio cannot be rendered, or None when it can."""
    if find_soundfont(soundfont) is None:
        return "no General MIDI soundfont: install Debian's fluid-soundfont-gm or set ARSNOVA_SOUNDFONT"
    try:
        import fluidsynth  # noqa: F401
    except Exception:
        return "pyfluidsynth is not installed: pip install 'arsnova[audio]' and apt-get install fluidsynth"
    return None


def render_wav(score: Score, tempo: float, program: int, path: Path, soundfont: str | Path | None = None) -> bool:
    """Render through FluidSynth; False (and no file) when no synthesiser is installed."""
    if synth_available(soundfont) is not None:
        return False
    import io
    import wave

    import numpy as np

    import inspect

    pm = to_pretty_midi(score, tempo, program)
    # pretty_midi >= 0.2.11 names the soundfont argument `synthesizer`; older releases `sf2_path`
    arg = "synthesizer" if "synthesizer" in inspect.signature(pm.fluidsynth).parameters else "sf2_path"
    audio = pm.fluidsynth(fs=22050, **{arg: find_soundfont(soundfont)})
    pcm = (np.clip(audio / max(1e-9, float(np.abs(audio).max())) * 0.9, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(pcm.tobytes())
    write_atomic(Path(path), buf.getvalue())
    return True


PART_GLYPHS = ("▓", "▒", "░")  # parts under the melody, in voice order


def piano_roll_text(score: Score, width: int = 96, max_rows: int = 18) -> str:
    """The piano roll in text cells: one row per pitch (or pair of pitches), time left to right,
    '│' at bar lines, '█' where a melody (or only) note sounds, ▓ ▒ ░ for the parts under it."""
    if not score.notes:
        return "(no notes)"
    lo = min(n.pitch for n in score.notes)
    hi = max(n.pitch for n in score.notes)
    step = max(1, -(-(hi - lo + 1) // max_rows))  # semitones per row
    rows = (hi - lo) // step + 1
    total = max(score.bars * score.bar_length, 1)
    room = max(8, width - 6)
    # sixteenths per column: a divisor of the bar (or whole bars) so bar lines fall evenly
    bar = score.bar_length
    per_col = next((d for d in range(1, bar + 1) if bar % d == 0 and total // d <= room), None)
    per_col = per_col or bar * -(-total // (room * bar))
    cols = -(-total // per_col)
    grid = [[" "] * cols for _ in range(rows)]
    for b in range(score.bars):
        c = b * score.bar_length // per_col
        for r in range(rows):
            grid[r][c] = "│"
    top = min((n.voice for n in score.notes), default=0)
    for n in sorted(score.notes, key=lambda n: -n.voice):  # the melody last, over its accompaniment
        r = rows - 1 - (n.pitch - lo) // step
        c0 = n.start // per_col
        c1 = max(c0 + 1, min(n.start + n.duration, total) // per_col)
        for c in range(c0, min(c1, cols)):
            grid[r][c] = "█" if n.voice == top else PART_GLYPHS[(n.voice - top - 1) % len(PART_GLYPHS)]
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    out = []
    for r in range(rows):
        p = lo + (rows - 1 - r) * step
        label = f"{names[p % 12]}{p // 12 - 1}" if r == 0 or r == rows - 1 or p % 12 == score.key.tonic else ""
        out.append(f"{label:>4} " + "".join(grid[r]))
    return "\n".join(out)


def piano_roll_text_of(midi: Path, width: int = 96) -> str:
    """The text piano roll of a MIDI file, or the reason it cannot be read."""
    try:
        return piano_roll_text(read_parts(midi), width)
    except InputFileError as e:
        return str(e)
