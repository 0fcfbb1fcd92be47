"""Tool calls decoded under the tool schemas, so a local model's call parses and validates the
first time (issue 22). The grammar engine is lm-format-enforcer's (a maintained library that
plugs into transformers' ``generate`` through ``prefix_allowed_tokens_fn``); this module only
says what may be written:

    answer := words                                    (tool_choice "auto": a reply in words)
            | call ("\\n" call){0,3}                    (one to four calls)
    call   := "<tool_call>\\n" {"name": T, "arguments": ARGS(T)} "\\n</tool_call>"

``ARGS(T)`` is tool T's pydantic schema made decodable: the JSON-schema features the enforcer
does not check (number ranges, ``null`` alternatives) are turned into ones it does (a bounded
number becomes the list of its values on a grid; an optional field is simply left out), and
``seed`` is left to the session. Validation still runs afterwards (``agent.planner.check_calls``):
the grammar makes a valid call the only thing the model can write, the check proves it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

CALL_OPEN, CALL_CLOSE = "<tool_call>\n", "\n</tool_call>"
MAX_CALLS = 4
_INT_VALUES = 2100  # an integer range up to this many values is listed whole (pixels up to 2048, steps)
_FLOAT_VALUES = 400  # a real range is drawn on a grid of at most this many round values
# seeds are the session's (a redraw's batch seeds come from a saved picture's metadata, not a model)
SESSION_OWNED = frozenset({"seed", "batch_seeds"})


def decodable(schema: dict) -> dict:
    """A tool's JSON schema with only what the enforcer checks, and stricter where it would not."""
    props = {}
    for name, prop in schema.get("properties", {}).items():
        if name in SESSION_OWNED:  # the session owns seeds; a model inventing one gains nothing
            continue
        props[name] = _value(prop)
    out = {"type": "object", "properties": props, "additionalProperties": False}
    required = [r for r in schema.get("required", []) if r in props]
    if required:
        out["required"] = required
    return out


def _value(prop: dict) -> dict:
    alts = [a for a in prop.get("anyOf", []) if a.get("type") != "null"]
    if alts:  # Optional[X]: write X or leave the field out
        return _value(alts[0]) if len(alts) == 1 else {"anyOf": [_value(a) for a in alts]}
    kind = prop.get("type")
    if "enum" in prop:
        return {"type": kind, "enum": list(prop["enum"])} if kind else {"enum": list(prop["enum"])}
    if kind in ("integer", "number") and "minimum" in prop and "maximum" in prop:
        return {"enum": grid(prop["minimum"], prop["maximum"], integer=kind == "integer")}
    keep = {k: prop[k] for k in ("type", "minLength", "maxLength", "pattern") if k in prop}
    return keep or {"type": "string"}


def grid(lo: float, hi: float, integer: bool) -> list:
    """Every value of an integer range up to a few thousand values; otherwise the multiples of a
    round step (1, 2, 5 × 10^k) inside the range, with both ends."""
    limit = _INT_VALUES if integer else _FLOAT_VALUES
    if integer and hi - lo + 1 <= limit:
        return list(range(int(lo), int(hi) + 1))
    span = hi - lo
    step = next(m * 10 ** e for e in range(-3, 12) for m in (1, 2, 5) if span / (m * 10 ** e) <= limit)
    first = math.ceil(lo / step)
    vals = [lo, *(k * step for k in range(first, int(hi // step) + 1)), hi]
    vals = sorted({int(round(v)) if integer else round(v, 6) for v in vals if lo <= v <= hi})
    return vals


def call_schema(tool_schemas: list[dict]) -> dict:
    """One call to any of the tools: {"name": const, "arguments": its decodable schema}."""
    options = []
    for t in tool_schemas:
        fn = t.get("function", t)
        options.append({"type": "object", "additionalProperties": False, "required": ["name", "arguments"],
                        "properties": {"name": {"const": fn["name"]},
                                       "arguments": decodable(fn.get("parameters", {}))}})
    return options[0] if len(options) == 1 else {"anyOf": options}


@dataclass
class ToolGrammar:
    """Builds the enforcer for one tool set and one tokenizer; the tokenizer's table is built once."""

    tool_schemas: list[dict]
    tokenizer: Any
    _table: Any = None

    def prefix_allowed_tokens_fn(self, tool_choice: str = "auto"):
        """For ``generate(prefix_allowed_tokens_fn=...)``. (The library's own transformers adapter
        imports a module transformers 5 removed, so the two small pieces it does are here.)"""
        from lmformatenforcer import TokenEnforcer

        if self._table is None:
            self._table = token_table(self.tokenizer)
        enforcer = TokenEnforcer(self._table, self.parser(tool_choice))
        return lambda batch_id, sent: enforcer.get_allowed_tokens(sent.tolist()).allowed_tokens

    def parser(self, tool_choice: str = "auto"):
        from lmformatenforcer import CharacterLevelParserConfig, JsonSchemaParser, RegexParser
        from lmformatenforcer.characterlevelparser import (ForceStopParser, SequenceParser, StringParser,
                                                           UnionParser)

        # one space at most between JSON tokens: a model's padding is no part of a call
        config = CharacterLevelParserConfig(max_consecutive_whitespaces=1)
        schema = call_schema(self.tool_schemas)

        def calls(n: int):  # a call, then the end or (n > 1) another call
            one = [StringParser(CALL_OPEN), JsonSchemaParser(schema, config), StringParser(CALL_CLOSE)]
            if n == 1:
                return SequenceParser(one)
            return SequenceParser([*one, UnionParser([ForceStopParser(), SequenceParser([StringParser("\n"),
                                                                                        calls(n - 1)])])])

        if tool_choice in ("any", "required"):
            return calls(MAX_CALLS)
        # words: anything that does not open like a call (a tag, a JSON value or a code fence)
        return UnionParser([calls(MAX_CALLS), RegexParser(r"[^<{\[`\s][^<]*")])


def token_table(tokenizer):
    """The enforcer's view of a vocabulary: each token's text as it reads mid-word and whether it
    starts a word (decoded after a "0" so a leading space survives)."""
    from lmformatenforcer import TokenEnforcerTokenizerData

    zero = tokenizer.encode("0", add_special_tokens=False)[-1]
    special = set(tokenizer.all_special_ids)
    regular = []
    for idx in range(len(tokenizer)):
        if idx in special:
            continue
        after_zero = tokenizer.decode([zero, idx])[1:]
        alone = tokenizer.decode([idx])
        regular.append((idx, after_zero, len(after_zero) > len(alone)))

    def decode(tokens: list[int]) -> str:
        return tokenizer.decode(tokens).rstrip("\ufffd")

    return TokenEnforcerTokenizerData(regular, decode, tokenizer.eos_token_id, False, len(tokenizer))


def schemas_json(tool_schemas: list[dict]) -> str:
    """The grammar's input, for a cache key."""
    return json.dumps(tool_schemas, sort_keys=True)
