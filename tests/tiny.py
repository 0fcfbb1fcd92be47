"""Tiny real models for tests: the project's own classes at toy size, built in a few ms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.music.tokens import Key, NoteEvent, Score


def scale_tune(key: Key, bars: int = 4, meter: str = "4/4", offset: int = 0) -> Score:
    """A deterministic tune: walks the scale in eighth notes, a different contour per offset."""
    steps = sorted(key.scale() - ({(key.tonic + 11) % 12} if key.mode == "minor" else set()))
    bar = Score((), meter, key).bar_length
    notes, t, i = [], 0, offset
    rng = np.random.default_rng(offset)
    while t < bars * bar:
        pc = steps[i % len(steps)]
        notes.append(NoteEvent(t, 2, 60 + pc))
        i += int(rng.integers(1, 4))
        t += 2
    return Score(tuple(notes), meter, key, "folk", "moderate", bars)


def tiny_corpus(n: int = 12, distinct: int | None = None):
    """n pieces; with ``distinct`` only that many different tunes, repeated (easy to memorise)."""
    from models.music.training.data import MusicCorpus

    keys = [Key(0, "major"), Key(2, "minor"), Key(7, "major"), Key(9, "minor")]
    d = distinct or n
    return MusicCorpus.from_scores([scale_tune(keys[i % 4], 4, offset=i % d) for i in range(n)])


def tiny_chorales(n: int = 8) -> list[Score]:
    """Four-part I-IV-V-I (and i-iv-V-i) progressions, one chord a half note, in a few keys."""
    out = []
    for i in range(n):
        key = Key((i * 5) % 12, "major" if i % 2 == 0 else "minor")
        third = 4 if key.mode == "major" else 3
        prog = [(0, third), (5, third), (7, 4), (0, third)] * 2
        notes, t = [], 0
        for deg, th in prog:
            root = 48 + (key.tonic + deg) % 12
            chord = [root + 24 + th, root + 19, root + 12 + th, root - 12 + 12 * (root < 48)]  # S A T B
            notes += [NoteEvent(t, 8, p, v) for v, p in enumerate(chord)]
            t += 8
        out.append(Score(tuple(notes), "4/4", key, "chorale", "slow", t // 16))
    return out


def make_tiny_weights(out: Path, seed: int = 0) -> Path:
    import torch

    from models.music.model import build_music_model, save_music_model
    from models.music.tokens import Vocab
    from models.music.training.train import build_melody_index

    torch.manual_seed(seed)
    v = Vocab()
    out.mkdir(parents=True, exist_ok=True)
    t = build_music_model({"kind": "transformer", "vocab_size": len(v), "block_size": 128, "n_layer": 2,
                           "n_head": 2, "n_embd": 32, "dropout": 0.0})
    r = build_music_model({"kind": "rnn", "vocab_size": len(v), "n_embd": 32, "hidden": 48, "n_layer": 1, "dropout": 0.0})
    save_music_model(t, out / "music-transformer.safetensors", {"train_step": 0})
    save_music_model(r, out / "music-rnn.safetensors", {"train_step": 0})
    build_melody_index(tiny_corpus()).save(out / "music-ngrams.npz")
    from models.music.training.chords import train as train_chords

    train_chords(tiny_chorales(), min_count=1).save(out / "music-chords.npz")
    return out


CHAT_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\n"
    "{{ messages[0].content if messages[0].role == 'system' else 'You are a planner.' }}\n# Tools\n<tools>\n"
    "{%- for tool in tools %}\n{{ tool | tojson }}{%- endfor %}\n</tools>\n"
    "Return each call as <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call><|im_end|>\n{%- endif %}\n"
    "{%- for m in messages %}{%- if m.role != 'system' or not tools %}<|im_start|>{{ m.role }}\n{{ m.content }}"
    "{%- if m.tool_calls %}{%- for c in m.tool_calls %}<tool_call>{{ c.function | tojson }}</tool_call>{%- endfor %}{%- endif %}"
    "<|im_end|>\n{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}"
)


def make_tiny_chat_model(out: Path) -> Path:
    """A Qwen2-architecture causal LM at toy size with a BPE tokenizer and a tool-aware chat
    template, saved with save_pretrained: exactly what a user's local model directory holds."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    from agent.prompts import ROUTER_EXAMPLES, SYSTEM_PROMPT

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = [SYSTEM_PROMPT, '<tool_call>{"name": "compose_music", "arguments": {"key": "D minor"}}</tool_call>']
    from tools import registry

    texts += [e for s in registry.TOOLS for e in s.router_examples] + [e for ex in ROUTER_EXAMPLES.values() for e in ex]
    tok.train_from_iterator(texts * 3, trainers.BpeTrainer(vocab_size=400, special_tokens=special,
                                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=special[1:])
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=8192,
                      eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(cfg)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    fast.save_pretrained(out)
    return out


def make_tiny_gguf(chat_dir: Path, name: str = "tiny.gguf") -> Path:
    """Write the tiny chat model as a GGUF file (fp32 tensors, llama.cpp names, the BPE vocabulary,
    merges and chat template in the metadata), as llama.cpp's converter would."""
    import json

    import gguf
    import numpy as np
    from transformers import AutoConfig
    from safetensors.numpy import load_file

    cfg = AutoConfig.from_pretrained(chat_dir)
    tj = json.loads((chat_dir / "tokenizer.json").read_text())
    added = {a["id"]: a["content"] for a in tj["added_tokens"]}
    size = max([*tj["model"]["vocab"].values(), *added]) + 1
    tokens = [""] * size
    for t, i in tj["model"]["vocab"].items():
        tokens[i] = t
    for i, t in added.items():
        tokens[i] = t
    merges = [" ".join(m) if isinstance(m, list) else m for m in tj["model"]["merges"]]
    tcfg = json.loads((chat_dir / "tokenizer_config.json").read_text())
    template = tcfg.get("chat_template") or (chat_dir / "chat_template.jinja").read_text()
    w = gguf.GGUFWriter(str(chat_dir / name), "qwen2")
    w.add_name("tiny-planner")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(10000.0)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([3 if i in added else 1 for i in range(size)])
    w.add_token_merges(merges)
    w.add_eos_token_id(cfg.eos_token_id)
    w.add_bos_token_id(cfg.pad_token_id)
    w.add_pad_token_id(cfg.pad_token_id)
    w.add_chat_template(template)
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"}
    for i in range(cfg.num_hidden_layers):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        names.update({p + "input_layernorm.weight": b + "attn_norm.weight",
                      p + "post_attention_layernorm.weight": b + "ffn_norm.weight",
                      p + "self_attn.o_proj.weight": b + "attn_output.weight",
                      p + "mlp.gate_proj.weight": b + "ffn_gate.weight", p + "mlp.up_proj.weight": b + "ffn_up.weight",
                      p + "mlp.down_proj.weight": b + "ffn_down.weight"})
        for x in "qkv":
            names[p + f"self_attn.{x}_proj.weight"] = b + f"attn_{x}.weight"
            names[p + f"self_attn.{x}_proj.bias"] = b + f"attn_{x}.bias"
    for k, v in load_file(str(chat_dir / "model.safetensors")).items():
        if k in names:
            w.add_tensor(names[k], v.astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return chat_dir / name


def slow_music(agent, seconds_per_bar: float = 0.05, bars_sampled: list | None = None):
    """Make the agent's music sampler pause at every bar, so a cancel lands mid-piece on any machine;
    each bar sampled is appended to ``bars_sampled`` (a test counts the bars after a cancel)."""
    import time

    gen = agent.host.get("music")
    real = gen.compose

    def compose(kind, spec, primer=None, block=False, progress=None, should_stop=None):
        def slow(done, total):
            if bars_sampled is not None:
                bars_sampled.append(done)
            time.sleep(seconds_per_bar)
            if progress:
                progress(done, total)

        return real(kind, spec, primer, block, slow, should_stop)

    gen.compose = compose
    return agent


TINY_NOUNS = ("sea night moon star light day heart love rain sky fire stone river bird rose wind snow tree "
              "hill field shore wave dawn song bell gold cloud flame grass leaf dream storm").split()
TINY_ADJS = "dark bright cold old still deep wild green grey sweet pale lone slow soft".split()
TINY_VERBS = "falls sings burns sleeps breaks turns calls glows waits drifts fades shines".split()


def tiny_verse_lines(n: int = 900, seed: int = 0) -> list[str]:
    """Simple English verse lines from a small grammar: a stand-in corpus with real words."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
    out = []
    for _ in range(n):
        k = int(rng.integers(3))
        if k == 0:
            out.append(f"The {pick(TINY_ADJS)} {pick(TINY_NOUNS)} {pick(TINY_VERBS)} upon the {pick(TINY_NOUNS)}")
        elif k == 1:
            out.append(f"And {pick(TINY_NOUNS)} and {pick(TINY_NOUNS)} {pick(TINY_VERBS)[:-1]} in the {pick(TINY_ADJS)} {pick(TINY_NOUNS)}")
        else:
            out.append(f"O {pick(TINY_ADJS)} {pick(TINY_NOUNS)}, my {pick(TINY_NOUNS)} {pick(TINY_VERBS)}")
    return out


def make_tiny_poet(weights: Path, work: Path) -> Path:
    """The embedded poet's whole pipeline at toy size: prepare (passages, BPE tokenizer, n-gram
    indexes) -> train a 2-layer GPT-2 for 200 steps -> install into ``weights/poet``."""
    import pandas as pd

    from models.poetry import prosody
    from models.poetry.training.train import PoetryTrainConfig, PrepConfig, install_poet, prepare, train

    lines = tiny_verse_lines()
    df = pd.DataFrame({"text": lines, "meter": ["iambic"] * len(lines),
                       "syllables": [prosody.line_syllables(ln) for ln in lines]})
    data = work / "poetry"
    prepare(data, PrepConfig(train_lines=100_000, val_passages=20, vocab_size=400, tokenizer_docs=10_000), df=df,
            log=lambda s: None)
    cfg = PoetryTrainConfig(model={"n_layer": 2, "n_head": 2, "n_embd": 64}, steps=200, batch_size=8, block_size=96,
                            lr=5e-3, warmup=10, eval_every=100, ckpt_every=100, val_windows=8, threads=1)
    train(data, work / "run", cfg, log=lambda s: None)
    return install_poet(data, work / "run", weights)


def make_tiny_sd_pipeline(out: Path) -> Path:
    """A Stable Diffusion pipeline at toy size from the real classes (UNet2DConditionModel,
    AutoencoderKL, CLIPTextModel, a CLIPTokenizer with a byte-level vocabulary, DDIM), saved with
    save_pretrained — the layout of a user's local model directory."""
    import json

    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    out.mkdir(parents=True, exist_ok=True)
    chars = sorted(ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1})
    (out / "tok").mkdir(exist_ok=True)
    (out / "tok" / "vocab.json").write_text(json.dumps(vocab))
    (out / "tok" / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(out / "tok" / "vocab.json"), str(out / "tok" / "merges.txt"), model_max_length=16)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                                norm_num_groups=16, attention_head_dim=8)
    vae = AutoencoderKL(block_out_channels=(16, 32), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=16, sample_size=16)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=37,
                                        num_attention_heads=4, num_hidden_layers=2, max_position_embeddings=16,
                                        bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
                                        pad_token_id=vocab["<|endoftext|>"]))
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(out / "sd", safe_serialization=True)
    return out / "sd"


