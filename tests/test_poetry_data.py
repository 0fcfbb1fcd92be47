"""The poetry corpus loader reads a DataFrame pickle as data and refuses anything that runs code."""

import gzip
import os
import pickle

import pytest

from models.common.errors import InputFileError
from models.poetry.training.data import load_gutenberg_lines

pd = pytest.importorskip("pandas")


def test_reads_a_plain_dataframe(tmp_path):
    df = pd.DataFrame({"text": ["Shall I compare thee", "to a summer's day"], "meter": ["iambic", "iambic"],
                       "syllables": [5, 5]})
    p = tmp_path / "data.pkl.compress"
    with gzip.open(p, "wb") as f:
        pickle.dump(df, f, protocol=4)
    got = load_gutenberg_lines(p)
    assert list(got["text"]) == list(df["text"]) and list(got["syllables"]) == [5, 5]


def test_refuses_a_pickle_that_would_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > /tmp/arsnova-pwned",))

    p = tmp_path / "data.pkl.compress"
    with gzip.open(p, "wb") as f:
        pickle.dump(Evil(), f)
    with pytest.raises(InputFileError, match="refused posix.system|refused os.system"):
        load_gutenberg_lines(p)
    assert not os.path.exists("/tmp/arsnova-pwned")


def test_not_gzip(tmp_path):
    p = tmp_path / "x.pkl.compress"
    p.write_bytes(b"plain text")
    with pytest.raises(InputFileError, match="not a readable gzip file"):
        load_gutenberg_lines(p)
