"""Files in and out, safely.

Writing: a crash, a full disk or a cancel leaves the old file or the new one, never half of one
(write a hidden temporary file beside the target, fsync it, rename it over).

Reading: every input (brief, MIDI, image, weights) is bounded before it starts. ``open_regular``
refuses what is not a regular file (a FIFO would block for ever, /dev/zero never ends, a
directory is not an input) and a size over the caller's cap, from fstat, before a byte is read;
``read_capped`` then reads at most the cap."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from models.common.errors import InputFileError, UserFixableError


def write_atomic(path: str | Path, data: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # an ordinary readable file, whatever wrote the bytes
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | Path, limit: int, what: str,
                 error: type[UserFixableError] = InputFileError) -> tuple[BinaryIO, int]:
    """Open ``path`` for reading only if it is a regular file of at most ``limit`` bytes; returns
    (binary file, size). Anything else is one ``error`` line naming the file and what it is.

    Opened with O_NONBLOCK, so a FIFO answers at once instead of waiting for a writer, and
    checked with fstat on the opened descriptor, so what is read is what was checked. A symbolic
    link to a regular file is fine: inputs are the person's own files wherever they point."""
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except ValueError:  # an embedded NUL
        raise error(f"the {what} path contains a NUL byte") from None
    except FileNotFoundError:
        raise error(f"{name}: cannot read: no such {what} file; check the path") from None
    except OSError as e:
        if e.errno == errno.ENXIO:  # a socket cannot be opened: say what it is
            try:
                mode = os.stat(path).st_mode
            except OSError:
                mode = None
            if mode is not None:
                raise error(f"{name}: is {_kind(mode)}; give a regular {what} file") from None
        raise error(f"{name}: cannot read ({e.strerror}); check the path") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{name}: is {_kind(st.st_mode)}; give a regular {what} file")
        if st.st_size > limit:
            raise error(f"{name}: {st.st_size} bytes is over the {limit} byte limit for {what} files")
        if hasattr(os, "set_blocking") and hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def read_capped(path: str | Path, limit: int, what: str, error: type[UserFixableError] = InputFileError) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see ``open_regular``); never reads
    more than ``limit + 1`` bytes, even from a file that grows while it is read."""
    f, _ = open_regular(path, limit, what, error)
    with f:
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise error(f"{path}: cannot read ({e.strerror})") from None
    if len(data) > limit:
        raise error(f"{path}: over the {limit} byte limit for {what} files")
    return data