def make_tiny_image_model(weights_dir: Path) -> Path:
    """An untrained 16x16 ArsNovaImagePipeline (space-to-depth UNet, DDIM) at weights_dir/image:
    the real classes and files, random weights."""
    import torch
    from diffusers import DDIMScheduler

    from models.image.pipeline import ArsNovaImagePipeline, make_unet

    torch.manual_seed(0)
    unet = make_unet(16, (32, 32), 384, 1, 8, patch=2)
    sched = DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=True)
    dest = Path(weights_dir) / "image"
    ArsNovaImagePipeline(unet, sched).save_pretrained(dest, safe_serialization=True)
    return dest


def serve_completions(model_dir: Path):
    """A minimal OpenAI-compatible /v1/completions server over a transformers causal LM (what
    vLLM or llama.cpp server answer, for the fields the served poet uses: n, max_tokens,
    temperature, top_p, seed, stop, logprobs). -> (base URL, server); shut it down after use."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    lock = threading.Lock()
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            if self.path != "/v1/completions":
                self.send_error(404)
                return
            ids = tok(body["prompt"], return_tensors="pt").input_ids[:, -200:]
            n = int(body.get("n", 1))
            with lock, torch.inference_mode():
                torch.manual_seed(int(body.get("seed", 0)))
                gen = model.generate(ids, do_sample=True, max_new_tokens=int(body["max_tokens"]), top_k=0,
                                     temperature=float(body.get("temperature", 1.0)), top_p=float(body.get("top_p", 1.0)),
                                     num_return_sequences=n, output_scores=True, return_dict_in_generate=True,
                                     pad_token_id=tok.eos_token_id)
                lp = model.compute_transition_scores(gen.sequences, gen.scores, normalize_logits=True)
            choices = []
            for i in range(n):
                new = gen.sequences[i, ids.shape[1]:].tolist()
                upto = next((k + 1 for k in range(len(new)) if "\n" in tok.decode(new[: k + 1])), len(new))
                text = tok.decode(new[:upto]).split("\n")[0]
                choices.append({"index": i, "text": text, "logprobs": {"token_logprobs": lp[i, :upto].tolist()}})
            out = json.dumps({"object": "text_completion", "model": body["model"], "choices": choices}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests = seen
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/v1", server


def run_tool(name: str, args: dict, out_dir, host, emit=None, **settings):
    """One tool call as the agent makes it (schema, threads, error mapping), outside a plan."""
    from tools import registry
    from tools.base import ToolContext, TurnSettings

    ctx = ToolContext("c", out_dir, 1, emit=emit or (lambda e: None), should_stop=lambda: False, host=host,
                      settings=TurnSettings(**{"threads": 1, **settings}))
    return registry.invoke(name, args, ctx)
