"""`arsnova image --from-png`: draw a picture again from the parameters its PNG carries.

The PNG is untrusted input like any other: its parameters go through generate_image's schema
(the same validation as a planned call, then the same tool call), and the model it names is
only compared with the configured one, never opened as a path.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from agent.config import Config
from models.common.errors import UserFixableError


def redraw(png: str | Path, out: str | Path, config: Config) -> Path:
    """Same prompt, seed, batch, steps, guidance and size as the PNG says: the same picture (no
    revision), written to a new name in ``out``; returns its path."""
    from langchain_core.tools import ToolException
    from pydantic import ValidationError

    from agent.app import encoder_factory, settings_of
    from tools import registry
    from tools.generate_image import redraw_args
    from tools.host import make_host

    # 1. read and validate what the PNG says, before any model loads
    args, named = redraw_args(Path(png))
    try:
        registry.spec("generate_image").schema.model_validate(args)
    except ValidationError as e:
        raise UserFixableError(f"{png}: {registry.validation_message('generate_image', e)}") from None
    dest = picture_dir(out)

    # 2. the configured model, which must be the one the PNG names
    host = make_host(config.weights_dir, encoder_factory(config))
    kit = host.get("image", config.image_model)
    if named is not None and named != kit.model_id:
        raise UserFixableError(f"{png} was drawn by the model {str(named)[:200]!r}, not by the configured "
                               f"{kit.model_id!r}; pass --image-model naming that model to re-draw it")

    # 3. the same tool call as a planned one, with revision off
    settings = replace(settings_of(config), revise=replace(config.revise, max_rounds=0))
    ctx = fresh_context(dest, host, settings)
    try:
        art = registry.invoke("generate_image", args, ctx)
    except ToolException as e:
        raise UserFixableError(f"{png}: {e}") from None
    return dest / art.files["image"]


def picture_dir(out: str | Path) -> Path:
    """`arsnova image --out`: a real folder of the user's; never a symlink to elsewhere, never a system folder."""
    from agent.export import refuse_system_folder

    p = Path(out).expanduser()
    refuse_system_folder(p)
    if p.is_symlink():
        raise UserFixableError(f"{p} is a symbolic link; give a real directory for the picture")
    if p.exists() and not p.is_dir():
        raise UserFixableError(f"{p} exists and is not a directory")
    return p


def fresh_context(out: Path, host, settings):
    """A ToolContext whose picture name (000-rerun-image.png, then -rerun-2-…) is free in ``out``:
    a file, folder or symlink already there is someone's, and is never replaced or followed."""
    from tools.base import ToolContext

    for n in range(1, 1000):
        ctx = ToolContext("rerun" if n == 1 else f"rerun-{n}", out, 0, emit=lambda e: None, should_stop=lambda: False,
                          host=host, settings=settings)
        if not os.path.lexists(out / f"{ctx.stem('image')}.png"):
            return ctx
    raise UserFixableError(f"{out} already holds 999 re-drawn pictures; choose an empty or new --out")
