"""Fail fast when CLIP weights must be downloaded and their server cannot be reached.

Without this check a machine without internet spends a minute in download retries before
open_clip gives up. The loader calls :func:`check_weights_reachable` right before open_clip
would download (pretrained tags and ``hf-hub:`` names), so every entry point (the tools, the
Python API, configs run by ``tools/test.py``) ends with the same single line.
"""
import os.path as osp
import socket
import threading
from typing import List, Optional, Sequence

import open_clip
from open_clip.constants import HF_CONFIG_NAME, HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME
from open_clip.pretrained import has_hf_hub

from ..utils.errors import UserInputError
from .config import CLIPConfig

# How long the reachability check of the weights' server may take.
NETWORK_TIMEOUT_S = 3.0
# Where open_clip keeps weights downloaded from a URL when no cache_dir is given.
_OPEN_CLIP_URL_CACHE = '~/.cache/clip'
# A tag's or a hub repository's weights come from the Hugging Face Hub.
_HUB = 'hub'


def _hub_files_cached(repo: str, names: Sequence[str], cache_dir: Optional[str]) -> bool:
    """Whether any of ``names`` of the hub repository ``repo`` is in the local cache."""
    from huggingface_hub import try_to_load_from_cache
    return any(isinstance(try_to_load_from_cache(repo, name, cache_dir=cache_dir), str)
               for name in names)


def _safetensors_alternative(name: str) -> List[str]:
    """The safetensors file open_clip's hub download tries before the weights file
    ``name``: open_clip_model.safetensors for its default .bin name, else the same name
    ending in .safetensors for a .bin or .pth file (as ``download_pretrained_from_hf``)."""
    if name == HF_WEIGHTS_NAME:
        return [HF_SAFE_WEIGHTS_NAME]
    if name.endswith(('.bin', '.pth')):
        return [osp.splitext(name)[0] + '.safetensors']
    return []


def _hub_weights_cached(repo: str, name: str, cache_dir: Optional[str]) -> bool:
    """Whether the weights file open_clip fetches for ``name`` of ``repo`` is cached: its
    safetensors alternative (tried first) or ``name`` itself."""
    return _hub_files_cached(repo, [*_safetensors_alternative(name), name], cache_dir)


def weights_source(config: CLIPConfig) -> Optional[str]:
    """Where the CLIP weights of ``config`` would be downloaded from: ``'hub'`` (the
    Hugging Face Hub), a URL, or None when nothing needs downloading (local files, random
    weights, weights already cached, or an unknown tag, which the loader reports)."""
    cache_dir = osp.expanduser(config.cache_dir) if config.cache_dir else None
    if config.local_dir is not None or (config.pretrained is None and not config.is_hf_hub):
        return None
    if config.is_hf_hub:
        cached = _hub_files_cached(config.hub_repo, [HF_CONFIG_NAME], cache_dir) and \
            _hub_weights_cached(config.hub_repo, HF_WEIGHTS_NAME, cache_dir)
        return None if cached else _HUB
    if config.pretrained_is_file:
        return None
    source = open_clip.get_pretrained_cfg(config.model_name, config.pretrained)
    if not source or 'file' in source:
        return None
    # As open_clip's download_pretrained: the hub when the tag has it and huggingface_hub is
    # installed, else the URL.
    if source.get('hf_hub') and has_hf_hub():
        repo, name = osp.split(source['hf_hub'])  # 'org/repo/' means open_clip's default name
        return None if _hub_weights_cached(repo, name or HF_WEIGHTS_NAME, cache_dir) else _HUB
    url = source.get('url', '')
    if not url or osp.isfile(osp.join(cache_dir or osp.expanduser(_OPEN_CLIP_URL_CACHE),
                                      osp.basename(url))):
        return None
    return url


def unreachable_reason(url: str, timeout_s: float = NETWORK_TIMEOUT_S) -> Optional[str]:
    """None if a TCP connection to ``url``'s host opens within ``timeout_s``, else why not."""
    from urllib.parse import urlparse
    parsed = urlparse(url if '//' in url else f'https://{url}')
    host, port = parsed.hostname or url, parsed.port or (80 if parsed.scheme == 'http' else 443)
    outcome: List[str] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            outcome.append('')
        except OSError as error:
            outcome.append(f'{type(error).__name__}: {error}')

    thread = threading.Thread(target=connect, daemon=True)  # name lookups ignore timeouts
    thread.start()
    thread.join(timeout_s + 0.5)
    if not outcome:
        return f'no answer from {host} within {timeout_s:.0f} s'
    return outcome[0] or None


def _weights_name(config: CLIPConfig) -> str:
    if config.is_hf_hub:
        return config.model_name
    return f'{config.model_name} (pretrained tag {config.pretrained!r})'


def check_weights_reachable(config: CLIPConfig) -> None:
    """Raise :class:`UserInputError` with one line when the weights of ``config`` must be
    downloaded and their server cannot be reached (or ``HF_HUB_OFFLINE`` forbids it)."""
    source = weights_source(config)
    if source is None:
        return
    from huggingface_hub import constants
    if source == _HUB and constants.HF_HUB_OFFLINE:
        reason = 'HF_HUB_OFFLINE is set'
    else:
        server = constants.ENDPOINT if source == _HUB else source
        reason = unreachable_reason(server)
        if reason is None:
            return
        reason = f'{server} cannot be reached ({reason})'
    raise UserInputError(
        f'The CLIP weights {_weights_name(config)} are not on this machine and must be '
        f'downloaded, but {reason}. Without internet: download the checkpoint elsewhere and '
        'set model.clip.pretrained=/path/to/checkpoint (tools: --cfg-options '
        'clip.pretrained=...), or model.clip.model_name="local-dir:/path/to/folder" for a '
        'folder with open_clip_config.json and weights; for an offline try, use the packaged '
        'model tiny-synthetic (synthetic scenes only).')
