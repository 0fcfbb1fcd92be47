"""The poet's language model behind an OpenAI-compatible server (vLLM, llama.cpp server, Ollama's
/v1), so that many batch workers share one engine: ``--poet openai:URL#MODEL``; or a GGUF file on
llama.cpp in this process, the same requests handed over without a socket: ``--poet gguf:PATH``.

A server cannot be steered token by token, so the form is kept by generating and choosing whole
lines: for each line the server returns ``candidates`` completions of the poem so far (stop at
the newline, one request, ``n`` choices, with the seed and token log-probabilities). A line meant
to rhyme keeps its own last word when that already rhymes with the group, else its last word is
replaced by a planned rhyme partner (as the embedded sampler appends one to a sampled prefix).
The rest is the embedded Poet's: syllable windows, rhyme planning from the topic, corpus n-gram
blocking, ranking by mean log-probability, meter and topic words, bounded retries.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from models.poetry import prosody
from models.common.errors import ModelFileError


def parse_openai_spec(spec: str) -> tuple[str, str]:
    url, _, model = spec[len("openai:"):].partition("#")
    if not url.startswith(("http://", "https://")) or not model:
        raise ModelFileError(f"{spec!r}: write a served poet as openai:http://HOST:PORT/v1#MODEL")
    return url.rstrip("/"), model


LOGP_LINES = 4096  # the most sampled lines whose log-probability a served poet remembers


@dataclass
class ServedLM:
    """The PoetLM interface over /v1/completions. Its "tokens" are characters, so the context the
    Poet assembles stays plain text."""

    url: str
    model: str
    timeout: float = 120.0
    keyword_prompt: bool = False
    max_positions: int = 6000  # characters of context sent (the prompt plus the latest lines)
    line_logp: dict = field(default_factory=dict)  # line text -> mean token log-probability

    @property
    def name(self) -> str:
        return f"openai:{self.url}#{self.model}"

    def encode(self, text: str) -> list[str]:
        return list(text)

    def prompt(self, topic: str, keywords: list[str], form: str) -> list[str]:
        return self.encode(f"A {form if form != 'free' else 'poem'} about {topic.strip()}:\n\n")

    def complete(self, prompt: str, n: int, max_tokens: int, temperature: float, top_p: float,
                 seed: int) -> list[tuple[str, float]]:
        """-> n (text, mean token log-probability) completions, cut at the first newline."""
        body = {"model": self.model, "prompt": prompt, "n": n, "max_tokens": max_tokens, "temperature": temperature,
                "top_p": top_p, "seed": seed, "stop": ["\n"], "logprobs": 1}
        req = urllib.request.Request(f"{self.url}/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json", "Authorization": "Bearer local"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                data = json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise ModelFileError(f"the poet server at {self.url} answered {e.code}: "
                                 f"{e.read()[:200].decode(errors='replace')}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise ModelFileError(f"cannot reach the poet server at {self.url} ({getattr(e, 'reason', e)}); "
                                 "start it or use the embedded poet") from None
        except json.JSONDecodeError:
            raise ModelFileError(f"the poet server at {self.url} did not answer JSON") from None
        return _lines(data)

    def nll(self, context, text: str) -> float:
        """Fluency from the log-probabilities the server gave for the lines it wrote."""
        lps = [self.line_logp[ln] for ln in text.splitlines() if ln in self.line_logp]
        return -sum(lps) / len(lps) if lps else 5.0


def _lines(data: dict) -> list[tuple[str, float]]:
    """A completions answer -> (each choice's text up to its first newline, mean token log-probability)."""
    return [(str(ch.get("text", "")).split("\n")[0], _line_logp(ch)) for ch in data.get("choices", [])]


def _line_logp(choice: dict) -> float:
    """Mean token log-probability of a completion: OpenAI's ``token_logprobs`` or llama.cpp's
    ``content`` list."""
    lp = choice.get("logprobs") or {}
    values = lp.get("token_logprobs") or [t.get("logprob") for t in lp.get("content") or [] if isinstance(t, dict)]
    values = [x for x in values if x is not None]
    return sum(values) / len(values) if values else -5.0


@dataclass
class GGUFLM(ServedLM):
    """The same interface on llama.cpp in this process (``models.common.llamacpp``): the
    candidates of a line are decoded side by side, sharing the prompt's cache."""

    path: str = ""
    server: object = None
    parallel: int = 16

    @property
    def name(self) -> str:
        return f"gguf:{self.path}"

    @classmethod
    def load(cls, spec: str) -> "GGUFLM":
        from models.common.llamacpp import check_gguf, load_server

        path = check_gguf(spec[len("gguf:"):].strip(), "poet model")
        return cls(url="", model=path.name, path=str(path),
                   server=load_server(path, n_ctx=8192, parallel=cls.parallel, role="poet"))

    def complete(self, prompt: str, n: int, max_tokens: int, temperature: float, top_p: float,
                 seed: int) -> list[tuple[str, float]]:
        from models.common.llamacpp import answer

        out = []
        for start in range(0, n, self.parallel):
            body = {"prompt": prompt, "n": min(self.parallel, n - start), "max_tokens": max_tokens,
                    "temperature": temperature, "top_p": top_p, "seed": seed + start, "stop": ["\n"],
                    "logprobs": 1, "cache_prompt": True}
            try:
                data = answer(self.server.handle_completions(body))
            except RuntimeError as e:
                raise ModelFileError(f"the GGUF poet {self.model} failed: {e}") from None
            out += _lines(data)
        return out


def make_served_poet(spec: str, vocab, encoder, corpus_index, lexicon=None, sense=None):
    from models.poetry.poet import TRAILING, LineResult, Poet, copies

    lm = GGUFLM.load(spec) if spec.startswith("gguf:") else ServedLM(*parse_openai_spec(spec))

    class ServedPoet(Poet):
        def _sample_lines_timed(self, context, prompt, spec_, ends, prev_words, s, temperature, gen, rng,
                                final=False):
            lm: ServedLM = self.lm
            text = "".join(context)
            if len(text) > lm.max_positions:  # the prompt and the most recent lines
                head = "".join(prompt)
                text = head + text[len(head):][-(lm.max_positions - len(head)):]
            seed = int(rng.integers(0, 2**31 - 1))
            outs = lm.complete(text, s.candidates, s.max_line_tokens, temperature, s.top_p, seed)
            self.sampled_tokens += sum(len(t) for t, _ in outs)
            index = self.corpus_index.get(s.block_n) if s.block_n else None
            lo, hi = spec_.syllables
            results = []
            for k, (raw, lp) in enumerate(outs):
                line = raw.strip()
                words = prosody.line_words(line)
                if not words:
                    continue
                end = ends[k % len(ends)] if ends else None
                if end is not None and not (words[-1] == end or (spec_.rhyme and prosody.rhymes(words[-1], end))):
                    cut = line[: line.lower().rfind(words[-1])].rstrip(" ,;:-")
                    line = (cut + " " + end).strip()
                if final:  # the poem ends on a finished sentence
                    line = line.rstrip(TRAILING) + (line.rstrip()[-1:] if line.rstrip()[-1:] in "!?" else ".")
                syl = prosody.line_syllables(line)
                ok = lo <= syl <= hi and not (index is not None and copies(prev_words, line, index, closed_only=False))
                lm.line_logp[line] = lp
                while len(lm.line_logp) > LOGP_LINES:  # a long session: forget the oldest lines
                    del lm.line_logp[next(iter(lm.line_logp))]
                results.append(LineResult(line, prosody.last_word(line), lp, ok, syl))
            return results

    return ServedPoet(lm, vocab, encoder, corpus_index, lexicon, sense)
