"""Tool-level errors: what the planner can fix (ToolException) and what is not built yet."""

from langchain_core.tools import ToolException


class ToolUnavailable(ToolException):
    """The tool exists in the contract but this build cannot run it; nothing was generated."""


class ToolCancelled(ToolException):
    """The person cancelled the tool while it ran."""
