"""The bundle's index.html (issue 23): poems as HTML, pictures with their parameters, music with
its piano roll and an in-page player; and, in a real headless browser (slow), the page renders."""

import html
import json
import re
import shutil
import subprocess

import pytest

from agent.cli import main

BRIEF = """title: Page check
seed: 5
turns:
  - Write a haiku about autumn rain.
  - Compose 4 bars of slow piano music in D minor.
  - Draw a red apple, 16x16, 4 steps.
"""


@pytest.fixture(scope="module")
def bundle(tiny_weights, tmp_path_factory):
    from tests.tiny import make_tiny_image_model

    root = tmp_path_factory.mktemp("page")
    weights = shutil.copytree(tiny_weights, root / "weights")
    make_tiny_image_model(weights)
    brief = root / "page.yaml"
    brief.write_text(BRIEF)
    out = root / "bundle"
    assert main(["--weights", str(weights), "run", str(brief), "--out", str(out)]) == 0
    return out


def test_music_has_its_piano_roll_and_a_player_with_its_notes(bundle):
    import pretty_midi

    page = (bundle / "index.html").read_text(encoding="utf-8")
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    music = next(a for a in manifest["artifacts"] if a["kind"] == "music")
    assert f"<img src='{music['files']['piano_roll']}' alt='piano roll'>" in page
    found = re.search(r"<button class='play' data-notes='([^']*)'>", page)
    assert found, "no player"
    notes = json.loads(html.unescape(found.group(1)))
    pm = pretty_midi.PrettyMIDI(str(bundle / music["files"]["midi"]))
    want = sorted((round(n.start, 4), n.pitch) for i in pm.instruments for n in i.notes)
    assert sorted((s, p) for s, _, p, _ in notes) == want  # the page plays the file's own notes
    assert "document.querySelectorAll('button.play')" in page and "createOscillator" in page


def test_pictures_carry_their_parameters_and_poems_are_html(bundle):
    page = (bundle / "index.html").read_text(encoding="utf-8")
    assert "<table class='params'>" in page and "red apple" in page
    assert "<table class='scansion'>" in page and "---" not in page
    assert "seed: 5" in page and "Page check" in page


@pytest.mark.slow
def test_the_page_renders_in_a_headless_browser(bundle, tmp_path):
    """Chromium (Debian's `chromium`) opens index.html: the scripts run without an error, the
    DOM has the poem, the picture, the piano roll and the player, and the screenshot is a page."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no headless browser here (apt-get install chromium)")
    url = (bundle / "index.html").as_uri()
    common = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--allow-file-access-from-files"]
    dom = subprocess.run([*common, "--dump-dom", "--enable-logging=stderr", "--v=0", url],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    assert "<h3>" in dom.stdout and "alt=\"piano roll\"" in dom.stdout and "▶ Play in the browser" in dom.stdout
    shot = tmp_path / "page.png"
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1000,2400", url],
                   capture_output=True, timeout=120, check=True)
    from PIL import Image

    with Image.open(shot) as im:
        colours = im.convert("RGB").getcolors(1 << 20) or []
    assert len(colours) > 50  # text, the piano roll and the picture: not a blank page
