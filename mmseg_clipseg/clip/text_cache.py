"""On-disk cache of class text embeddings, keyed by weights, names and templates.

Encoding e.g. ADE20K-847 (847 classes x 80 templates) is costly; the embeddings depend only
on the weights' identity, the class names and the templates, so they are stored once under the
user cache folder (``$MMSEG_CLIPSEG_CACHE``, else ``$XDG_CACHE_HOME/mmseg_clipseg``, else
``~/.cache/mmseg_clipseg``).
"""
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Optional, Sequence

import torch
from mmengine.logging import print_log

from ..utils.atomic_write import write_atomically

# Bump when the way embeddings are computed or stored changes, so that old entries are not
# reused.
_FORMAT_VERSION = 2
# Warnings already given, for those given once per process.
_warned: set = set()


def _folder_variable(name: str) -> Optional[str]:
    """A folder named by an environment variable: None when unset or empty (as the XDG
    specification reads an empty value), with a leading ``~`` expanded (a quoted ``"~/x"``
    reaches the program unexpanded)."""
    value = os.environ.get(name, '').strip()
    return os.path.expanduser(value) if value else None


def cache_dir() -> Path:
    """The folder holding cached text embeddings."""
    root = _folder_variable('MMSEG_CLIPSEG_CACHE')
    if root is None:
        xdg = _folder_variable('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'),
                                                                  '.cache')
        root = os.path.join(xdg, 'mmseg_clipseg')
    return Path(root) / 'text_embeddings'


def cache_key(weights_identity: str, classes: Sequence[Sequence[str]],
              templates: Sequence[str]) -> str:
    """A hex digest identifying one set of embeddings."""
    payload = json.dumps(
        dict(version=_FORMAT_VERSION, weights=weights_identity,
             classes=[list(names) for names in classes], templates=list(templates)),
        sort_keys=True)
    return hashlib.sha256(payload.encode('utf-8')).hexdigest()


def load(key: str, num_rows: int) -> Optional[torch.Tensor]:
    """The cached embeddings for ``key``, or None if absent or not trustworthy.

    An entry is used only if it holds its own key, and ``num_rows`` finite, unit-norm fp32
    rows; anything else (a damaged, truncated or foreign file) is recomputed, with a warning.
    """
    path = cache_dir() / f'{key}.pt'
    if not path.is_file():
        return None
    try:
        entry = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises many types for unreadable files
        _warn(f'ignoring unreadable text-embedding cache entry {path} ({error})')
        return None
    embeddings = entry.get('embeddings') if isinstance(entry, dict) else None
    problem = _problem(entry, embeddings, key, num_rows)
    if problem:
        _warn(f'ignoring text-embedding cache entry {path}: {problem}')
        return None
    return embeddings


def _problem(entry: object, embeddings: object, key: str, num_rows: int) -> Optional[str]:
    if not isinstance(entry, dict) or entry.get('key') != key:
        return 'it was written for other names, templates or weights'
    if not isinstance(embeddings, torch.Tensor) or embeddings.dtype != torch.float32 \
            or embeddings.dim() != 2 or embeddings.shape[0] != num_rows:
        return f'expected a float32 tensor with {num_rows} rows'
    if not torch.isfinite(embeddings).all():
        return 'it holds non-finite values'
    norms = embeddings.norm(dim=-1)
    if not torch.allclose(norms, torch.ones_like(norms), atol=1e-3):
        return 'its rows are not unit-norm'
    return None


def save(key: str, embeddings: torch.Tensor) -> None:
    """Store embeddings atomically (several processes may write the same entry). The cache
    is optional: a folder that cannot be written is reported once, never fatal."""
    folder = cache_dir()
    entry = dict(key=key, embeddings=embeddings.detach().float().cpu())

    def write(path: str) -> None:
        # Through a Python file, whose write errors are OSError (torch's own writer of a
        # path raises RuntimeError).
        with open(path, 'wb') as handle:
            torch.save(entry, handle)

    try:
        write_atomically(str(folder / f'{key}.pt'), write)
    except OSError as error:
        _warn(f'could not write the text-embedding cache in {folder} ({error}); continuing '
              'without it. Set MMSEG_CLIPSEG_CACHE to a writable folder to keep embeddings '
              'between runs.', once=True)


def _warn(message: str, once: bool = False) -> None:
    if once and message in _warned:
        return
    _warned.add(message)
    print_log(message, logger='current', level=logging.WARNING)
