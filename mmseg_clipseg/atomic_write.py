"""Files that exist only once complete: written under a hidden temporary name next to the
final one, then renamed; an interrupted run leaves only temporary files, which
:func:`remove_partials` clears."""
import glob
import os
import os.path as osp
from typing import Callable

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


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """``write(temporary_path)``, then rename: ``path`` exists only once complete."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    temporary = partial_path(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if osp.exists(temporary):
            os.remove(temporary)
