"""Errors a user can fix (a bad file, a missing model). Messages name the thing and the fix."""


class UserFixableError(Exception):
    """Raised for problems the person can fix; shown as one line, never with a traceback."""


class ModelFileError(UserFixableError):
    """A weights file is missing, truncated, of the wrong shape, or not in a safe format."""


class ModelMissing(ModelFileError):
    """A model this build expects is not installed (not trained yet, or not given): the tool is unavailable."""


class InputFileError(UserFixableError):
    """An input file (MIDI, image, brief) cannot be read as what it claims to be."""


class Cancelled(Exception):
    """The person cancelled a running generation; nothing was written."""
