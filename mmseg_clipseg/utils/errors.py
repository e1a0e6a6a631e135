"""Errors for user mistakes: the message says what was wrong and how to fix it.

The command-line tools print these without a traceback; everything else is a bug and keeps
its traceback.
"""
from typing import Sequence


class UserInputError(ValueError):
    """A bad setting or input (unknown model, empty class list, ...)."""


class MissingFileError(UserInputError, FileNotFoundError):
    """A file or folder named in the configuration does not exist."""


class UnwritableFileError(UserInputError, OSError):
    """A file or folder cannot be written (read-only file system, disk full, no permission);
    an ``OSError`` too, so that code which tolerates a failed write (a cache) still does."""


def shown_with_more(items: Sequence[object], limit: int, kind: str = '',
                    separator: str = ', ') -> str:
    """The first ``limit`` of ``items`` for a message, and how many are left out.

    ``shown_with_more(['a', 'b', 'c', 'd', 'e'], 3)`` is ``'a, b, c and 2 more'``;
    with ``kind='files'`` it ends in ``'and 2 more files'``; with ``limit`` items or fewer
    they are all shown, and nothing is added.
    """
    shown = separator.join(str(item) for item in items[:limit])
    left_out = len(items) - limit
    if left_out <= 0:
        return shown
    return f'{shown} and {left_out} more' + (f' {kind}' if kind else '')
