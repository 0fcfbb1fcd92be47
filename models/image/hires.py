"""The exemplar library at 128 px: the same Noto emoji designs, from Debian's colour-emoji font.

The drawing model works at 64 px and its exemplars are the 64 px emoji of the npm package
``emoji-datasource-google`` (the only size it has). The same Google Noto designs ship as 136 px
colour bitmaps (CBDT) in Debian's ``fonts-noto-color-emoji``; ``models/image/training/hires.py`` renders each
exemplar's code points from that font once, aligns the rendering to the 64 px picture (ink bounding box onto
ink bounding box, ×2) and keeps it only when it *is* the same picture (shrunk back to 64 px it
must match the exemplar: the font is Unicode 15.0, the package 16.0, and a few designs changed
between them). The result ships beside the weights as ``FILE`` (a lossless WebP sheet, as
``exemplars.npz``); the runtime needs only that file, never the font.

Rebuild (needs ``apt-get install fonts-noto-color-emoji`` and the unpacked npm package that
``arsnova train image --prepare`` fetches into ``data/npm``)::

    .venv/bin/python -m models.image.training.hires [--font PATH] [--package data/npm/package] [--weights models/weights/image]

Used by ``models/image/guided.py``: where the model's redraw kept its start, the delivered picture
takes the start's pixels at the delivered size.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILE = "exemplars-128.npz"
SIZE = 128  # 2x the model's native 64 px (the font's bitmaps are 136 x 128)


@dataclass(frozen=True)
class HiresExemplars:
    """``images[i]`` is exemplar ``i`` at ``SIZE`` px where ``has[i]``; elsewhere white (unused)."""

    images: np.ndarray  # uint8 (N, SIZE, SIZE, 3)
    has: np.ndarray  # bool (N,)

    def get(self, i: int) -> np.ndarray | None:
        return self.images[i] if self.has[i] else None

    def save(self, path: Path) -> None:
        from models.common.files import write_atomic
        from models.image.image_io import pack_sheet

        buf = io.BytesIO()
        np.savez_compressed(buf, **pack_sheet(self.images), has=self.has.astype(bool))
        write_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "HiresExemplars":
        from models.image.image_io import unpack_sheet

        with np.load(path, allow_pickle=False) as z:
            return cls(unpack_sheet(z), z["has"].astype(bool))
