"""A local causal LM as the planner, through transformers, with the model's own chat template.

The tools are rendered into the prompt by the chat template (``tools=``). The system prompt and
tool schemas are the same every turn, so the key/value cache of the longest shared token
prefix is kept and reused: on a CPU that turns tens of seconds of prompt reading into the cost
of the new turn only. Output is parsed for tool calls in the common formats (Hermes/Qwen
``<tool_call>{json}</tool_call>``, a bare JSON object or list); validation is the planner's job.
With ``constrained`` (the default) the answer is decoded under the tool schemas
(``agent.tool_grammar``): a reply in words or well-formed calls, nothing else can be written.
Loading never runs remote code; a ``#file.gguf`` suffix loads a GGUF (transformers dequantises it).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import PrivateAttr

from models.common.causal_lm import cache_name, load_causal_lm
from models.common.errors import ModelFileError

_CALL_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def parse_tool_calls(text: str) -> tuple[list[dict], str]:
    """-> (calls as {"name", "args", "id"}, remaining text). Unparseable JSON is left as text."""
    calls: list[dict] = []
    blocks = _CALL_BLOCK.findall(text)
    rest = _CALL_BLOCK.sub("", text).strip()
    if not blocks:
        stripped = text.strip()
        if stripped.startswith("```"):
            stripped = re.sub(r"^```(?:json)?\s*|\s*```$", "", stripped)
        if stripped[:1] in "[{":
            blocks, rest = [stripped], ""
    for block in blocks:
        try:
            data = json.loads(block)
        except json.JSONDecodeError:
            rest = (rest + "\n" + block).strip()
            continue
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item, dict):
                continue
            fn = item.get("function") if isinstance(item.get("function"), dict) else item
            name = fn.get("name")
            args = fn.get("arguments", fn.get("parameters", fn.get("args", {})))
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    args = {"_unparsed": args}
            if isinstance(name, str):
                calls.append({"name": name, "args": args if isinstance(args, dict) else {"_unparsed": args},
                              "id": f"call_{len(calls)}_{name}", "type": "tool_call"})
    return calls, rest


def to_template_messages(messages) -> list[dict]:
    out = []
    for m in messages:
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": str(m.content)})
        elif isinstance(m, HumanMessage):
            out.append({"role": "user", "content": str(m.content)})
        elif isinstance(m, AIMessage):
            d: dict[str, Any] = {"role": "assistant", "content": str(m.content or "")}
            if m.tool_calls:
                d["tool_calls"] = [{"type": "function", "function": {"name": c["name"], "arguments": c["args"]}}
                                   for c in m.tool_calls]
            out.append(d)
        elif isinstance(m, ToolMessage):
            out.append({"role": "tool", "content": str(m.content)})
    return out


class AnswerGate:
    """Passes an answer's text on as it is generated, unless it is a tool call: text that opens
    with ``<``, ``{``, ``[`` or a code fence is held back, and so is anything from ``<tool_call>`` on."""

    def __init__(self, sink) -> None:
        self.sink, self.seen, self.sent, self.open = sink, "", 0, None

    def __call__(self, text: str) -> None:
        self.seen += text
        if self.open is None:
            head = self.seen.lstrip()
            if not head:
                return
            self.open = head[0] not in "<{[`"
        if not self.open:
            return
        shown, marker = self.seen, "<tool_call>"
        if marker in shown:
            self.open = False
            shown = shown.split(marker)[0]
        else:  # hold back an end that may be the start of the marker
            shown = shown[: len(shown) - next((k for k in range(len(marker) - 1, 0, -1) if shown.endswith(marker[:k])), 0)]
        if len(shown) > self.sent:
            self.sink(shown[self.sent:])
            self.sent = len(shown)


class ToolSchemaChat(BaseChatModel):
    """A local chat model that takes the tools as JSON schemas at generation time (and decodes
    under them): ``bind_tools`` passes the schemas and the tool choice on to ``_generate``."""

    def bind_tools(self, tools, tool_choice: str | None = None, **kwargs):
        """``tool_choice``: "auto" (default: words or calls) or "any"/"required" (a call is due)."""
        return self.bind(tool_schemas=[convert_to_openai_tool(t) for t in tools], tool_choice=tool_choice or "auto",
                         **kwargs)


class HFChatModel(ToolSchemaChat):
    """transformers causal LM as a langchain chat model; greedy, bounded output."""

    max_new_tokens: int = 256
    name_or_path: str = ""
    constrained: bool = True  # decode under the tool schemas (agent.tool_grammar)
    _model: Any = PrivateAttr(default=None)
    _tok: Any = PrivateAttr(default=None)
    _cache_ids: tuple = PrivateAttr(default=())
    _cache: Any = PrivateAttr(default=None)
    _text_sink: Any = PrivateAttr(default=None)  # set by the Planner to stream the answer
    _grammars: dict = PrivateAttr(default_factory=dict)  # tool set -> ToolGrammar (its token table built once)
    last_reused_tokens: int = 0
    last_prompt_tokens: int = 0

    @classmethod
    def load(cls, path_or_id: str, gguf_file: str | None = None, **kw) -> "HFChatModel":
        model, tok = load_causal_lm(path_or_id, gguf_file, role="planner model")
        if not getattr(tok, "chat_template", None):
            raise ModelFileError(f"{path_or_id} has no chat template; use an instruct/chat model as the planner")
        inst = cls(name_or_path=path_or_id, **kw)
        inst._model, inst._tok = model, tok
        return inst

    @classmethod
    def from_objects(cls, model, tokenizer, **kw) -> "HFChatModel":
        inst = cls(**kw)
        inst._model, inst._tok = model.eval(), tokenizer
        return inst

    @property
    def _llm_type(self) -> str:
        return "arsnova-hf"

    def grammar_fn(self, tool_schemas, tool_choice: str = "auto"):
        """The ``prefix_allowed_tokens_fn`` that keeps this answer inside the tool grammar."""
        from agent.tool_grammar import ToolGrammar, schemas_json

        key = schemas_json(tool_schemas)
        if key not in self._grammars:
            self._grammars[key] = ToolGrammar(tool_schemas, self._tok)
        return self._grammars[key].prefix_allowed_tokens_fn(tool_choice)

    def prompt_ids(self, messages, tool_schemas) -> list[int]:
        out = self._tok.apply_chat_template(to_template_messages(messages), tools=tool_schemas or None,
                                            add_generation_prompt=True, tokenize=True)
        if isinstance(out, dict) or hasattr(out, "input_ids"):
            out = out["input_ids"]
        return list(out)

    def _generate(self, messages, stop=None, run_manager=None, tool_schemas=None, tool_choice="auto",
                  **kwargs) -> ChatResult:
        import torch

        ids = self.prompt_ids(messages, tool_schemas)
        reuse = 0
        for a, b in zip(self._cache_ids, ids[:-1]):  # keep >= 1 new token to run
            if a != b:
                break
            reuse += 1
        past = None
        if reuse and self._cache is not None:
            past = copy.deepcopy(self._cache)
            extra = len(self._cache_ids) - reuse
            if extra > 0:
                past.crop(-extra)  # negative = tokens to drop: the one form every transformers version accepts
        self.last_reused_tokens, self.last_prompt_tokens = reuse, len(ids)
        input_ids = torch.tensor([ids])
        key = cache_name(self._model)  # "cache" from transformers 5; "past_key_values" warns there
        with torch.inference_mode():
            if reuse < len(ids) - 1:
                # extend the cached prefix to the whole prompt except the last token, and keep it
                out = self._model(input_ids[:, reuse:-1], **{key: past}, use_cache=True)
                past = getattr(out, key)
                self._cache, self._cache_ids = copy.deepcopy(past), tuple(ids[:-1])
            streamer = None
            if self._text_sink is not None:
                from transformers import TextStreamer

                gate = AnswerGate(self._text_sink)

                class _Sink(TextStreamer):  # whole words at a time, the prompt skipped
                    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                        gate(text)

                streamer = _Sink(self._tok, skip_prompt=True, skip_special_tokens=True)
            allowed = self.grammar_fn(tool_schemas, tool_choice) if self.constrained and tool_schemas else None
            gen = self._model.generate(input_ids, **{key: past}, max_new_tokens=self.max_new_tokens,
                                       do_sample=False, pad_token_id=self._tok.pad_token_id or self._tok.eos_token_id,
                                       streamer=streamer, prefix_allowed_tokens_fn=allowed)
        text = self._tok.decode(gen[0, len(ids):], skip_special_tokens=True)
        calls, rest = parse_tool_calls(text)
        msg = AIMessage(content=rest, tool_calls=calls)
        return ChatResult(generations=[ChatGeneration(message=msg)])
