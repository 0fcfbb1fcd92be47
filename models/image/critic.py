"""The subject critic: a small image encoder aligned with the MiniLM sentence space (CLIP-style).

CLIP (Radford et al. 2021) trains an image and a text encoder so a picture and its caption land
close together; LiT ("locked-image tuning", Zhai et al. 2022) shows one tower can stay frozen. Here
the text tower is the all-MiniLM-L6-v2 encoder the project already uses, frozen: only this small
CNN is trained (``models/image/training/critic.py``), on the captioned clip art and emoji with
augmentation, so that ``embed(picture) . minilm(prompt)`` says how well a picture shows a prompt's
subject. It ships as one safetensors file (fp16) with a set of distractor subjects: a prompt's
score is its rank among them (a calibrated percentile, not a raw cosine, whose scale drifts).

Shapes: pictures (B, 3, 32, 32) in 0..1 -> (B, 384) unit vectors (any picture is box-resized to 32).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FILE = "subject-critic.safetensors"


@dataclass(frozen=True)
class CriticConfig:
    size: int = 32  # input side; other sizes are resized (box) first (32: 2.4x cheaper than 64 per
    # step, so 2.4x the steps in the same 20 training minutes on a shared CPU)
    channels: tuple[int, ...] = (48, 96, 192)  # per stage; each stage halves the side
    dim: int = 384  # the MiniLM space


def _torch_model(cfg: CriticConfig):
    import torch
    from torch import nn

    def block(cin: int, cout: int) -> nn.Sequential:
        # stride-2 conv to halve the side, then a 3x3 conv at that side: (B, cin, s, s) -> (B, cout, s/2, s/2)
        return nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.GELU(),
                             nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.GELU())

    class SubjectEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            chans = (3, *cfg.channels)
            self.stages = nn.Sequential(*(block(a, b) for a, b in zip(chans, chans[1:])))
            # mean and max pooling: a small subject on a big background still shows in the max
            self.proj = nn.Linear(2 * cfg.channels[-1], cfg.dim)
            self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.stages(x * 2.0 - 1.0)  # (B, 192, 4, 4) at 32 px
            h = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
            return nn.functional.normalize(self.proj(h), dim=-1)

    return SubjectEncoder()


def build_encoder(cfg: CriticConfig = CriticConfig()):
    """A fresh (untrained) encoder, a torch ``nn.Module``."""
    return _torch_model(cfg)


@dataclass
class SubjectCritic:
    """A trained encoder and its distractors. Build with ``load_critic``."""

    model: object  # the nn.Module, eval mode, fp32
    config: CriticConfig
    distractors: np.ndarray  # float32 (K, 384) unit vectors: MiniLM embeddings of training subjects
    distractor_names: tuple[str, ...]

    def embed(self, pictures: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) pictures -> (B, 384) unit vectors."""
        import torch

        x = torch.from_numpy(np.stack([to_input(p, self.config.size) for p in pictures])).permute(0, 3, 1, 2)
        with torch.inference_mode():
            return self.model(x.float() / 255.0).numpy()

    def rank(self, picture_vec: np.ndarray, text_vec: np.ndarray, exclude_above: float = 0.75) -> float:
        """How the text scores on the picture among the distractors: the share of distractor
        subjects the picture matches less well (1.0: better than all of them). Distractors whose
        text is within ``exclude_above`` cosine of the prompt's are left out (synonyms: 'a cat' is
        not beaten by 'a cat face')."""
        t = np.asarray(text_vec, np.float32)
        keep = (self.distractors @ t) < exclude_above
        s = float(picture_vec @ t)
        d = self.distractors[keep] @ picture_vec
        return float((d < s).mean()) if len(d) else 1.0


