"""style_transfer: repaint a content image in the style of another image."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool

from tools.schemas import StyleTransferArgs


def make_style_transfer(runner: Callable) -> BaseTool:
    @tool("style_transfer", args_schema=StyleTransferArgs, response_format="content_and_artifact")
    def style_transfer(config: RunnableConfig, **kwargs):
        """Repaint an image in the style of another (neural style transfer).

        content_image and style_image are file paths; '@last' means the session's latest
        image; a style may also be a known painting's name. strength balances style (1)
        against content (0); preserve_color keeps the content's colours; size is the long
        side in pixels.
        """
        art = runner("style_transfer", {k: v for k, v in kwargs.items() if v is not None}, config)
        return art.summary, art

    return style_transfer
