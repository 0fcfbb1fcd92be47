"""generate_image: a picture from a text prompt, by diffusion."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool

from tools.schemas import GenerateImageArgs


def make_generate_image(runner: Callable) -> BaseTool:
    @tool("generate_image", args_schema=GenerateImageArgs, response_format="content_and_artifact")
    def generate_image(config: RunnableConfig, **kwargs):
        """Generate a picture from a text description.

        Use for pictures, drawings, paintings, illustrations. prompt says what to draw,
        negative_prompt what to avoid; width/height in pixels, steps and guidance tune the
        diffusion, seed makes it repeatable.
        """
        art = runner("generate_image", {k: v for k, v in kwargs.items() if v is not None}, config)
        return art.summary, art

    return generate_image
