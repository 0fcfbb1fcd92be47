"""The four tools as langchain-core tools (content_and_artifact), built by ``make_tools``.

Each tool validates its arguments against ``tools.schemas`` and hands them to ``runner``
(``runner(name, args, config) -> artifact`` with a ``.summary``), which the agent supplies;
the planner sees the short summary, the app keeps the artifact.
"""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.tools import BaseTool

from tools.compose_music import make_compose_music
from tools.generate_image import make_generate_image
from tools.style_transfer import make_style_transfer
from tools.write_poem import make_write_poem

TOOL_FACTORIES = {
    "write_poem": make_write_poem,
    "generate_image": make_generate_image,
    "style_transfer": make_style_transfer,
    "compose_music": make_compose_music,
}


def make_tools(runner: Callable) -> list[BaseTool]:
    return [factory(runner) for factory in TOOL_FACTORIES.values()]
