"""Hostile and broken MIDI files: each gives one clear InputFileError, quickly, never a crash."""

import io
import struct

import pretty_midi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.common.errors import InputFileError
from models.music.midi_check import MAX_MIDI_NOTES, scan_midi
from models.music.midi_io import read_midi


def smf(tracks: list[bytes], division: int = 480, fmt: int = 1, ntrk: int | None = None) -> bytes:
    head = b"MThd" + struct.pack(">IHHh", 6, fmt, len(tracks) if ntrk is None else ntrk, division)
    return head + b"".join(b"MTrk" + struct.pack(">I", len(t)) + t for t in tracks)


END = b"\x00\xff\x2f\x00"


def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))

NOTE = b"\x00\x90\x3c\x40\x60\x80\x3c\x40"  # C4 on, a quarter later off


def good_midi() -> bytes:
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes = [pretty_midi.Note(80, 60 + i % 12, i * 0.25, i * 0.25 + 0.25) for i in range(16)]
    pm.instruments.append(inst)
    b = io.BytesIO()
    pm.write(b)
    return b.getvalue()


CASES = {
    "empty": (b"", "the file is empty"),
    "not midi": (b"hello, I am a text file renamed .mid\n", "not a MIDI file"),
    "truncated": (good_midi()[:60], "truncated"),
    "wrong header length": (b"MThd" + struct.pack(">IHHh", 2, 1, 1, 480) + b"MTrk\x00\x00\x00\x04" + END, "malformed MIDI header"),
    "zero ticks per beat": (smf([NOTE + END], division=0), "ticks per beat is 0"),
    "smpte": (smf([NOTE + END], division=-(25 << 8 | 40)), "SMPTE"),
    "data byte over 127": (smf([b"\x00\x90\x3c\xc0" + END]), "data byte over 127"),
    "5-byte number": (smf([b"\x81\x81\x81\x81\x01\x90\x3c\x40" + END]), "longer than 4 bytes"),
    "largest tick 1e9": (smf([b"".join(vlq(250_000_000) + b"\x90\x3c\x40" for _ in range(4)) + END]), "largest tick passes"),
    "running status with no status": (smf([b"\x00\x3c\x40" + END]), "running status with no status"),
    "missing tracks": (smf([NOTE + END], ntrk=3), "1 of 3 tracks"),
    "million notes": (smf([b"\x00\x90\x3c\x40\x00\x3c\x00" * (MAX_MIDI_NOTES + 1) + END]), "more than 100000 notes"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_midi_is_one_clear_error(tmp_path, name, monkeypatch):
    data, fragment = CASES[name]
    p = tmp_path / "primer.mid"
    p.write_bytes(data)

    def parser_reached(*a, **kw):
        raise AssertionError("pretty_midi was handed a file the scan should have refused")

    # the bounded scan refuses the file first: pretty_midi, whose reading of a bad file is not
    # bounded in time or memory, never runs (a structural check, not a clock)

    monkeypatch.setattr(pretty_midi, "PrettyMIDI", parser_reached)
    with pytest.raises(InputFileError) as e:
        read_midi(p)
    msg = str(e.value)
    assert fragment in msg and str(p) in msg and "\n" not in msg


def test_a_good_file_passes_the_scan_and_reads():
    s = scan_midi(good_midi(), "ok.mid")
    assert s.notes == 16 and s.ticks_per_beat == 220


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="cannot read"):
        read_midi(tmp_path / "nope.mid")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.integers(0, 200))
def test_mutated_files_never_crash(tmp_path_factory, noise, at):
    """Fuzz: any bytes spliced into a valid file either read or raise InputFileError."""
    base = good_midi()
    data = base[:at] + noise + base[at + len(noise) // 2:]
    p = tmp_path_factory.mktemp("fz") / "f.mid"
    p.write_bytes(data)
    try:
        read_midi(p)
    except InputFileError:
        pass
