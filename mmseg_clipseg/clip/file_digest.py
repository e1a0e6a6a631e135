"""The content digest of a weights file, computed once per process per state of the file.

Caches keyed on a file's path, size and modification time reuse stale results when the file
is rewritten in place with the same size and its time stamp is set back (``os.utime``, a
copy tool keeping times). The digest of the content does not have that hole; hashing a
multi-GB checkpoint takes seconds, so it is remembered for as long as the file's status
(device, inode, size, modification and status-change times) is unchanged. The status-change
time (``st_ctime_ns``) cannot be set by a user: any write or ``os.utime`` moves it on.
"""
import hashlib
import os
import threading
import time
from typing import Dict, Tuple

__all__ = ['content_digest', 'forget_digests']

# A file whose status changed less than this long ago is hashed again at the next request:
# a write within the file system's time-stamp granularity (a few ms on Linux) could leave
# its status unchanged.
_SETTLED_NS = 1_000_000_000
# Bytes read per step while hashing (Python >= 3.9 has no hashlib.file_digest).
_BLOCK_BYTES = 1 << 22
# The file's status when it was hashed, and the digest, by absolute path.
_digests: Dict[str, Tuple[Tuple[int, ...], str]] = {}
_lock = threading.Lock()


def _status(path: str) -> Tuple[int, ...]:
    stat = os.stat(path)
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def content_digest(path: str) -> str:
    """The SHA-256 hex digest of the file ``path``.

    Remembered per process while the file's status stays as it was when it was hashed, so
    that a checkpoint is read for hashing once per process per state of the file.
    """
    path = os.path.abspath(path)
    status = _status(path)
    with _lock:
        known = _digests.get(path)
    if known is not None and known[0] == status:
        return known[1]
    hasher = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(_BLOCK_BYTES), b''):
            hasher.update(block)
    digest = hasher.hexdigest()
    after = _status(path)
    if after == status and time.time_ns() - status[4] >= _SETTLED_NS:
        with _lock:
            _digests[path] = (status, digest)
    return digest


def forget_digests() -> None:
    """Forget every remembered digest (the next request hashes each file again)."""
    with _lock:
        _digests.clear()