def to_input(rgb: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (size, size, 3), box-resized when it is another size."""
    rgb = np.asarray(rgb, dtype=np.uint8)
    if rgb.shape[:2] == (size, size):
        return rgb
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BOX), dtype=np.uint8)


def save_critic(path: Path, model, cfg: CriticConfig, distractors: np.ndarray, names: list[str], meta: dict) -> None:
    """The weights in fp16, the distractors as fp16, the config and ``meta`` (metrics) as JSON metadata."""
    import json

    import torch
    from safetensors.torch import save_file

    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()
               if v.dtype.is_floating_point}
    tensors.update({k: v.detach().contiguous() for k, v in model.state_dict().items() if not v.dtype.is_floating_point})
    tensors["distractors"] = torch.from_numpy(np.asarray(distractors, np.float16))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"config": json.dumps(asdict(cfg)), "names": json.dumps(list(names)),
                                          "meta": json.dumps(meta)})
    tmp.chmod(0o644)
    tmp.replace(path)


def load_critic(path: Path) -> SubjectCritic:
    """The shipped critic (fp16 on disk, run in fp32 on the CPU)."""
    import json

    import torch
    from safetensors import safe_open

    from models.common.errors import ModelFileError

    if not path.is_file():
        raise ModelFileError(f"no subject critic at {path}: train it with "
                             "`.venv/bin/python -m models.image.training.critic` (IMAGE_CARD.md)")
    with safe_open(str(path), "pt") as f:
        md = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}
    raw = json.loads(md.get("config", "{}"))
    cfg = CriticConfig(**{**raw, "channels": tuple(raw.get("channels", CriticConfig.channels))})
    model = _torch_model(cfg)
    dis = state.pop("distractors").float().numpy()
    model.load_state_dict({k: (v.float() if v.dtype == torch.float16 else v) for k, v in state.items()})
    model.eval()
    return SubjectCritic(model, cfg, dis / np.linalg.norm(dis, axis=1, keepdims=True),
                         tuple(json.loads(md.get("names", "[]"))))


def critic_meta(path: Path) -> dict:
    """The metrics stored with a critic file (for the card and the bench)."""
    import json

    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return json.loads((f.metadata() or {}).get("meta", "{}"))


@dataclass
class SubjectJudge:
    """The critic with the text encoder it was aligned to: scores pictures against texts. Text
    vectors are cached per judge (a revision round asks about the same subjects many times)."""

    critic: SubjectCritic
    encoder: object  # texts -> (n, 384) unit vectors (models.common.encoder.SentenceEncoder)
    threshold: float  # rank above which a subject counts as found (set on held-out pictures)

    def __post_init__(self) -> None:
        self._cache: dict[str, np.ndarray] = {}

    def text_vectors(self, texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if new:
            for t, v in zip(new, np.asarray(self.encoder(new), np.float32)):
                self._cache[t] = v
        return np.stack([self._cache[t] for t in texts])

    def ranks(self, picture: np.ndarray, texts: list[str]) -> list[float]:
        """Each text's rank (0..1) among the distractors on ``picture`` (uint8 (H, W, 3))."""
        z = self.critic.embed([picture])[0]
        return [self.critic.rank(z, t) for t in self.text_vectors(texts)]

    def library_margins(self, picture: np.ndarray, texts: list[str], library: np.ndarray) -> list[float]:
        """How far each text ('a submarine', as ``ranks`` asks) scores on ``picture`` above the best
        of ``library`` ((K, 384) unit vectors: the exemplars' subjects, 'boat'), in the critic's
        cosine (the dev set preferred the prompt's form to the bare subject: bench/image_misses.py).
        Negative: the picture looks more like something the library has (the boat a submarine was
        drawn from) than like the subject."""
        z = self.critic.embed([picture])[0]
        best = float(np.max(np.asarray(library, np.float32) @ z))
        return [float(z @ t) - best for t in self.text_vectors(texts)]


def load_judge(path: Path, encoder) -> SubjectJudge:
    critic = load_critic(path)
    return SubjectJudge(critic, encoder, float(critic_meta(path).get("threshold", 0.9)))
