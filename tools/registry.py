"""The registry: the one list of tools. Everything else learns a tool from its ``ToolSpec``.

Adding a tool is one module under ``tools/`` (schema, ``@tool`` face, pipeline, ``SPEC``) and
one line in ``TOOLS`` below.
"""

from __future__ import annotations

from tools import compose_music, generate_image, style_transfer, write_poem
from tools.artifacts import Artifact
from tools.base import ToolContext, ToolSpec
from tools import schemas

TOOLS: tuple[ToolSpec, ...] = (
    write_poem.SPEC,
    generate_image.SPEC,
    style_transfer.SPEC,
    compose_music.SPEC,
)


def names() -> tuple[str, ...]:
    return tuple(s.name for s in TOOLS)


def spec(name: str) -> ToolSpec:
    for s in TOOLS:
        if s.name == name:
            return s
    raise KeyError(f"unknown tool {name!r}; the tools are {', '.join(names())}")


def for_kind(kind: str) -> ToolSpec | None:
    """The tool that makes artifacts of ``kind`` (poem, image, styled_image, music)."""
    return next((s for s in TOOLS if s.kind == kind), None)


def langchain_tools() -> list:
    return [s.tool for s in TOOLS]


def validation_message(name: str, err) -> str:
    return schemas.validation_message(name, spec(name).schema, err)


def invoke(name: str, args: dict, ctx: ToolContext, call_id: str | None = None) -> Artifact:
    """Run one call outside a plan (``arsnova image --from-png``, benches): through the tool's
    schema like every planned call; raises the tool's ToolException on bad arguments."""
    msg = spec(name).tool.invoke({"name": name, "args": args, "id": call_id or ctx.call_id, "type": "tool_call"},
                                 config={"configurable": {"arsnova_ctx": ctx}})
    if msg.artifact is None:  # langchain turns a ToolException into an error message
        from langchain_core.tools import ToolException

        raise ToolException(str(msg.content))
    return msg.artifact
