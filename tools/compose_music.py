"""compose_music: symbolic music from the project's RNN or Transformer, as MIDI."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool

from tools.schemas import ComposeMusicArgs


def make_compose_music(runner: Callable) -> BaseTool:
    @tool("compose_music", args_schema=ComposeMusicArgs, response_format="content_and_artifact")
    def compose_music(config: RunnableConfig, **kwargs):
        """Compose a piece of music as MIDI (with a piano-roll picture).

        Use for any request for music, a tune, melody, song, chorale, jig, reel or waltz.
        mood sets the feel (calm, sad, lively...), key like 'D minor', tempo in bpm, bars
        to compose, meter like '3/4', instrument like piano or violin, style one of the
        corpus styles (chorale, folk, irish, scottish, english), primer_midi a MIDI file
        to continue, model 'transformer' (default) or 'rnn'.
        """
        art = runner("compose_music", {k: v for k, v in kwargs.items() if v is not None}, config)
        return art.summary, art

    return compose_music
