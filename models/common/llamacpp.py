"""llama.cpp in this process, for GGUF models a person has (``gguf:PATH`` planners and poets).

The binding is xllamacpp (``pip install 'arsnova[gguf]'``): a maintained binding of llama.cpp's
server code that PyPI ships as a prebuilt 34 MB manylinux wheel for every CPython from 3.10
(abi3), so it installs in seconds on a fresh machine; llama-cpp-python, the better-known binding,
ships only a source distribution to PyPI and compiles llama.cpp on install (23 minutes on this
project's 2-core machine). Requests are the server's JSON (chat completions, completions) handed
over in process. The binding also opens an HTTP listener on 127.0.0.1; it is given a random key
that nothing is told, so no other program on the machine can use the model through it.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import threading
from pathlib import Path

from models.common.errors import ModelFileError, UserFixableError

INSTALL = "pip install 'arsnova[gguf]'"
GGUF_MAGIC = b"GGUF"


def check_gguf(path: str, role: str = "model") -> Path:
    """The file a ``gguf:`` spec names: present, a regular file, and a GGUF by its first bytes."""
    if not path:
        raise UserFixableError(f"write the {role} as gguf:/path/to/model.gguf")
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelFileError(f"{path}: no such GGUF file; give the path of a .gguf {role} file")
    with p.open("rb") as f:
        head = f.read(4)
    if head != GGUF_MAGIC:
        raise ModelFileError(f"{p.name}: not a GGUF file (it does not start with 'GGUF'); convert the model "
                             "with llama.cpp's convert_hf_to_gguf.py, or use hf:PATH")
    return p


def default_threads() -> int:
    """ARSNOVA_THREADS, else all cores but one (at most 8). llama.cpp's threads wait on each other
    every step, so a core that something else is also using slows every thread (measured on 2
    busy cores: a tiny model's call 0.7 s on one thread, 2.6-34 s on two)."""
    raw = os.environ.get("ARSNOVA_THREADS", "")
    if raw.isdigit() and 0 < int(raw) <= 256:
        return int(raw)
    return max(1, min((os.cpu_count() or 2) - 1, 8))


# Every server loaded stays loaded until the process ends, and the same model asked for again is
# the same server: xllamacpp's Server destructor can hang for good (it waits for the server's main
# loop to exit; measured here: 1 run in 3 of load-then-free never returned, whatever the threads),
# so a Server is never freed — not when dropped, not at interpreter exit (where freeing it would
# hold the exit). The process ending releases it; 8 of 8 runs exited cleanly that way.
_KEPT: dict[tuple, object] = {}
_LOADING = threading.Lock()  # one load at a time: two asks for one model get one server


def load_server(path: Path, *, n_ctx: int, parallel: int = 1, threads: int = 0, role: str = "model"):
    """An xllamacpp Server holding the model: quiet (its log lines would land on the chat's
    screen), no busy-waiting between steps, ``parallel`` sequences sharing one cache; kept for
    the life of the process (see ``_KEPT``)."""
    try:
        import xllamacpp
    except ImportError:
        raise UserFixableError(f"a gguf: {role} runs on llama.cpp: {INSTALL}") from None
    stat = path.stat()
    threads = threads or default_threads()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, n_ctx, parallel, threads)
    with _LOADING:
        if key not in _KEPT:
            _KEPT[key] = _new_server(xllamacpp, path, n_ctx, parallel, threads)
        return _KEPT[key]


def _new_server(xllamacpp, path: Path, n_ctx: int, parallel: int, threads: int):
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = n_ctx
    params.n_parallel = parallel
    params.kv_unified = True  # the parallel sequences (a poet's candidates) share one prompt
    params.verbosity = -1
    params.api_keys = [secrets.token_hex(16)]
    for cpu in (params.cpuparams, params.cpuparams_batch):
        cpu.n_threads = threads
        cpu.poll = 0  # spinning threads cost 5-40x on cores that are also busy (measured)
    try:
        server = xllamacpp.Server(params)
    except RuntimeError:
        raise ModelFileError(f"{path.name}: llama.cpp could not load this GGUF (truncated, or an architecture "
                             "this llama.cpp does not know); check the file or try hf:PATH") from None
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(server))  # never deallocated, even at exit
    return server


def answer(out: dict) -> dict:
    """A server answer, or its error as an exception with the server's own words."""
    if isinstance(out, dict) and "error" in out:
        err = out["error"]
        raise RuntimeError(str(err.get("message", err) if isinstance(err, dict) else err)[:300])
    return out
