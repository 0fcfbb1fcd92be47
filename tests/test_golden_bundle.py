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
    "index.html": "ab2f2728210b43c3c8209531457e14299ed3bd612cc0b24f1b6edf885fee1891",
    "manifest.json": "972f9bf82427dc39099fb5caa9b2917e2f51ba79ca8f0898633189d66969a181",
    "music/003-call_0_compose_music-music.mid": "d67bf8530124d5c2796b8606d277e11c325fc8f5b54e7ab657f194df251519bb",
    "music/003-call_0_compose_music-music.png": "e3d4860be35793a1352918c95b44746a03ee979759e677d62f1a665b872ad136",
    "poems/001-call_0_write_poem-poem.md": "601f0c118db66a5037b6636fe1f3163d069039ae241181c0556ff80fdaa8740f",
}


def test_the_golden_brief_gives_the_same_bytes(tmp_path, capsys):
    brief = tmp_path / "golden.yaml"
    brief.write_text(BRIEF)
    out = tmp_path / "bundle"
    assert main(["run", str(brief), "--out", str(out)]) == 0, capsys.readouterr().err
    got = {f.relative_to(out).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
           for f in sorted(out.rglob("*")) if f.is_file()}
    assert got == DIGESTS
