"""Renderings: piano roll PNG always; WAV through FluidSynth when it is installed."""

import wave

import pytest
from PIL import Image

from models.music.midi_io import piano_roll_png, render_wav, synth_available
from models.music.tokens import Key
from tests.tiny import scale_tune


def test_piano_roll_png(tmp_path):
    s = scale_tune(Key(2, "minor"), bars=4)
    piano_roll_png(s, tmp_path / "roll.png", "D minor")
    img = Image.open(tmp_path / "roll.png")
    assert img.format == "PNG" and img.width == 4 * 16 * 8 + 1
    # note cells are drawn in the note colour
    assert (40, 90, 160) in {c for _, c in img.getcolors(1 << 16)}


def test_wav_rendering(tmp_path):
    why = synth_available()
    if why:
        pytest.skip(why)
    s = scale_tune(Key(7, "major"), bars=2)
    assert render_wav(s, 120.0, 40, tmp_path / "a.wav")
    with wave.open(str(tmp_path / "a.wav")) as w:
        seconds = w.getnframes() / w.getframerate()
    assert 4.0 <= seconds <= 6.5  # 2 bars of 4/4 at 120 bpm = 4 s, plus the release tail
