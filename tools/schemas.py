"""What every tool's argument schema shares (each tool's own schema lives in its module).

Planner output is untrusted (prompt injection can put anything there), so every schema
forbids unknown fields and bounds every number; a violation becomes an error message that
names the field and the allowed range, which an LLM planner can act on.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SEED = Field(default=None, ge=0, le=2**31 - 1, description="random seed; same seed, same result")


def no_nul(v: str | None) -> str | None:
    """A field validator: text fields may not carry NUL bytes."""
    if v is not None and "\x00" in v:
        raise ValueError("must not contain NUL bytes")
    return v


class Strict(BaseModel):
    """Unknown fields are errors; surrounding whitespace is dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def validation_message(tool: str, schema: type[BaseModel], err) -> str:
    """pydantic ValidationError -> one line per problem: field, what is wrong, allowed range."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e.get("loc", ())) or "arguments"
        msg = e.get("msg", "invalid")
        if e.get("type") == "extra_forbidden":
            msg = f"unknown argument; {tool} accepts {', '.join(schema.model_fields)}"
        parts.append(f"{loc}: {msg}")
    return f"invalid arguments for {tool}: " + "; ".join(parts)
