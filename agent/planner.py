"""Planner backends behind one factory, and the validate → retry → fall back policy.

Specs: ``router`` (default, offline), ``gguf:FILE`` (a GGUF model in process on llama.cpp, its tool
calls decoded under a grammar; ``pip install 'arsnova[gguf]'``), ``hf:PATH_OR_ID[#file.gguf]`` (a local causal LM via
transformers, its tool calls decoded under the tool schemas), ``openai:URL#MODEL`` and
``ollama:MODEL`` (local servers; ``pip install 'arsnova[llm]'``), and ``hybrid:<one of those>``
(the router answers when it is sure, the model otherwise). Whatever answers, its tool calls are validated against the tool schemas;
an invalid call goes back to the model with the error (bounded), then the router answers.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import ValidationError

from agent.prompts import RETRY_TOOL_CALL, SYSTEM_PROMPT
from agent.router import RouterChatModel
from models.common.errors import UserFixableError
from tools import registry


@dataclass(frozen=True)
class PlanResult:
    message: AIMessage  # tool calls have validated, normalised args
    answered_by: str
    notices: tuple[str, ...] = ()


def check_calls(msg: AIMessage) -> tuple[list[dict], list[str]]:
    """Validate tool calls; -> (normalised calls, error lines)."""
    good, errors = [], []
    for c in msg.tool_calls:
        name = c.get("name")
        if name not in registry.names():
            errors.append(f"unknown tool {name!r}; the tools are {', '.join(registry.names())}")
            continue
        try:
            args = registry.spec(name).schema.model_validate(c.get("args") or {}).model_dump(exclude_none=True)
        except ValidationError as e:
            errors.append(registry.validation_message(name, e))
            continue
        # our own ids: a model's ids are arbitrary text, and ids end up in file names
        good.append({"name": name, "args": args, "id": f"call_{len(good)}_{name}", "type": "tool_call"})
    return good, errors


@dataclass
class Planner:
    name: str
    model: object  # a langchain chat model with the tools bound
    router: Callable[[], RouterChatModel] | None = None  # the fallback
    max_retries: int = 2
    timeout_s: float = 120.0
    _pool: cf.ThreadPoolExecutor = field(default_factory=lambda: cf.ThreadPoolExecutor(1, thread_name_prefix="planner"))

    @property
    def is_router(self) -> bool:
        return self.name == "router"

    @property
    def streams(self) -> bool:
        """Can this planner pass its answer on while writing it (a local HF model)?"""
        return not self.is_router and hasattr(getattr(self.model, "bound", self.model), "_text_sink")

    def plan(self, history: list[BaseMessage], on_text: Callable[[str], None] | None = None) -> PlanResult:
        if self.is_router:
            msg = self.model.invoke(history)
            calls, errors = check_calls(msg)
            return PlanResult(_with_calls(msg, calls), "router", tuple(_notes(msg) + errors))
        convo = [SystemMessage(SYSTEM_PROMPT), *history]
        notices: list[str] = []
        base = getattr(self.model, "bound", self.model)
        for attempt in range(self.max_retries + 1):
            if attempt == 0 and on_text is not None and self.streams:
                base._text_sink = on_text  # reset after the attempt: a retry's text is not shown
            try:
                msg = self._pool.submit(self.model.invoke, convo).result(timeout=self.timeout_s)
            except cf.TimeoutError:
                notices.append(f"planner {self.name} did not answer within {self.timeout_s:.0f} s")
                break
            except UserFixableError:
                raise
            except Exception as e:  # a server down, a model that fails to load mid-way
                notices.append(f"planner {self.name} failed: {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}")
                break
            finally:
                if self.streams:
                    base._text_sink = None
            calls, errors = check_calls(msg)
            if not errors:
                return PlanResult(_with_calls(msg, calls), self.name, tuple(notices))
            notices.append(f"planner {self.name} made an invalid tool call (attempt {attempt + 1}): {'; '.join(errors)}")
            convo = [*convo, msg, HumanMessage(RETRY_TOOL_CALL.format(error="; ".join(errors)))]
        if self.router is None:
            raise UserFixableError(f"planner {self.name} gave no valid plan and no fallback is configured")
        notices.append("the router planner answered instead")
        msg = self.router().invoke(history)
        calls, errors = check_calls(msg)
        return PlanResult(_with_calls(msg, calls), "router", tuple(notices + _notes(msg) + errors))


# The router's decision is "sure" when every segment's best label leads the runner-up by this much
# (or a rule decided it). Measured on the dev half of bench/planner_eval.py: the router was right on
# all 99 dev cases and 2 of them led by less than 0.02; below it the model is asked.
HYBRID_MIN_LEAD = 0.02


@dataclass
class HybridPlanner:
    """``hybrid:<llm spec>``: the router first; the model only when the router's lead is small or
    the message asks for nothing the tools make and is not a question the help text answers
    (chit-chat, "translate this"), where a model's words serve better than the router's stock
    reply. ``answered_by`` says which of the two answered (status bar, manifest)."""

    name: str
    router: Callable[[], RouterChatModel]
    llm: Planner
    min_lead: float = HYBRID_MIN_LEAD
    is_router = False
    streams = False

    def plan(self, history: list[BaseMessage], on_text: Callable[[str], None] | None = None) -> PlanResult:
        msg = self.router().invoke(history)
        calls, errors = check_calls(msg)
        extra = msg.additional_kwargs
        sure = not errors and (bool(calls) and extra.get("arsnova_margin", 0.0) >= self.min_lead
                               or bool(extra.get("arsnova_answered")))
        if sure:
            return PlanResult(_with_calls(msg, calls), "router (hybrid)", tuple(_notes(msg)))
        res = self.llm.plan(history)
        why = "the router was unsure" if calls else "not a request for the tools"
        return PlanResult(res.message, f"{res.answered_by} (hybrid: {why})", res.notices)


def _notes(msg: AIMessage) -> list[str]:
    """What the router says about a plan it made ("the poet has no sestina; …"), shown as notices."""
    return [str(n) for n in msg.additional_kwargs.get("arsnova_notes", ())] if msg.tool_calls else []


def _with_calls(msg: AIMessage, calls: list[dict]) -> AIMessage:
    return AIMessage(content=msg.content if not calls else (msg.content or ""), tool_calls=calls,
                     additional_kwargs=dict(msg.additional_kwargs))


def planner_cache(encoder_factory: Callable, preset: "Planner | None" = None) -> Callable[[str], "Planner"]:
    """spec -> its planner, built on first ask and kept (a switch back costs nothing); ``preset``
    answers for its own name (tests, benches)."""
    cache: dict[str, Planner] = {preset.name: preset} if preset is not None else {}
    lock = threading.Lock()

    def get(spec: str) -> Planner:
        spec = (spec or "router").strip()
        with lock:
            if spec not in cache:
                cache[spec] = make_planner(spec, encoder_factory)
            return cache[spec]

    return get


def make_planner(spec: str, encoder_factory: Callable, tools: list | None = None) -> Planner:
    """Build a planner from its spec string; the router is built lazily as the fallback."""
    tools = registry.langchain_tools() if tools is None else tools
    router_box: dict = {}

    def router() -> RouterChatModel:
        if "r" not in router_box:
            router_box["r"] = RouterChatModel(encoder_factory())
        return router_box["r"]

    spec = (spec or "router").strip()
    if spec == "router":
        return Planner("router", _LazyRouter(router))
    if spec.startswith("hybrid:"):
        inner = spec[7:].strip()
        if not inner or inner == "router" or inner.startswith("hybrid:"):
            raise UserFixableError("write the hybrid planner as hybrid:<model planner>, e.g. hybrid:hf:/models/qwen2.5-1.5b-instruct")
        llm = make_planner(inner, encoder_factory, tools)
        return HybridPlanner(spec, llm.router or router, llm)  # one router: the model's fallback is it too
    if spec.startswith("hf:"):
        from agent.llm_planner import HFChatModel

        path, _, gguf = spec[3:].partition("#")
        model = HFChatModel.load(path, gguf_file=gguf or None).bind_tools(tools)
        return Planner(spec, model, router)
    if spec.startswith("gguf:"):
        from agent.gguf_planner import GGUFChatModel

        return Planner(spec, GGUFChatModel.load(spec[5:].strip()).bind_tools(tools), router)
    if spec.startswith("openai:"):
        url, _, name = spec[7:].partition("#")
        if not name or not url:
            raise UserFixableError("write the openai planner as openai:URL#MODEL, e.g. openai:http://127.0.0.1:8080/v1#qwen")
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            raise UserFixableError("the openai: planner needs langchain-openai: pip install 'arsnova[llm]'") from None
        model = ChatOpenAI(base_url=url, model=name, api_key="local", temperature=0, timeout=120, max_retries=0)
        return Planner(spec, model.bind_tools(tools), router)
    if spec.startswith("ollama:"):
        try:
            from langchain_ollama import ChatOllama
        except ImportError:
            raise UserFixableError("the ollama: planner needs langchain-ollama: pip install 'arsnova[llm]'") from None
        return Planner(spec, ChatOllama(model=spec[7:], temperature=0).bind_tools(tools), router)
    raise UserFixableError(f"unknown planner {spec!r}; use router, gguf:FILE.gguf, hf:PATH[#file.gguf], openai:URL#MODEL, ollama:MODEL "
                           "or hybrid:<one of those>")


class _LazyRouter:
    """Defers loading the sentence encoder until the first message."""

    def __init__(self, factory: Callable[[], RouterChatModel]) -> None:
        self._factory = factory

    def invoke(self, messages):
        return self._factory().invoke(messages)
