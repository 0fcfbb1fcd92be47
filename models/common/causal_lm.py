"""Loading any causal LM a person has: a hub id (when online), a local directory, or a GGUF file.

``hf:gpt2``, ``hf:/path/to/dir`` and ``hf:/path/to/dir#model.gguf`` all go through
``AutoModelForCausalLM.from_pretrained`` in fp32 with safetensors preferred, offline when the
path is local or HF_HUB_OFFLINE is set, and never with remote code.
"""

from __future__ import annotations

import os

from models.common.errors import ModelFileError


def fp32_kwargs() -> dict:
    """fp32 weights: `dtype` since transformers 4.56, `torch_dtype` before."""
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return {"dtype": "float32"} if (major, minor) >= (4, 56) else {"torch_dtype": "float32"}


def cache_name(model) -> str:
    """The keyword (and output field) of a causal LM's key/value cache. transformers 5 renamed
    ``past_key_values`` to ``cache`` and prints a FutureWarning on every call that uses the old
    name; older versions know only ``past_key_values``. Asked of the model, not of a version number."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def parse_hf_spec(spec: str) -> tuple[str, str | None]:
    """``hf:PATH_OR_ID[#file.gguf]`` (the ``hf:`` prefix optional) -> (path_or_id, gguf_file)."""
    s = spec[3:] if spec.startswith("hf:") else spec
    path, _, gguf = s.partition("#")
    if not path:
        raise ModelFileError(f"{spec!r}: write a model as hf:ID, hf:/path/to/dir or hf:/path/to/dir#file.gguf")
    return path, gguf or None


def load_causal_lm(path_or_id: str, gguf_file: str | None = None, role: str = "model"):
    """-> (model in eval mode, tokenizer); every failure is one ModelFileError line."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no tqdm inside the TUI
    local = os.path.isdir(path_or_id)
    offline = local or os.environ.get("HF_HUB_OFFLINE") == "1"
    gg = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        tok = AutoTokenizer.from_pretrained(path_or_id, local_files_only=offline, **gg)
        model = AutoModelForCausalLM.from_pretrained(path_or_id, local_files_only=offline, **fp32_kwargs(),
                                                     **(gg or {"use_safetensors": None}))
    except (OSError, ValueError, ImportError, KeyError) as e:
        raise ModelFileError(f"cannot load {role} {path_or_id!r}: {str(e).splitlines()[0][:200]}") from None
    model.eval()
    return model, tok
