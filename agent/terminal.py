"""Text from people, files and models, made safe to print on a terminal.

A terminal obeys what it is sent. ESC starts a command: ``ESC [2J`` clears the screen, OSC 0
retitles the window, OSC 8 hides a link behind innocent text, OSC 52 writes the clipboard; the
C1 bytes 0x80-0x9f are the same commands in one byte on some terminals; a CR rewrites the line.
Unicode's format characters (bidi overrides and isolates, zero-width spaces, tag characters)
make text read differently from what it is ("Trojan Source", CVE-2021-42574). A brief title, a
turn, a file name or a model's answer can carry any of them.

So every printer outside the chat writes through ``safe_text``/``say``, which show such
characters as escapes (``\\x1b``, ``<U+202E>``): the person sees that they are there, and the
terminal receives only printable text. JSON output (``json_line``) escapes them as ``\\uXXXX``,
which any JSON reader turns back into the same string. The chat (``tui.clean``) removes them
instead, escape sequences whole, since there the text is for reading, not for inspecting.

Zero-width joiners (U+200C, U+200D) between two non-ASCII characters are kept: they are part of
the spelling of Persian and Indic words and of emoji sequences, and hide nothing there.
"""

from __future__ import annotations

import json
import re
import sys
from typing import TextIO

# Unicode general category Cf (format characters), as of Unicode 15; tests/test_terminal_and_reads.py
# checks that this covers every Cf character of the running Python's unicodedata
_FORMAT = ("\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
           "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
           "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")
# C0 and C1 controls, DEL, format characters, line/paragraph separators, and lone surrogates
# (the undecodable bytes of a file name, which would also make print() raise)
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_FORMAT}\u2028\u2029\ud800-\udfff]")
_UNSAFE_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_FORMAT}\u2028\u2029\ud800-\udfff]")
# whole escape sequences, for removal: CSI (7- and 8-bit); OSC, DCS, SOS, PM, APC strings ended by
# BEL or ST; and the short ESC sequences (ESC c, ESC 7, ESC ( B …)
_SEQUENCE = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
                       r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
                       r"|\x1b[ -/]*[0-~]")
# in JSON text, raw TAB/LF/CR can only be whitespace between tokens (json.dumps escapes them in strings)
_UNSAFE_JSON = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_FORMAT}\u2028\u2029\ud800-\udfff]")
_JOINERS = "\u200c\u200d"
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _kept_joiner(m: re.Match) -> bool:
    s, i = m.string, m.start()
    if m.group() not in _JOINERS or i == 0 or i + 1 >= len(s):
        return False
    return all(ord(c) > 0x7F and not _UNSAFE.match(c) and not c.isspace() for c in (s[i - 1], s[i + 1]))


def _shown(m: re.Match) -> str:
    c = m.group()
    if _kept_joiner(m):
        return c
    n = ord(c)
    if c in _NAMED:
        return _NAMED[c]
    if n <= 0x9F:
        return f"\\x{n:02x}"
    if 0xDC80 <= n <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): show the byte
        return f"\\x{n - 0xDC00:02x}"
    return f"<U+{n:04X}>"


def _dropped(m: re.Match) -> str:
    if _kept_joiner(m):
        return m.group()
    return " " if m.group() in "\n\t" else ""


def safe_text(text: object, *, multiline: bool = False, visible: bool = True) -> str:
    """``text`` with nothing a terminal would act on. ``multiline`` keeps newlines and tabs;
    ``visible`` shows every other control or format character as an escape, else removes it
    (escape sequences whole)."""
    s = str(text)
    if multiline:
        s = s.replace("\r\n", "\n")
    pattern = _UNSAFE_MULTILINE if multiline else _UNSAFE
    if visible:
        return pattern.sub(_shown, s)
    return pattern.sub(_dropped, _SEQUENCE.sub("", s))


def say(text: object, file: TextIO | None = None, *, multiline: bool = False, end: str = "\n") -> None:
    """Print ``text`` made safe (see ``safe_text``); ``end`` is written as given."""
    out = file if file is not None else sys.stdout
    out.write(safe_text(text, multiline=multiline) + end)
    out.flush()


def _json_escape(m: re.Match) -> str:
    n = ord(m.group())
    if n > 0xFFFF:  # JSON escapes name UTF-16 units: a surrogate pair
        n -= 0x10000
        return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"
    return f"\\u{n:04x}"


def safe_json(text: str) -> str:
    """A JSON text with every control and format character inside its strings escaped as
    ``\\uXXXX`` (the same JSON value; JSON's own syntax is ASCII, so they can only be in strings)."""
    return _UNSAFE_JSON.sub(_json_escape, text)


def json_line(obj: object, **kw) -> str:
    """``json.dumps`` that keeps readable Unicode (poems in Chinese stay readable) but lets no
    control or format character through."""
    return safe_json(json.dumps(obj, ensure_ascii=False, **kw))
