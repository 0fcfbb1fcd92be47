"""A short run of the loaders' mutation fuzzer (tests/fuzz/fuzz_loaders.py) in CI: seeded, a few
seconds per loader; the 10-minute run is `tests/fuzz/fuzz_loaders.py --minutes 10`."""

import warnings

import pytest

from tests.fuzz.fuzz_loaders import fuzz, mutate


@pytest.mark.parametrize("target", ["midi", "image"])
def test_loaders_survive_mutated_inputs(target):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a loader must not print warnings over the chat either
        r = fuzz(target, seconds=4.0, seed=1)
    assert r["crash"] is None, r
    assert r["inputs"] > 500 and r["refused"] > 0


def test_mutations_are_seeded():
    import random

    assert mutate(b"abcdefgh" * 8, random.Random(3)) == mutate(b"abcdefgh" * 8, random.Random(3))
