"""The generators: music, poetry and pictures, each against its baseline."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from bench.common import stats, timed


def naive_sample(model, vocab, spec) -> int:
    """The baseline sampler: same grammar and nucleus sampling, but re-runs the whole sequence for
    every token (no KV cache / recurrent state reuse). Returns tokens produced."""
    import numpy as np
    import torch

    from models.music.sample import nucleus
    from models.music.tokens import Grammar

    g = Grammar(vocab, spec.meter, spec.bars)
    seq = vocab.header(spec.style, spec.key, spec.meter, spec.density)
    gen = torch.Generator().manual_seed(spec.seed)
    limit = getattr(model, "context_limit", 1 << 30)
    n = 0
    with torch.inference_mode():
        while not g.done and n < spec.bars * spec.max_bar_tokens:
            x = torch.tensor([seq[-(limit - 1):] if len(seq) >= limit else seq])
            logits = model(x)[0][:, -1]
            lp = torch.log_softmax(logits, -1).masked_fill(~torch.from_numpy(np.asarray(g.allowed())), float("-inf"))
            t = int(nucleus(lp / spec.temperature, spec.top_p, gen)[0])
            g.step(t)
            seq.append(t)
            n += 1
    return n


def bench_music(repeats: int, weights: Path | None) -> list[dict]:
    import torch

    from models.music.generator import MusicGenerator
    from models.music.sample import SampleSpec
    from models.music.tokens import Key, Vocab

    torch.set_num_threads(1)
    gen = MusicGenerator.from_dir(weights)
    rows = []
    for kind in ("transformer", "rnn"):
        model = gen.model(kind)
        for bars in (16, 64):
            spec = SampleSpec(key=Key(2, "minor"), bars=bars, seed=1)
            out = {}

            def run():
                out["p"] = gen.compose(kind, spec)[0]

            r = timed(run, repeats)
            ntok = len(out["p"].tokens) - 5
            r.update(item=f"music {kind}: {bars} bars (1 candidate)", tokens=ntok, tok_per_s=ntok / r["median_s"])
            if bars == 16:
                r.update(target="< 2 s", met=r["median_s"] < 2.0)
                base = timed(lambda: naive_sample(model, Vocab.for_model(model), spec), max(3, repeats // 2))
                r.update(baseline="naive sampler without cache", baseline_s=base["median_s"],
                         ratio=base["median_s"] / r["median_s"])
            rows.append(r)
        spec4 = SampleSpec(key=Key(2, "minor"), bars=16, seed=1, candidates=4)
        r = timed(lambda: gen.compose(kind, spec4), repeats)
        r.update(item=f"music {kind}: 16 bars x 4 candidates (one revision round, batched)")
        rows.append(r)
    return rows


def bench_poetry(repeats: int, weights: Path | None) -> list[dict]:
    """Seconds for a haiku and a sonnet (one poem, no revision), and the constrained sampler's
    tokens/s against transformers' own ``generate`` sampling the same number of candidates on
    the same model (baseline: unconstrained, so it does strictly less work per token)."""
    import torch

    from models.common.encoder import load_encoder
    from models.common.runtime import default_weights_dir
    from models.poetry.kit import load_poet_kit
    from models.poetry.poet import SampleSettings
    from models.poetry.forms import plan_form

    torch.set_num_threads(1)
    kit = load_poet_kit(weights or default_weights_dir(), None, load_encoder(), Path("/tmp/arsnova-bench-cache"))
    poet = kit.poet
    rows = []
    settings = SampleSettings(temperature=0.8, top_p=0.9, candidates=12)
    for form, target in (("haiku", 2.0), ("sonnet", 10.0)):
        poet.write("warm-up", plan_form(form), seed=99, settings=settings)
        times, toks, sampling = [], 0, 0.0
        for k in range(repeats):
            before, before_s = poet.sampled_tokens, poet.sample_seconds
            t0 = time.perf_counter()
            poet.write(f"the sea at night {k}", plan_form(form), seed=k, settings=settings)
            times.append(time.perf_counter() - t0)
            toks += poet.sampled_tokens - before
            sampling += poet.sample_seconds - before_s
        row = {"item": f"poet: one {form} (12 candidates per line, no revision, 1 thread)", **stats(times),
               "tok_per_s": toks / sampling, "target": f"< {target:g} s", "met": statistics.median(times) < target}
        rows.append(row)
    # baseline: transformers generate, 12 sequences of 16 new tokens from the same prompt
    lm = poet.lm
    ids = torch.tensor([lm.prompt("the sea", ["sea", "night"], "haiku")])
    times = []
    with torch.inference_mode():
        for k in range(repeats):
            t0 = time.perf_counter()
            lm.model.generate(ids, do_sample=True, top_p=0.9, temperature=0.8, max_new_tokens=16, min_new_tokens=16,
                              num_return_sequences=12, pad_token_id=lm.newline_id)
            times.append(time.perf_counter() - t0)
    base_tps = 12 * 16 / statistics.median(times)
    ours = rows[1]["tok_per_s"]
    rows.append({"item": "poet sampler tokens/s (sonnet) vs transformers generate (12 x 16 tokens)",
                 "median_s": 1 / ours, "min_s": 1 / ours, "max_s": 1 / ours, "runs": repeats, "tok_per_s": ours,
                 "baseline": f"generate: {base_tps:.0f} tok/s, s per token", "baseline_s": 1 / base_tps,
                 "ratio": ours / base_tps})
    return rows


def bench_image(repeats: int) -> list[dict]:
    """What a real Stable Diffusion 1.5-size UNet costs here: one denoising step at 512x512 (64x64
    latents, batch 2 for classifier-free guidance) with random weights, fp32; and a 25-step image of
    the embedded model when one is installed."""
    import torch
    from diffusers import UNet2DConditionModel

    torch.set_num_threads(os.cpu_count() or 2)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8).eval()  # SD 1.x layout
    n = sum(p.numel() for p in unet.parameters())
    x, t, c = torch.randn(2, 4, 64, 64), torch.tensor([500, 500]), torch.randn(2, 77, 768)
    times = []
    with torch.inference_mode():
        unet(x, t, encoder_hidden_states=c)  # warm-up
        for _ in range(max(1, repeats // 2)):
            t0 = time.perf_counter()
            unet(x, t, encoder_hidden_states=c)
            times.append(time.perf_counter() - t0)
    del unet
    rows = [{"item": f"SD-1.5-size UNet ({n / 1e6:.0f} M params, random weights): one 512x512 step, CFG batch 2, "
                     f"{os.cpu_count()} threads", **stats(times)}]
    from models.common.runtime import default_weights_dir

    if (default_weights_dir() / "image" / "model_index.json").exists():
        from models.common.encoder import load_encoder
        from models.image.generator import load_image_kit

        kit = load_image_kit(None, default_weights_dir(), load_encoder)
        torch.set_num_threads(os.cpu_count() or 2)
        prompt, steps, g = "a red apple", 25, 3.0
        kit.generate(prompt, None, (64, 64), 2, g, [0])  # warm-up
        import copy

        stock_unet = copy.deepcopy(kit.pipe.unet).to(memory_format=torch.contiguous_format)  # as loaded, no tuning
        stock_loop(kit.pipe, stock_unet, prompt, 2, g, 0)
        for n in (1, 4):
            ours, base = [], []
            for k in range(repeats):
                seeds = [100 * k + j for j in range(n)]
                t0 = time.perf_counter()
                kit.generate(prompt, None, (64, 64), steps, g, seeds)
                ours.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                for s in seeds:
                    stock_loop(kit.pipe, stock_unet, prompt, steps, g, s)
                base.append(time.perf_counter() - t0)
            what = "one 64x64 picture" if n == 1 else f"{n} candidates of a revision round (one batch)"
            rows.append({"item": f"embedded image model: {what}, {steps} steps, {os.cpu_count()} threads", **stats(ours),
                         "baseline": "stock diffusers loop on the same UNet and scheduler, one picture at a time",
                         "baseline_s": statistics.median(base), "ratio": statistics.median(base) / statistics.median(ours),
                         **({"target": "< 5 s", "met": statistics.median(ours) < 5} if n == 1 else {})})
    return rows


def stock_loop(pipe, unet, prompt: str, steps: int, guidance: float, seed: int):
    """The denoising loop as diffusers' documentation writes it ("deconstruct the pipeline"): the
    same UNet weights (default memory format), scheduler and conditioning, CFG batched, under
    no_grad, one picture per call."""
    import torch

    from models.image.pipeline import from_patches, native_size, to_patches, unet_patch

    size, patch = native_size(unet), unet_patch(unet)
    cond = pipe.embed([prompt])[:, None, :]
    emb = torch.cat([torch.zeros_like(cond), cond])
    x = to_patches(torch.randn((1, 3, size, size), generator=torch.Generator().manual_seed(seed)), patch)
    pipe.scheduler.set_timesteps(steps)
    x = x * pipe.scheduler.init_noise_sigma
    for t in pipe.scheduler.timesteps:
        with torch.no_grad():
            eps = unet(pipe.scheduler.scale_model_input(torch.cat([x, x]), t), t, encoder_hidden_states=emb).sample
        e_null, e_cond = eps.chunk(2)
        x = pipe.scheduler.step(e_null + guidance * (e_cond - e_null), t, x).prev_sample
    return (from_patches(x, patch) / 2 + 0.5).clamp(0, 1)


