"""Argument schemas of the four tools: the contract in DESIGN.md, with the allowed ranges.

Planner output is untrusted (prompt injection can put anything there), so every schema
forbids unknown fields and bounds every number; a violation becomes an error message that
names the field and the allowed range, which an LLM planner can act on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.music_tokens import METERS, STYLES, parse_key

SEED = Field(default=None, ge=0, le=2**31 - 1, description="random seed; same seed, same result")
POEM_FORMS = ("free", "haiku", "sonnet", "limerick", "quatrain", "couplet", "tanka", "cinquain", "villanelle")


def _clean_text(v: str | None) -> str | None:
    if v is not None and "\x00" in v:
        raise ValueError("must not contain NUL bytes")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WritePoemArgs(_Strict):
    topic: str = Field(min_length=1, max_length=2000, description="what the poem is about")
    form: Literal[POEM_FORMS] = Field(default="free", description="poetic form")  # type: ignore[valid-type]
    lines: int | None = Field(default=None, ge=1, le=60, description="number of lines (free verse; stanzas of couplets/quatrains)")
    language: str | None = Field(default=None, max_length=40, description="language, default English")
    seed: int | None = SEED

    _t = field_validator("topic", "language")(_clean_text)


class GenerateImageArgs(_Strict):
    prompt: str = Field(min_length=1, max_length=2000, description="what to draw")
    negative_prompt: str | None = Field(default=None, max_length=2000, description="what to avoid")
    width: int | None = Field(default=None, ge=16, le=2048, description="pixels")
    height: int | None = Field(default=None, ge=16, le=2048, description="pixels")
    steps: int | None = Field(default=None, ge=1, le=200, description="denoising steps")
    guidance: float | None = Field(default=None, ge=0.0, le=30.0, description="classifier-free guidance scale")
    candidates: int | None = Field(default=None, ge=1, le=8, description="pictures drawn in the first round (one batch)")
    exemplar: bool | None = Field(default=None, description="embedded model: start from the training picture closest "
                                                           "to the prompt (default) or, false, from pure noise")
    variation: float | None = Field(default=None, ge=0.1, le=1.0, description="embedded model: how much of the "
                                    "exemplar is redrawn (1 = all of it)")
    seed: int | None = SEED

    _t = field_validator("prompt", "negative_prompt")(_clean_text)


class StyleTransferArgs(_Strict):
    content_image: str = Field(min_length=1, max_length=4096, description="image path, or @last")
    style_image: str = Field(min_length=1, max_length=4096, description="style image path or painting name")
    strength: float | None = Field(default=None, ge=0.0, le=1.0, description="0 = content, 1 = style")
    preserve_color: bool | None = Field(default=None, description="keep the content image's colours")
    size: int | None = Field(default=None, ge=64, le=1024, description="long side of the result in pixels")
    steps: int | None = Field(default=None, ge=1, le=2000, description="optimisation steps")
    seed: int | None = SEED

    _t = field_validator("content_image", "style_image")(_clean_text)


class ComposeMusicArgs(_Strict):
    mood: str | None = Field(default=None, max_length=60, description="e.g. calm, sad, lively, solemn")
    key: str | None = Field(default=None, max_length=20, description="e.g. 'D minor', 'F# major'")
    tempo: int | None = Field(default=None, ge=20, le=300, description="beats per minute")
    bars: int | None = Field(default=None, ge=1, le=128, description="number of bars to compose")
    meter: Literal[METERS] | None = Field(default=None, description="time signature")  # type: ignore[valid-type]
    instrument: str | None = Field(default=None, max_length=40, description="e.g. piano, violin, flute, organ")
    style: Literal[STYLES] | None = Field(default=None, description="corpus style")  # type: ignore[valid-type]
    primer_midi: str | None = Field(default=None, max_length=4096, description="a MIDI file to continue")
    model: Literal["transformer", "rnn"] | None = Field(default=None, description="which music model")
    seed: int | None = SEED

    _t = field_validator("mood", "primer_midi", "instrument")(_clean_text)

    @field_validator("key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is None:
            return v
        return parse_key(v).name  # ValueError names the accepted forms

    @field_validator("instrument")
    @classmethod
    def _instrument(cls, v: str | None) -> str | None:
        from models.midi_io import INSTRUMENTS

        if v is None:
            return v
        low = v.lower().strip()
        if low.endswith("s") and low[:-1] in INSTRUMENTS:
            low = low[:-1]
        if low not in INSTRUMENTS:
            raise ValueError(f"unknown instrument {v!r}; known: {', '.join(sorted(INSTRUMENTS))}")
        return low


SCHEMAS: dict[str, type[_Strict]] = {
    "write_poem": WritePoemArgs,
    "generate_image": GenerateImageArgs,
    "style_transfer": StyleTransferArgs,
    "compose_music": ComposeMusicArgs,
}


def validation_message(tool: str, err) -> str:
    """pydantic ValidationError -> one line per problem: field, what is wrong, allowed range."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e.get("loc", ())) or "arguments"
        msg = e.get("msg", "invalid")
        if e.get("type") == "extra_forbidden":
            msg = f"unknown argument; {tool} accepts {', '.join(SCHEMAS[tool].model_fields)}"
        parts.append(f"{loc}: {msg}")
    return f"invalid arguments for {tool}: " + "; ".join(parts)
