"""Files that exist only once complete: written under a hidden temporary name next to the
final one, then renamed; an interrupted run leaves only temporary files, which
:func:`remove_partials` clears."""
import errno
import glob
import os
import os.path as osp
from typing import Callable

from .errors import UnwritableFileError

# A file that is still being written: hidden, next to its final name.
PARTIAL_SUFFIX = '.partial'


def partial_path(path: str) -> str:
    """A hidden temporary name next to ``path``, unique to this process."""
    folder, name = osp.split(path)
    return osp.join(folder, f'.{name}.{os.getpid()}{PARTIAL_SUFFIX}')


def remove_partials(path: str) -> None:
    """Delete what an interrupted run left while writing ``path``."""
    folder, name = osp.split(path)
    for leftover in glob.glob(osp.join(glob.escape(folder),
                                       f'.{glob.escape(name)}.*{PARTIAL_SUFFIX}')):
        try:
            os.remove(leftover)
        except OSError:
            pass


def write_error(path: str, error: OSError) -> UnwritableFileError:
    """One line for a file that could not be written: its name and the system's reason.

    Some writers lose the reason (numpy: "16384 requested and 10176 written"); a full disk is
    then told by the free space left."""
    reason = error.strerror
    if not error.errno:
        folder = osp.dirname(osp.abspath(path))
        while not osp.isdir(folder):
            folder = osp.dirname(folder)
        try:
            full = os.statvfs(folder).f_bavail == 0
        except (OSError, AttributeError):  # no statvfs (Windows)
            full = False
        reason = os.strerror(errno.ENOSPC) if full else str(error)
    if reason == os.strerror(errno.ENOSPC):
        return UnwritableFileError(f'Could not write {path}: {reason}; free some space or '
                                   'write to another folder.')
    return UnwritableFileError(f'Could not write {path}: {reason}.')


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """``write(temporary_path)``, then rename: ``path`` exists only once complete.

    Raises:
        UnwritableFileError: The file or its folder cannot be written (read-only file system,
            no permission, disk full, ...).
    """
    temporary = partial_path(path)
    try:
        os.makedirs(osp.dirname(path) or '.', exist_ok=True)
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:
        raise write_error(path, error) from error
    finally:
        if osp.exists(temporary):
            os.remove(temporary)
