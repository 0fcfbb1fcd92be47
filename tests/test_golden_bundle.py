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
    "images/002-call_0_generate_image-image.png": "60d7a17a78bbe8c28da2e8f994aa0e85f07b47a467950915ef9615729d1792bd",
    "images/004-call_0_style_transfer-styled.png": "e30de63a1ab96a2f45f4c6ae2f7cd3a7ad3c4e0d2ba35be4d1747fddbfb608ae",
    "index.html": "eaa3df1c2aab888d5607eab7a6c774cc4eda113b86146018253ca537f18d4f81",
    "manifest.json": "c561077379955f23a1ac6c678969e921b0879e3d01e340928aeddb7e8fef9f78",
    "music/003-call_0_compose_music-music.mid": "5ff490df4ea0e1232461d3c670b40be507478962f10eb23ad1f6815b8108f7e4",
    "music/003-call_0_compose_music-music.png": "5f71d40a3d4ef1ff26c59e9eac641ae6f4277ebf9fb1b6797a802e6a73f1d6b1",
    "poems/001-call_0_write_poem-poem.md": "245d23937dc1789db1df780137993541eea9fe0f7ccc961b6c6bf66a82346163",
}


def test_the_golden_brief_gives_the_same_bytes(tmp_path, capsys):
    brief = tmp_path / "golden.yaml"
    brief.write_text(BRIEF)
    out = tmp_path / "bundle"
    assert main(["run", str(brief), "--out", str(out)]) == 0, capsys.readouterr().err
    got = {f.relative_to(out).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
           for f in sorted(out.rglob("*")) if f.is_file()}
    assert got == DIGESTS
