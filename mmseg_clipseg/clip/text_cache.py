"""On-disk cache of class text embeddings, keyed by weights, names and templates.

Encoding e.g. ADE20K-847 (847 classes x 80 templates) is costly; the embeddings depend only
on the weights' identity, the class names and the templates, so they are stored once under the
user cache folder (``$MMSEG_CLIPSEG_CACHE``, else ``$XDG_CACHE_HOME/mmseg_clipseg``, else
``~/.cache/mmseg_clipseg``).
"""
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import torch

# Bump when the way embeddings are computed changes, so that old entries are not reused.
_FORMAT_VERSION = 1


def cache_dir() -> Path:
    """The folder holding cached text embeddings."""
    root = os.environ.get('MMSEG_CLIPSEG_CACHE')
    if root is None:
        xdg = os.environ.get('XDG_CACHE_HOME', os.path.join(os.path.expanduser('~'), '.cache'))
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


def load(key: str) -> Optional[torch.Tensor]:
    """The cached embeddings for ``key``, or None if absent or unreadable."""
    path = cache_dir() / f'{key}.pt'
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception:  # a damaged entry is recomputed, not fatal
        return None


def save(key: str, embeddings: torch.Tensor) -> None:
    """Store embeddings atomically (several processes may write the same entry)."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix='.tmp', delete=False) as handle:
        torch.save(embeddings.detach().cpu(), handle)
    os.replace(handle.name, folder / f'{key}.pt')
