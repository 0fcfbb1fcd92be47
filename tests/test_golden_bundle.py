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
    "index.html": "17e977a70cd95c4510dc5694dad46901e287ec2deb6766b5462493aa5040cc6f",
    "manifest.json": "1b540ff0f6dccb50a26c1feb7bef1c1c73fdd65dd5c97bdd0d8e48aeba639682",
    "music/003-call_0_compose_music-music.mid": "37c228cd4d265fac79a016d38717ffb4bd28de9e21b9832620de76b601cad94a",
    "music/003-call_0_compose_music-music.png": "e6dfd21a50a560ae2afe74918c07dd1499a6f1061c5280d54714ad94ae922c7d",
    "poems/001-call_0_write_poem-poem.md": "a8203f55fea64691e2668780cc720a023e5257f1e6f937a364d1acae0b076d1e",
}


def test_the_golden_brief_gives_the_same_bytes(tmp_path, capsys):
    brief = tmp_path / "golden.yaml"
    brief.write_text(BRIEF)
    out = tmp_path / "bundle"
    assert main(["run", str(brief), "--out", str(out)]) == 0, capsys.readouterr().err
    got = {f.relative_to(out).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
           for f in sorted(out.rglob("*")) if f.is_file()}
    assert got == DIGESTS
