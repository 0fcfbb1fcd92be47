"""A short run of the loaders' mutation fuzzer (tests/fuzz/fuzz_loaders.py) in CI: seeded, a few
seconds per loader; the 10-minute run is `tests/fuzz/fuzz_loaders.py --minutes 10`."""

import warnings

import pytest

from tests.fuzz.fuzz_loaders import fuzz, mutate, mutate_brief


@pytest.mark.parametrize("target", ["midi", "image", "brief"])
def test_loaders_survive_mutated_inputs(target):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a loader must not print warnings over the chat either
        r = fuzz(target, seconds=4.0, seed=1)
    assert r["crash"] is None, r
    assert r["inputs"] > (200 if target == "brief" else 500)  # YAML in pure Python: ~200 briefs/s here
    assert r["refused"] > 0 and r["loaded"] > 0
    if target == "brief":  # 60,000 levels of nesting took 106 s before the depth cap; now under 0.3 s
        assert r["slowest"] < 1.5, r


def test_mutations_are_seeded():
    import random

    assert mutate(b"abcdefgh" * 8, random.Random(3)) == mutate(b"abcdefgh" * 8, random.Random(3))
    brief = b"title: x\nturns:\n  - a haiku\n"
    assert [mutate_brief(brief, random.Random(s)) for s in range(20)] == [mutate_brief(brief, random.Random(s)) for s in range(20)]
