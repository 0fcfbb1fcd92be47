"""write_poem: a poem in a given form about a topic."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool

from tools.schemas import WritePoemArgs


def make_write_poem(runner: Callable) -> BaseTool:
    @tool("write_poem", args_schema=WritePoemArgs, response_format="content_and_artifact")
    def write_poem(config: RunnableConfig, **kwargs):
        """Write a poem about a topic in a given form.

        Use for poems, verses, haiku, sonnets, limericks, quatrains. form is one of free,
        haiku, sonnet, limerick, quatrain, couplet, tanka, cinquain, villanelle; lines sets
        the length of free verse; language defaults to English.
        """
        art = runner("write_poem", {k: v for k, v in kwargs.items() if v is not None}, config)
        return art.summary, art

    return write_poem
