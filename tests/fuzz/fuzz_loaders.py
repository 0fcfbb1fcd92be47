"""A mutation fuzzer for the MIDI, image and brief loaders (no coverage instrumentation; deterministic).

    .venv/bin/python tests/fuzz/fuzz_loaders.py --minutes 10 [--target midi|image|brief|all] [--seed N]

Each round takes a file from the seed corpus (tests/fuzz/corpus/<target>/), applies 1-8 random
mutations (bit flips, byte overwrites with interesting values, insertions, deletions, chunk
duplication and truncation) and loads it. Briefs also get text mutations: lists and mappings
nested 3 to 60,000 deep (flow and block), control characters and escape sequences, YAML syntax
(anchors, tags, merge keys, indicators) and repeated lines (duplicate keys). The only acceptable
outcomes are a successful load or the loader's documented one-line error (InputFileError,
BriefError); anything else is a crash: the input is saved under tests/fuzz/crashes/ and the run
exits 1. CI runs it for a few seconds (tests/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent.parent))

INTERESTING = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x10, 0x40]


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(6)
        i = rng.randrange(len(b)) if b else 0
        if op == 0 and b:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[i] = rng.choice(INTERESTING)
        elif op == 2:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 3 and b:
            del b[i:i + rng.randint(1, 32)]
        elif op == 4 and b:
            j = rng.randrange(len(b))
            chunk = b[min(i, j):max(i, j)][:512]
            b[i:i] = chunk * rng.randint(1, 4)
        elif op == 5 and b:
            b = b[: rng.randrange(len(b))]
    return bytes(b)


# inserted into briefs: terminal escapes, C1, bidi and zero-width characters, NUL, and YAML syntax
HOSTILE = ["\x1b[2J", "\x1b]52;c;SGVsbG8=\x07", "\x1b]8;;http://x\x1b\\", "\x9b", "\x85", "\u202e", "\u2066",
           "\u200b", "\ufeff", "\x00", "\r", "\t", "\x7f", "&a ", "*a ", "!!python/object:os.system ", "!x ",
           "<<: ", "? ", "- ", ": ", "'", '"', "\\", "#", "{", "}", "[", "]", ",", "|", ">", "%YAML 1.1\n", "---\n",
           "\n", "\n  "]


def nested(rng: random.Random) -> str:
    k = rng.choice([3, 31, 32, 33, 200, 5000, 60000])
    kind = rng.randrange(3)
    if kind == 0:
        return "[" * k + "]" * k
    if kind == 1:
        return "{a: " * k + "1" + "}" * k
    return "\n" + "- " * k + "x\n"


def mutate_brief(data: bytes, rng: random.Random) -> bytes:
    """Byte mutations half the time, else a text mutation that aims at YAML's weak spots."""
    op = rng.randrange(5)
    if op < 2:
        return mutate(data, rng)
    text = data.decode("utf-8", "replace")
    i = rng.randrange(len(text) + 1)
    if op == 2:  # most often where a value starts, where the nesting is YAML rather than text
        ins = nested(rng)
        starts = [m.end() for m in re.finditer(r": |- |\[|\{|, ", text)]
        if starts and rng.random() < 0.8:
            i = rng.choice(starts)
    elif op == 3:
        ins = "".join(rng.choice(HOSTILE) for _ in range(rng.randint(1, 6)))
    else:  # a line again: a duplicate key, or an item in another place
        lines = text.splitlines(keepends=True) or [""]
        ins = rng.choice(lines)
        i = sum(len(x) for x in lines[: rng.randrange(len(lines) + 1)])
    return (text[:i] + ins + text[i:]).encode("utf-8")


def loader(target: str):
    from models.common.errors import InputFileError

    if target == "brief":
        from agent.brief import BriefError, load_brief

        return load_brief, BriefError, ".yaml"
    if target == "midi":
        from models.music.midi_io import read_midi

        return read_midi, InputFileError, ".mid"
    from models.image.image_io import load_rgb

    return load_rgb, InputFileError, ".png"


def fuzz(target: str, seconds: float, seed: int = 0) -> dict:
    load, ok_error, suffix = loader(target)
    change = mutate_brief if target == "brief" else mutate
    seeds = [p.read_bytes() for p in sorted((ROOT / "corpus" / target).iterdir()) if p.is_file()]
    if not seeds:
        raise SystemExit(f"no seed files in {ROOT / 'corpus' / target}")
    rng = random.Random(seed)
    n = loaded = refused = 0
    slowest = 0.0  # seconds for the slowest input: a hostile file must also be cheap to refuse
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"input{suffix}"
        while time.monotonic() - t0 < seconds:
            data = change(rng.choice(seeds), rng)
            path.write_bytes(data)
            n += 1
            t1 = time.monotonic()
            try:
                load(path)
                loaded += 1
            except ok_error:
                refused += 1
            except Exception as e:  # a crash: keep the input for a regression test
                crashes = ROOT / "crashes"
                crashes.mkdir(exist_ok=True)
                out = crashes / f"{target}-{seed}-{n}{suffix}"
                out.write_bytes(data)
                return {"target": target, "inputs": n, "crash": f"{type(e).__name__}: {e}", "saved": str(out)}
            slowest = max(slowest, time.monotonic() - t1)
    return {"target": target, "inputs": n, "loaded": loaded, "refused": refused, "crash": None,
            "slowest": round(slowest, 3)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--target", choices=["midi", "image", "brief", "all"], default="all")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    targets = ["midi", "image", "brief"] if a.target == "all" else [a.target]
    bad = 0
    for t in targets:
        r = fuzz(t, a.minutes * 60 / len(targets), a.seed)
        print(r)
        bad += r["crash"] is not None
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
