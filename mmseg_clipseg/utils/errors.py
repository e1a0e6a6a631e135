"""Errors for user mistakes: the message says what was wrong and how to fix it.

The command-line tools print these without a traceback; everything else is a bug and keeps
its traceback.
"""


class UserInputError(ValueError):
    """A bad setting or input (unknown model, empty class list, ...)."""


class MissingFileError(UserInputError, FileNotFoundError):
    """A file or folder named in the configuration does not exist."""


class UnwritableFileError(UserInputError, OSError):
    """A file or folder cannot be written (read-only file system, disk full, no permission);
    an ``OSError`` too, so that code which tolerates a failed write (a cache) still does."""
