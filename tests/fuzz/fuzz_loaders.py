"""A mutation fuzzer for the MIDI and image loaders (no coverage instrumentation; deterministic).

    .venv/bin/python tests/fuzz/fuzz_loaders.py --minutes 10 [--target midi|image|all] [--seed N]

Each round takes a file from the seed corpus (tests/fuzz/corpus/<target>/), applies 1-8 random
mutations (bit flips, byte overwrites with interesting values, insertions, deletions, chunk
duplication and truncation) and loads it. The only acceptable outcomes are a successful load or
the loader's documented one-line error (InputFileError); anything else is a crash: the input is
saved under tests/fuzz/crashes/ and the run exits 1. CI runs it for a few seconds
(tests/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import random
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


def loader(target: str):
    from models.errors import InputFileError

    if target == "midi":
        from models.midi_io import read_midi

        return read_midi, InputFileError, ".mid"
    from models.image_io import load_rgb

    return load_rgb, InputFileError, ".png"


def fuzz(target: str, seconds: float, seed: int = 0) -> dict:
    load, ok_error, suffix = loader(target)
    seeds = [p.read_bytes() for p in sorted((ROOT / "corpus" / target).iterdir()) if p.is_file()]
    if not seeds:
        raise SystemExit(f"no seed files in {ROOT / 'corpus' / target}")
    rng = random.Random(seed)
    n = loaded = refused = 0
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"input{suffix}"
        while time.monotonic() - t0 < seconds:
            data = mutate(rng.choice(seeds), rng)
            path.write_bytes(data)
            n += 1
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
    return {"target": target, "inputs": n, "loaded": loaded, "refused": refused, "crash": None}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--target", choices=["midi", "image", "all"], default="all")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    targets = ["midi", "image"] if a.target == "all" else [a.target]
    bad = 0
    for t in targets:
        r = fuzz(t, a.minutes * 60 / len(targets), a.seed)
        print(r)
        bad += r["crash"] is not None
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
