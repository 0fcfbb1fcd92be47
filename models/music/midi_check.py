"""A strict structural scan of a Standard MIDI File before any parser sees it.

pretty_midi/mido trust the file: a 1e9-tick file makes pretty_midi allocate per tick, a
malformed length runs past the data, and bad bytes surface as assorted exceptions. This scan
walks every chunk and event once (bounded by the byte cap) and rejects, with one message that
names the problem and the fix: a wrong header, zero or SMPTE division, truncated chunks,
variable-length numbers over 4 bytes, data bytes over 127, running status with no status,
too many notes, and a largest tick past the limit.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from models.common.errors import InputFileError

MAX_MIDI_BYTES = 4 * 1024 * 1024
MAX_MIDI_NOTES = 100_000
MAX_MIDI_TICK = 10_000_000  # pretty_midi builds a per-tick table; past this it is memory, not music
MAX_TRACKS = 256

_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}


@dataclass(frozen=True)
class MidiSummary:
    format: int
    tracks: int
    ticks_per_beat: int
    notes: int
    max_tick: int


def _vlq(data: bytes, i: int, end: int, name: str) -> tuple[int, int]:
    value = 0
    for n in range(4):
        if i >= end:
            raise InputFileError(f"{name}: truncated MIDI data (a length runs past the end); re-export the file")
        b = data[i]
        i += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, i
    raise InputFileError(f"{name}: corrupt MIDI data (a variable-length number longer than 4 bytes)")


def scan_midi(data: bytes, name: str) -> MidiSummary:
    if len(data) == 0:
        raise InputFileError(f"{name}: the file is empty; give a Standard MIDI File (.mid)")
    if len(data) > MAX_MIDI_BYTES:
        raise InputFileError(f"{name}: {len(data)} bytes is over the {MAX_MIDI_BYTES} byte limit for a MIDI file")
    if data[:4] != b"MThd" or len(data) < 14:
        raise InputFileError(f"{name}: not a MIDI file (no 'MThd' header); export it as a Standard MIDI File")
    hlen, fmt, ntrk, division = struct.unpack(">IHHh", data[4:14])
    if hlen < 6 or fmt > 2 or 8 + hlen > len(data):
        raise InputFileError(f"{name}: malformed MIDI header (length {hlen}, format {fmt}); re-export the file")
    if division < 0:
        raise InputFileError(f"{name}: SMPTE time division is not supported; re-export with ticks per beat")
    if division == 0:
        raise InputFileError(f"{name}: ticks per beat is 0; the file is corrupt")
    if ntrk == 0 or ntrk > MAX_TRACKS:
        raise InputFileError(f"{name}: {ntrk} tracks; a MIDI file here has 1 to {MAX_TRACKS}")
    pos, notes, max_tick, seen = 8 + hlen, 0, 0, 0
    while pos + 8 <= len(data) and seen < ntrk:
        cid, clen = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])[0]
        start, end = pos + 8, pos + 8 + clen
        if end > len(data):
            raise InputFileError(f"{name}: truncated MIDI file (track {seen + 1} is cut short); re-export the file")
        pos = end
        if cid != b"MTrk":
            continue  # unknown chunks are allowed by the standard and skipped
        seen += 1
        tick, status, i = 0, 0, start
        while i < end:
            delta, i = _vlq(data, i, end, name)
            tick += delta
            if tick > MAX_MIDI_TICK:
                raise InputFileError(f"{name}: the largest tick passes {MAX_MIDI_TICK}; the file is corrupt or absurdly long")
            if i >= end:
                raise InputFileError(f"{name}: truncated MIDI data (an event with no bytes); re-export the file")
            b = data[i]
            if b == 0xFF:  # meta event
                if i + 2 > end:
                    raise InputFileError(f"{name}: truncated meta event; re-export the file")
                length, i = _vlq(data, i + 2, end, name)
                i += length
            elif b in (0xF0, 0xF7):  # sysex
                length, i = _vlq(data, i + 1, end, name)
                i += length
            else:
                if b & 0x80:
                    status, i = b, i + 1
                elif not status:
                    raise InputFileError(f"{name}: corrupt MIDI data (running status with no status byte)")
                kind = status & 0xF0
                n = _DATA_LEN.get(kind)
                if n is None:
                    raise InputFileError(f"{name}: corrupt MIDI data (status byte 0x{status:02X} is not a channel event)")
                if i + n > end:
                    raise InputFileError(f"{name}: truncated MIDI data (an event is cut short); re-export the file")
                if any(x > 127 for x in data[i:i + n]):
                    raise InputFileError(f"{name}: corrupt MIDI data (a data byte over 127)")
                if kind == 0x90 and data[i + 1] > 0:
                    notes += 1
                    if notes > MAX_MIDI_NOTES:
                        raise InputFileError(f"{name}: more than {MAX_MIDI_NOTES} notes; give a shorter piece")
                i += n
            if i > end:
                raise InputFileError(f"{name}: truncated MIDI data (an event runs past its track); re-export the file")
        max_tick = max(max_tick, tick)
    if seen < ntrk:
        raise InputFileError(f"{name}: truncated MIDI file ({seen} of {ntrk} tracks present); re-export the file")
    return MidiSummary(fmt, ntrk, division, notes, max_tick)
