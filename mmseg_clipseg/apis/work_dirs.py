"""The work dir of a ``tools/test.py`` run: a folder that can be written, held by one run.

A run holds an exclusive lock on its work dir (``<work dir>/.tools_test.lock``): mmengine
names a run's log folder by the second it started, so two runs sharing a work dir could write
into one folder and lose a result. A second run on a busy work dir is refused at once (rather
than queued: a run that waits silently looks hung). A run that starts in the second an earlier
one ended waits for the next second, so it gets a folder of its own.
"""
import contextlib
import os
import os.path as osp
import time
from typing import Iterator

from mmengine.utils import mkdir_or_exist

from ..utils.errors import UserInputError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None

LOCK_NAME = '.tools_test.lock'


def check_output_folder(path: str, option: str, create: bool) -> None:
    """``path`` is (or can become) a writable folder; made when ``create``."""
    if osp.exists(path) and not osp.isdir(path):
        raise UserInputError(f'{option} {path!r} is a file, not a folder; give a folder.')
    existing = osp.abspath(path)
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not osp.isdir(existing):
        raise UserInputError(f'{option} {path!r} cannot be made: {existing!r} is a file, not '
                             'a folder.')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserInputError(f'{option} {path!r} is not writable (no permission to write in '
                             f'{existing!r}); give another folder.')
    if create:
        try:
            mkdir_or_exist(path)
        except OSError as error:
            raise UserInputError(f'{option} {path!r} could not be made: '
                                 f'{error.strerror or error}.') from error


@contextlib.contextmanager
def work_dir_lock(work_dir: str) -> Iterator[None]:
    """Hold an exclusive lock on ``work_dir`` (released when the process ends, however)."""
    if fcntl is None:
        yield
        return
    path = osp.join(work_dir, LOCK_NAME)
    try:
        handle = open(path, 'a+', encoding='utf-8')
    except OSError as error:
        raise UserInputError(f'Work dir {work_dir!r} is not writable: '
                             f'{error.strerror or error}.') from error
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip()
            raise UserInputError(
                f'Another tools/test.py run{f" (process {owner})" if owner else ""} is using '
                f'work dir {work_dir!r}; give this run its own --work-dir, or wait until '
                'that one ends.') from None
        except OSError:  # a file system without locks (some network mounts): run unlocked
            yield
            return
        handle.seek(0)
        handle.truncate()
        handle.write(f'{os.getpid()}\n')
        handle.flush()
        # mmengine names the run's folder by the second; a run that ended within this
        # second must keep its folder.
        while osp.exists(osp.join(work_dir, time.strftime('%Y%m%d_%H%M%S'))):
            time.sleep(0.05)
        yield
