#!/bin/bash
# The composer audit's six requests with both models (briefs as in bench/judged/music-composer/,
# seed 11 from the briefs), then analyse.py / beats.py (the audit's own scripts, with the bundle
# folder as an argument) over them.
set -e
cd "$(dirname "$0")/../../.."
rm -rf /tmp/music_audit2/out1 /tmp/music_audit2/out2
.venv/bin/arsnova run bench/judged/music-composer/brief.yaml --out /tmp/music_audit2/out1
.venv/bin/arsnova run bench/judged/music-composer/brief_transformer.yaml --out /tmp/music_audit2/out2
.venv/bin/python bench/judged/music-composer/analyse.py /tmp/music_audit2 > /tmp/music_audit2/analysis.txt
.venv/bin/python bench/judged/music-composer/beats.py /tmp/music_audit2 > /tmp/music_audit2/beats.txt
