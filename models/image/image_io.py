"""Images in and out, defensively (Pillow).

Reading validates before any work: the file is a regular file within the byte cap (checked on
the opened file by models/files.open_regular, so a FIFO or /dev/zero is refused unread), the
header names an image format we accept (PNG, JPEG, WebP, GIF, BMP, TIFF), the declared size is
within a pixel cap (a decompression bomb is refused from its header, before decoding), the
pixels decode fully (truncated files are errors, not grey bands), EXIF orientation is applied,
and any mode (palette, grayscale, 16-bit, CMYK, alpha) becomes RGB — alpha composited on white.
Writing is atomic, with the generation parameters in a PNG text chunk.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np

from models.common.errors import InputFileError
from models.common.files import open_regular

MAX_PIXELS = 40_000_000  # ~6300x6300; larger inputs are refused from the header
MAX_IMAGE_BYTES = 64 * 1024 * 1024
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "MPO")


def load_rgb(path: str | Path, max_pixels: int = MAX_PIXELS):
    """-> PIL.Image in RGB; InputFileError naming the file and the fix for anything else."""
    name = str(path)
    f, size = open_regular(path, MAX_IMAGE_BYTES, "image")  # a FIFO, a device or a huge file: refused unread
    with f:
        if size == 0:
            raise InputFileError(f"{name}: the file is empty")
        return _decode(f, name, max_pixels)


def _decode(f, name: str, max_pixels: int):
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        # our own pixel cap below decides, with a clear message; Pillow's warning would print over the chat
        with warnings.catch_warnings(action="ignore", category=Image.DecompressionBombWarning), Image.open(f) as im:
            if im.format not in FORMATS:
                raise InputFileError(f"{name}: {im.format} images are not supported; use PNG, JPEG or WebP")
            w, h = im.size
            if w < 1 or h < 1:
                raise InputFileError(f"{name}: the image is {w}x{h} pixels; it has no pixels")
            if w * h > max_pixels:
                raise InputFileError(f"{name}: {w}x{h} is over the {max_pixels} pixel limit; resize it first")
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_rgb(im)
    except InputFileError:
        raise
    except UnidentifiedImageError:
        raise InputFileError(f"{name}: not an image Pillow can read (PNG, JPEG, WebP…); check the file") from None
    except Image.DecompressionBombError:
        raise InputFileError(f"{name}: refused as a decompression bomb (too many pixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        msg = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise InputFileError(f"{name}: corrupt or truncated image ({msg}); re-export it") from None


def _to_rgb(im):
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if a.max() > 255 else 255.0
        im = Image.fromarray(np.clip(a / top * 255.0, 0, 255).astype(np.uint8), "L")
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(a * (255.0 if a.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return im.convert("RGB")


def to_tensor(im):
    """PIL RGB -> float tensor (1, 3, H, W) in 0..1."""
    import torch

    a = np.array(im, dtype=np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0).contiguous()


def from_tensor(x):
    """(1, 3, H, W) in 0..1 -> PIL RGB."""
    from PIL import Image

    a = (x.detach().clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(a, "RGB")


def save_png(im, path: Path, params: dict) -> None:
    """Atomic PNG write with ``params`` as JSON in an iTXt chunk named 'arsnova'."""
    from PIL.PngImagePlugin import PngInfo

    from models.common.files import write_atomic

    info = PngInfo()
    info.add_itxt("arsnova", json.dumps(params, sort_keys=True, ensure_ascii=False))
    buf = io.BytesIO()
    im.save(buf, format="PNG", pnginfo=info)
    write_atomic(path, buf.getvalue())


def png_params(path: Path) -> dict:
    """The parameters ``save_png`` stored ({} if none). Checked like any input: a regular file
    within the byte cap, and within the pixel cap, since Pillow decodes the pixels to reach text
    chunks that follow them."""
    from PIL import Image, UnidentifiedImageError

    name = str(path)
    f, _ = open_regular(path, MAX_IMAGE_BYTES, "image")
    try:
        with f, warnings.catch_warnings(action="ignore", category=Image.DecompressionBombWarning), Image.open(f) as im:
            if im.size[0] * im.size[1] > MAX_PIXELS:
                raise InputFileError(f"{name}: {im.size[0]}x{im.size[1]} is over the {MAX_PIXELS} pixel limit")
            raw = im.text.get("arsnova") if hasattr(im, "text") else None
        params = json.loads(raw) if raw else {}
    except UnidentifiedImageError:
        raise InputFileError(f"{name}: not an image Pillow can read (PNG, JPEG, WebP…); check the file") from None
    except (OSError, SyntaxError, ValueError, EOFError, RecursionError, Image.DecompressionBombError) as e:
        msg = str(e).splitlines()[0][:120] if str(e) else type(e).__name__  # ValueError: JSONDecodeError too
        raise InputFileError(f"{name}: unreadable image or parameters ({msg}); re-export it") from None
    if not isinstance(params, dict):
        raise InputFileError(f"{name}: its Ars Nova parameters are not a mapping; re-export it")
    return params


def pack_sheet(images: np.ndarray) -> dict[str, np.ndarray]:
    """Square pictures (N, S, S, 3) as one lossless WebP sheet, the arrays an ``.npz`` keeps:
    ``sheet_webp`` (the file's bytes) and ``shape`` (N, S, columns). ``unpack_sheet`` reads it back."""
    from PIL import Image

    n, size = len(images), images.shape[1]
    cols = int(np.ceil(np.sqrt(n)))
    sheet = np.full((int(np.ceil(n / cols)) * size, cols * size, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        sheet[r * size:(r + 1) * size, c * size:(c + 1) * size] = im
    webp = io.BytesIO()
    Image.fromarray(sheet).save(webp, "WEBP", lossless=True, method=6)
    return {"sheet_webp": np.frombuffer(webp.getvalue(), np.uint8), "shape": np.array([n, size, cols])}


def unpack_sheet(z) -> np.ndarray:
    """The pictures of a sheet ``pack_sheet`` wrote (``z``: the opened ``.npz``) -> (N, S, S, 3) uint8."""
    from PIL import Image

    n, size, cols = (int(v) for v in z["shape"])
    with Image.open(io.BytesIO(z["sheet_webp"].tobytes())) as im:
        sheet = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return np.stack([sheet[(i // cols) * size:(i // cols + 1) * size, (i % cols) * size:(i % cols + 1) * size]
                     for i in range(n)])
