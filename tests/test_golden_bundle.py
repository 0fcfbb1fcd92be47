"""The same brief and seed give the same bundle, byte for byte, on the shipped models: pinned
here file by file so that moving code around (issue 18's reorganisation) cannot change a result
unnoticed. A deliberate change to a generator or a critic updates these digests in its commit,
saying why."""

import hashlib
from pathlib import Path

from agent.cli import main

BRIEF = """title: Golden
seed: 11
turns:
  - Write a haiku about autumn rain.
  - Draw a red apple, 64x64, 6 steps.
  - Compose 4 bars of slow piano music in D minor.
  - Restyle the last image like starry night, 64 px, 8 steps.
"""

DIGESTS = {
    "images/002-call_0_generate_image-image.png": "c35a89e004e4dd249948a3bd8bc6b78b5eb0ab1c89e0e6b6db59c4bdd16b4ca9",
    "images/004-call_0_style_transfer-styled.png": "8912ff715bb47b6229c5e43d3088e0352507094565d4a256838a03f5f3cbf498",
    "index.html": "af2aa03a188da73a16984140000d2b31213663f4a48631e8e8a1a704ed43a85e",
    "manifest.json": "7792ab7da876d0e9ab72ff3f989b65c049a73165811f5a1fa480560b8c842466",
    "music/003-call_0_compose_music-music.mid": "d67bf8530124d5c2796b8606d277e11c325fc8f5b54e7ab657f194df251519bb",
    "music/003-call_0_compose_music-music.png": "e3d4860be35793a1352918c95b44746a03ee979759e677d62f1a665b872ad136",
    "poems/001-call_0_write_poem-poem.md": "1108d6ff1e0bd0784d7d299b539255a7f5e84d7d5eb81aa8d890c5668c038217",
}


def test_the_golden_brief_gives_the_same_bytes(tmp_path, capsys):
    brief = tmp_path / "golden.yaml"
    brief.write_text(BRIEF)
    out = tmp_path / "bundle"
    assert main(["run", str(brief), "--out", str(out)]) == 0, capsys.readouterr().err
    got = {f.relative_to(out).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
           for f in sorted(out.rglob("*")) if f.is_file()}
    assert got == DIGESTS
