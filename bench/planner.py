"""Planner: the router's latency per message and the LLM planner's seconds per request."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from bench.common import stats


REQUESTS = [
    "a haiku about first snow", "16 bars of slow piano music in D minor", "draw a red apple",
    "restyle photo.jpg like starry night", "a sonnet about the sea and a jig in D major", "hello",
    "a lively irish reel for fiddle", "paint a lighthouse at dusk", "a limerick about a cat", "what can you do?",
    "compose a waltz in G minor, 12 bars", "an image of a blue car", "make the poem less conventional",
    "a Bach chorale in A minor", "twelve lines about the river", "a matching picture", "play me something calm",
    "a picture of a green tree and a folk tune", "continue primer.mid for 8 bars", "a quatrain on time",
    "render my cat.png in the style of the scream", "write verses about autumn rain", "a happy tune at 120 bpm",
    "sketch a bicycle", "give me a melancholy melody for cello", "an ode to coffee", "a yellow star",
    "music for the poem", "a poem in Chinese about mountains", "a 6/8 jig in E minor", "thanks!",
    "make it more original", "a drawing of a house", "a slow air for flute in F major", "describe yourself",
    "a free verse poem about cities at night", "a watercolour of a harbour", "16 bars in 3/4 for strings",
    "a hymn for organ in Bb major", "make the music more surprising", "a picture of a dragon",
    "a short poem for my mother", "an energetic march in C", "a limerick and a polka", "good morning",
    "apply udnie.jpg to the last image", "a calm lullaby", "the sea at night, as a picture", "a tanka about frogs",
    "an upbeat hornpipe in A major",
]




def bench_planner(repeats: int) -> list[dict]:
    from langchain_core.messages import HumanMessage

    from agent.router import RouterChatModel
    from models.common.encoder import load_encoder

    t = time.perf_counter()
    enc = load_encoder()
    load_s = time.perf_counter() - t
    router = RouterChatModel(enc)
    router.invoke([HumanMessage("warm up")])
    lat = []
    for _ in range(max(1, repeats // 5)):
        for r in REQUESTS:
            t = time.perf_counter()
            router.invoke([HumanMessage(r)])
            lat.append(time.perf_counter() - t)
    lat.sort()
    p50, p95 = lat[len(lat) // 2], lat[int(len(lat) * 0.95)]

    # baseline: embed the exemplar bank again for every request (no cached bank)
    from agent.prompts import ROUTER_EXAMPLES
    from tools import registry

    bank = [e for s in registry.TOOLS for e in s.router_examples] + [e for ex in ROUTER_EXAMPLES.values() for e in ex]
    base = []
    for r in REQUESTS[:10]:
        t = time.perf_counter()
        enc(bank + [r])
        base.append(time.perf_counter() - t)
    b50 = statistics.median(base)
    return [
        {"item": "router planner latency p50 (50 requests)", "median_s": p50, "min_s": lat[0], "max_s": lat[-1],
         "p95_s": p95, "baseline": "re-embedding the exemplars per request", "baseline_s": b50, "ratio": b50 / p50,
         "runs": len(lat), "target": "p50 < 0.050 s", "met": p50 < 0.05},
        {"item": "sentence encoder load", "median_s": load_s, "min_s": load_s, "max_s": load_s, "runs": 1},
        *bench_llm_planner(repeats),
    ]


def bench_llm_planner(repeats: int) -> list[dict]:
    """The LLM planner's seconds per request: a tiny Qwen2-layout chat model built here (what the
    wrapper itself costs: template, prompt reading, decoding, parsing) and, when
    $ARSNOVA_BENCH_PLANNER names one (hf:PATH or gguf:FILE), a real local model; with the [gguf]
    extra, the tiny model also as a GGUF on llama.cpp. Baseline: the same model and
    requests with the prompt-prefix KV cache dropped before every request (the system prompt and
    tool schemas are read again each turn)."""
    import tempfile

    from langchain_core.messages import HumanMessage, SystemMessage

    from agent.llm_planner import HFChatModel
    from agent.prompts import SYSTEM_PROMPT
    from tools import registry

    tools = registry.langchain_tools()
    specs = []
    with tempfile.TemporaryDirectory() as tmp:
        from tests.tiny import make_tiny_chat_model, make_tiny_gguf

        tiny = make_tiny_chat_model(Path(tmp) / "chat")
        specs.append(("tiny Qwen2-layout model (2 layers, 32 wide)", f"hf:{tiny}"))
        try:
            import xllamacpp  # noqa: F401

            specs.append(("the same model as a GGUF on llama.cpp", f"gguf:{make_tiny_gguf(tiny)}"))
        except ImportError:
            pass
        real = os.environ.get("ARSNOVA_BENCH_PLANNER", "")
        if real.startswith(("hf:", "gguf:")):
            specs.append((real, real))
        rows = []
        for label, spec in specs:
            if spec.startswith("gguf:"):
                from agent.gguf_planner import GGUFChatModel

                chat = GGUFChatModel.load(spec[5:], max_new_tokens=24)
            else:
                chat = HFChatModel.load(spec[3:], max_new_tokens=24)
            model = chat.bind_tools(tools)
            requests = REQUESTS[: max(5, repeats * 2)]

            def ask(r: str, cached: bool) -> float:
                if isinstance(chat, HFChatModel):
                    if not cached:
                        chat._cache, chat._cache_ids = None, ()
                else:
                    chat.cache_prompt = cached
                t = time.perf_counter()
                model.invoke([SystemMessage(SYSTEM_PROMPT), HumanMessage(r)])
                return time.perf_counter() - t

            ask("warm up", True)
            fast = [ask(r, True) for r in requests]
            slow = [ask(r, False) for r in requests]
            rows.append({"item": f"LLM planner ({label}): seconds per request, prompt "
                                 f"{chat.last_prompt_tokens} tokens, <= 24 new", **stats(fast),
                         "baseline": "prompt prefix cache dropped per request", "baseline_s": statistics.median(slow),
                         "ratio": statistics.median(slow) / statistics.median(fast)})
    return rows


