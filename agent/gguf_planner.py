"""A GGUF model as the planner, in this process on llama.cpp (issue 22): ``--planner gguf:PATH``.

The engine is llama.cpp through xllamacpp (``models.common.llamacpp``: why that binding).
Tool calls are decoded under a grammar, so every call the model writes parses and has the
schema's shape the first time: llama.cpp's llguidance engine (a maintained structured-generation
library) runs a Lark grammar whose call is ``%json`` of the same decodable call schema the
transformers path enforces (``agent.tool_grammar.call_schema``), free text capped so a call
always fits the token budget:

    start := calls | words          (tool_choice "auto"; "required": calls only; words end by 512 tokens)
    calls := call ("\\n" call){0,3}
    call  := "<tool_call>\\n" JSON(call schema) "\\n</tool_call>"

The tools are described in the system message the way Qwen and Hermes templates write them
(the model's own chat template, read from the GGUF by llama.cpp, wraps the messages), greedy
decoding, and llama.cpp keeps the key/value cache of the longest shared prompt prefix between
turns (``cache_prompt``), so only a turn's new tokens are read.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from agent.llm_planner import AnswerGate, ToolSchemaChat, parse_tool_calls, to_template_messages
from agent.tool_grammar import CALL_CLOSE, CALL_OPEN, MAX_CALLS, call_schema
from models.common.llamacpp import answer, check_gguf, load_server

# A free-text argument (a prompt, a topic, a path) is at most this many characters here: a character
# is at most 4 UTF-8 bytes and a byte-level vocabulary spends at most one token per byte, so the
# largest call (two free-text fields) fits in MAX_NEW_TOKENS and the grammar can always close it.
STRING_CAP = 200
MAX_NEW_TOKENS = 2048
PREDICT_MS = 100_000  # llama.cpp stops writing by then, inside the planner's 120 s: a request always returns
WORDS_MAX_TOKENS = 512  # an answer in words ends here (the grammar closes it; a chat reply, not an essay)

TOOLS_PREAMBLE = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{tools}\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{{\"name\": <function-name>, \"arguments\": <args-json-object>}}\n"
    "</tool_call>"
)


def tool_call_grammar(tool_schemas: list[dict], tool_choice: str = "auto") -> str:
    """The llguidance (Lark) grammar of an answer: one to four calls, or (``auto``) words that do
    not open like a call."""
    schema = cap_strings(call_schema(tool_schemas), STRING_CAP)
    # one space after ":" and ",", nothing else: a model's padding is no part of a call
    schema["x-guidance"] = {"whitespace_flexible": False, "key_separator": ": ", "item_separator": ", "}
    start = "calls" if tool_choice in ("any", "required") else "calls | words"
    return "\n".join([
        "%llguidance {}",
        f"start: {start}",
        f'calls: call ("\\n" call){{0,{MAX_CALLS - 1}}}',
        f"call: {json.dumps(CALL_OPEN)} %json {json.dumps(schema)} {json.dumps(CALL_CLOSE)}",
        rf"words[max_tokens={WORDS_MAX_TOKENS}]: /[^<{{\[`\s][^<]*/",
        "",
    ])


def cap_strings(schema, limit: int):
    """The schema with every free-text field at most ``limit`` characters, so that a whole call
    always fits in the answer's token budget (a grammar cannot close a string the budget cut)."""
    if isinstance(schema, list):
        return [cap_strings(s, limit) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: cap_strings(v, limit) for k, v in schema.items()}
    if out.get("type") == "string" and "enum" not in out and "const" not in out:
        out["maxLength"] = min(int(out.get("maxLength", limit)), limit)
    return out


def request_messages(messages, tool_schemas: list[dict]) -> list[dict]:
    """The conversation as llama.cpp's chat endpoint takes it: the tools described in the system
    message, earlier calls written back as the model would have written them."""
    out = []
    for m in to_template_messages(messages):
        if m["role"] == "assistant" and m.get("tool_calls"):
            written = [CALL_OPEN + json.dumps({"name": c["function"]["name"], "arguments": c["function"]["arguments"]})
                       + CALL_CLOSE for c in m.pop("tool_calls")]
            m["content"] = "\n".join(([m["content"]] if m["content"] else []) + written)
        out.append(m)
    if tool_schemas:
        tools = "\n".join(json.dumps(t, separators=(",", ":")) for t in tool_schemas)
        block = TOOLS_PREAMBLE.format(tools=tools)
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": out[0]["content"] + "\n\n" + block}
        else:
            out.insert(0, {"role": "system", "content": block})
    return out


class GGUFChatModel(ToolSchemaChat):
    """A GGUF causal LM on llama.cpp as a langchain chat model; greedy, bounded, grammar-constrained."""

    path: str = ""
    max_new_tokens: int = MAX_NEW_TOKENS
    n_ctx: int = 8192
    threads: int = 0  # 0: models.common.llamacpp.default_threads()
    constrained: bool = True
    cache_prompt: bool = True  # keep the shared prompt prefix's cache between turns (off: a benchmark's baseline)
    _server: Any = PrivateAttr(default=None)
    _text_sink: Any = PrivateAttr(default=None)  # set by the Planner to stream the answer
    last_prompt_tokens: int = 0
    last_reused_tokens: int = 0
    last_new_tokens: int = 0

    @classmethod
    def load(cls, path: str, **kw) -> "GGUFChatModel":
        p = check_gguf(path, "planner model")
        inst = cls(path=str(p), **kw)
        inst._server = load_server(p, n_ctx=inst.n_ctx, threads=inst.threads, role="planner")
        return inst

    @property
    def _llm_type(self) -> str:
        return "arsnova-gguf"

    def request(self, messages, tool_schemas=None, tool_choice: str = "auto") -> dict:
        req: dict[str, Any] = {"messages": request_messages(messages, tool_schemas or []),
                               "max_tokens": self.max_new_tokens, "temperature": 0.0, "seed": 0,
                               "t_max_predict_ms": PREDICT_MS,
                               "cache_prompt": self.cache_prompt}
        if self.constrained and tool_schemas:
            req["grammar"] = tool_call_grammar(tool_schemas, tool_choice)
        return req

    def _generate(self, messages, stop=None, run_manager=None, tool_schemas=None, tool_choice="auto",
                  **kwargs) -> ChatResult:
        req = self.request(messages, tool_schemas, tool_choice)
        if self._text_sink is not None:
            text, usage = self._stream(req, AnswerGate(self._text_sink))
        else:
            out = answer(self._server.handle_chat_completions(req))
            text, usage = out["choices"][0]["message"].get("content") or "", out.get("usage", {})
        self.last_prompt_tokens = int(usage.get("prompt_tokens", 0))
        self.last_reused_tokens = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0))
        self.last_new_tokens = int(usage.get("completion_tokens", 0))
        calls, rest = parse_tool_calls(text)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=rest, tool_calls=calls))])

    def _stream(self, req: dict, gate: AnswerGate) -> tuple[str, dict]:
        parts: list[str] = []
        state: dict[str, Any] = {"usage": {}, "error": None}

        def chunk(data) -> None:
            data = json.loads(data) if isinstance(data, str) else data
            if "error" in data:
                state["error"] = data["error"]
                return
            if data.get("usage"):
                state["usage"] = data["usage"]
            for choice in data.get("choices", []):
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    parts.append(piece)
                    gate(piece)

        self._server.handle_chat_completions({**req, "stream": True, "stream_options": {"include_usage": True}},
                                             chunk)
        if state["error"] is not None:
            answer({"error": state["error"]})
        return "".join(parts), state["usage"]
