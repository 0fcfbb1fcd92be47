"""Safe weight files: safetensors only, with the model config stored in the header metadata.

Pickles are refused: a ``.pt``/``.bin`` could run code when unpickled, so the only other
format accepted anywhere in the project is ``torch.load(weights_only=True)`` on plain tensors.
"""

from __future__ import annotations

import json
from pathlib import Path

from models.common.errors import ModelFileError

MAX_WEIGHTS_BYTES = 8 * 1024**3  # the largest single file we load (an SD checkpoint is 2-7 GB)


def save_safetensors(tensors: dict, path: Path, metadata: dict) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    from safetensors.torch import save

    from models.common.files import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, save({k: v.detach().contiguous().cpu() for k, v in tensors.items()},
                            metadata={k: json.dumps(v) for k, v in metadata.items()}))


def half_floats(tensors: dict) -> dict:
    """Shipped weights are stored as float16 (half the bytes) and upcast to float32 when loaded:
    ``load_state_dict`` copies into the model's fp32 parameters."""
    return {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}


def load_safetensors(path: Path) -> tuple[dict, dict]:
    """Return (tensors, metadata); every failure is a ModelFileError that says what to do."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    pickle_msg = f"{path} is a pickle-format checkpoint, which can run code when loaded; convert it to .safetensors"
    if path.suffix in (".pt", ".pth", ".bin", ".pkl", ".ckpt"):
        raise ModelFileError(pickle_msg)
    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist; train it with `arsnova train` or pass another path")
    f, size = open_weights(path)  # a FIFO or a device would block or never end: refused before safetensors
    with f:
        head = f.read(9)
    # safetensors: 8-byte little-endian header length, then the JSON header. Its first byte may be
    # 0x80 too (a 128-byte header), so only something that is not a safetensors head counts as a pickle
    safetensors_head = len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < size
    if not safetensors_head and (head[:1] == b"\x80" or head[:4] == b"PK\x03\x04"):  # pickle / torch.save zip
        raise ModelFileError(pickle_msg)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = {k: _meta_value(v) for k, v in (f.metadata() or {}).items()}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path} is not a valid safetensors file ({e}); re-train or re-copy it") from None
    return tensors, meta


def open_weights(path: Path):
    """(binary file, size) of a regular weights file; ModelFileError for a FIFO, a device, a
    directory or a file over MAX_WEIGHTS_BYTES. safetensors then opens the path itself (it maps
    the file), so a file swapped in between is its to reject; the check is for honest mistakes and
    for the files that would hang or exhaust memory."""
    from models.common.files import open_regular

    return open_regular(path, MAX_WEIGHTS_BYTES, "safetensors", ModelFileError)


def _meta_value(v: str):
    """Our metadata values are JSON; other writers' (diffusers: {"format": "pt"}) are plain strings."""
    try:
        return json.loads(v)
    except json.JSONDecodeError:
        return v


def load_state_into(model, tensors: dict, path: Path) -> None:
    """load_state_dict with a one-line error for a checkpoint of another shape."""
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0] if str(e) else "shape mismatch"
        detail = next((ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()), "")
        raise ModelFileError(f"{path} does not fit the model ({first} {detail[:160]}); it was trained with another config") from None


def read_metadata(path: Path) -> dict:
    """The JSON metadata of a safetensors file, reading only its header ({} for anything else)."""
    from safetensors import SafetensorError, safe_open

    try:
        open_weights(path)[0].close()
    except ModelFileError:
        return {}
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError):
        return {}
