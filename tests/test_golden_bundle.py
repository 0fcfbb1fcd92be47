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
    "images/002-call_0_generate_image-image.png": "d29bc7594402d873e2c994daa80f37a7b8aace8aa783d8ee998520ec424accf0",
    "images/004-call_0_style_transfer-styled.png": "c477a798f3de5f281d3c31f7339ecca2796fe98b2a4e0f8afdb8d871d0657583",
    "index.html": "64242b8fb83132f6675a2218c7a72fad48c4ed3e5f8203a0fa27a93f77adaf2f",
    "manifest.json": "780d06e3ee54e4a3bf8095de73be95f221bbc0b08880a414c16a40f2f144d011",
    "music/003-call_0_compose_music-music.mid": "a08716322523c5d7662d0fd9425912ff6627746b227f3ffb1b6f4d2df688ae0c",
    "music/003-call_0_compose_music-music.png": "a183e9ac005936cb608d1f69d4cc36d11bf41d04a9f4e38df5c4f57e725dd92f",
    "poems/001-call_0_write_poem-poem.md": "8a8e61489e399d4db96f73f91d401e6c8decf886994a91b8749a339582312163",
}


def test_the_golden_brief_gives_the_same_bytes(tmp_path, capsys):
    brief = tmp_path / "golden.yaml"
    brief.write_text(BRIEF)
    out = tmp_path / "bundle"
    assert main(["run", str(brief), "--out", str(out)]) == 0, capsys.readouterr().err
    got = {f.relative_to(out).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
           for f in sorted(out.rglob("*")) if f.is_file()}
    assert got == DIGESTS
