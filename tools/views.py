"""What a screen shows of a finished artifact, read from its files here in the tool layer, so
the UI renders what it is handed and opens no model file itself: a poem's title, lines and
scansion gutter; a piece's piano roll at any width; the picture; the file to open or play."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tools import registry
from tools.artifacts import Artifact


@dataclass(frozen=True)
class ArtifactView:
    files: dict[str, Path]  # role -> path in the session folder
    main: Path | None  # the file that is the result (the picture, the poem page, the MIDI)
    title: str = ""
    scansion: tuple[tuple[int, str, str, str], ...] = ()  # (syllables, rhyme letter, stress, line) per line
    image: Path | None = None
    midi: Path | None = None
    wav: Path | None = None
    kind: str = ""
    revise_noun: str = "result"  # how "make the … less conventional" names it (its tool's first revise word)

    @property
    def lines(self) -> list[str]:
        return [row[3] for row in self.scansion]

    def piano_roll(self, width: int) -> str:
        """The piece as text cells ``width`` wide, or why it cannot be read."""
        from models.music.midi_io import piano_roll_text_of

        return piano_roll_text_of(self.midi, width) if self.midi is not None else ""

    def no_audio_reason(self, soundfont: Path | None = None) -> str:
        from models.music.midi_io import synth_available

        return synth_available(soundfont) or "it was written before audio was set up"


def view_of(artifact: Artifact, folder: Path) -> ArtifactView:
    """The view of ``artifact`` whose files are in ``folder`` (missing files are left out)."""
    files = {role: folder / rel for role, rel in artifact.files.items()}
    present = {role: p for role, p in files.items() if p.is_file()}
    spec = registry.for_kind(artifact.kind)
    main = files.get(spec.main_file) if spec else next(iter(files.values()), None)
    title, scansion = "", ()
    if "poem" in present:
        poem = read_poem(present["poem"])
        title, scansion = poem.title, poem.scansion
    return ArtifactView(files=files, main=main, title=title, scansion=scansion, image=present.get("image"),
                        midi=present.get("midi"), wav=present.get("wav"), kind=artifact.kind,
                        revise_noun=spec.revise_words[0] if spec else "result")


@dataclass(frozen=True)
class PoemView:
    """A poem page as a screen or index.html shows it: never its front matter or its Markdown."""

    title: str
    stanzas: tuple[tuple[str, ...], ...]
    scansion: tuple[tuple[int, str, str, str], ...]  # (syllables, rhyme letter, stress, line) per line


def read_poem(path: Path) -> PoemView:
    """The title, stanzas and scansion of the poem page at ``path`` (models/poetry/page.py's format)."""
    from models.poetry.page import read_poem_stanzas, read_poem_title, scansion_rows

    page = path.read_text(encoding="utf-8")
    stanzas = tuple(tuple(st) for st in read_poem_stanzas(page))
    return PoemView(read_poem_title(page), stanzas, tuple(scansion_rows([ln for st in stanzas for ln in st])))


def picture_params(path: Path) -> dict:
    """The drawing parameters a PNG of ours carries (prompt, seed, steps, scheduler, model hash…);
    {} for a file that is missing or not ours."""
    from models.common.errors import UserFixableError
    from models.image.image_io import png_params

    try:
        return png_params(path) if path.exists() else {}
    except (UserFixableError, OSError, ValueError):
        return {}


MAX_PLAYER_NOTES = 4000  # a bundle page plays at most this many notes (a long piece plays its start)


def midi_notes(path: Path) -> list[tuple[float, float, int, int]]:
    """(start s, duration s, pitch, velocity) of a MIDI file's pitched notes, in time order, for the
    bundle page's in-browser player; [] for a file that is missing or cannot be read."""
    import io

    from models.common.errors import UserFixableError
    from models.common.files import read_capped

    try:
        import pretty_midi

        pm = pretty_midi.PrettyMIDI(io.BytesIO(read_capped(path, 8 << 20, "MIDI file")))
    except (UserFixableError, OSError, ValueError, EOFError, KeyError, IndexError):
        return []
    notes = sorted((n.start, n.end - n.start, n.pitch, n.velocity)
                   for inst in pm.instruments if not inst.is_drum for n in inst.notes)
    return [(round(s, 4), round(d, 4), p, v) for s, d, p, v in notes[:MAX_PLAYER_NOTES]]
