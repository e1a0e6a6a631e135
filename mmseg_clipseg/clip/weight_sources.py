"""Where the checkpoint file of a :class:`~.config.CLIPConfig` is: a local or packaged file,
the weights file of a ``local-dir:`` folder, or a download through open_clip's public API
(pretrained tags, ``hf-hub:`` repositories), whose failure is one line saying what to do."""
import logging
import os.path as osp
import socket
import urllib.error
from typing import Dict, Optional

import open_clip
from mmengine.logging import print_log

from ..utils.errors import UserInputError
from .checkpoint_files import describe_error
from .config import LOCAL_DIR_CONFIG, LOCAL_DIR_PREFIX, CLIPConfig, local_dir_weight_files

__all__ = ['download_failure', 'weights_file']

# The weights files open_clip reads first from a model folder, best first (the names its
# push_to_hf_hub and the Hugging Face libraries write).
_PREFERRED_FOLDER_WEIGHTS = (
    'open_clip_model.safetensors', 'open_clip_pytorch_model.safetensors',
    'open_clip_pytorch_model.bin', 'open_clip_pytorch_model.pth', 'model.safetensors',
    'pytorch_model.bin', 'pytorch_model.pth', 'model.pth')
# Names of the exceptions (huggingface_hub, requests, httpx) that mean "no connection".
_NETWORK_ERROR_NAMES = frozenset({
    'LocalEntryNotFoundError', 'OfflineModeIsEnabled', 'ConnectError', 'ConnectTimeout',
    'ReadTimeout', 'TimeoutException', 'ProxyError', 'SSLError', 'ConnectionError',
    'NetworkError'})


def _network_error(error: Optional[BaseException]) -> Optional[BaseException]:
    """The innermost exception in ``error``'s chain that means the server could not be
    reached (the most specific one), or None."""
    seen, found = set(), None
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if not isinstance(error, urllib.error.HTTPError) and (
                isinstance(error, (ConnectionError, TimeoutError, socket.gaierror,
                                   urllib.error.URLError))
                or type(error).__name__ in _NETWORK_ERROR_NAMES):
            found = error
        error = error.__cause__ or error.__context__
    return found


def download_failure(error: BaseException, source: str) -> UserInputError:
    """The one-line error for a failed download of ``source`` (described for messages):
    what to do without internet when the server could not be reached, else what failed."""
    network = _network_error(error)
    if network is None:
        return UserInputError(f'Could not obtain {source}: {describe_error(error)}')
    return UserInputError(
        f'Could not download {source}: the server could not be reached '
        f'({describe_error(network)}). Is this machine offline? Without internet, download '
        'the checkpoint elsewhere and set model.clip.pretrained to its path (or '
        f'model.clip.model_name to "{LOCAL_DIR_PREFIX}/path/to/folder" for a folder with '
        f'{LOCAL_DIR_CONFIG}).')


def _download(pretrained_cfg: Dict, config: CLIPConfig, source: str) -> str:
    """The local path of the weights ``pretrained_cfg`` (an open_clip pretrained config)
    names, downloaded by open_clip into ``config.cache_dir`` unless it is there already."""
    cache_dir = osp.expanduser(config.cache_dir) if config.cache_dir else None
    try:
        path = open_clip.download_pretrained(pretrained_cfg, cache_dir=cache_dir)
    except Exception as error:  # open_clip and the hub raise many types
        raise download_failure(error, source) from error
    if not path:
        raise UserInputError(f'open_clip names no file for {source}.')
    return path


def _folder_weights(folder: str) -> str:
    """The weights file open_clip reads from the model folder ``folder``: the first of its
    preferred names, else the first ``.safetensors`` file, else the first file (by name)."""
    names = local_dir_weight_files(folder)
    preferred = [name for name in _PREFERRED_FOLDER_WEIGHTS if name in names]
    if preferred:
        return osp.join(folder, preferred[0])
    chosen = sorted(names, key=lambda name: not name.endswith('.safetensors'))[0]
    if len(names) > 1:
        print_log(f'{folder!r} holds several weights files ({", ".join(names)}); reading '
                  f'{chosen!r}.', logger='current', level=logging.WARNING)
    return osp.join(folder, chosen)


def weights_file(config: CLIPConfig, source: str) -> str:
    """The checkpoint file of ``config`` (which must name weights), downloaded if need be.

    Tags and ``hf-hub:`` names are downloaded by open_clip (the fail-fast network check is
    the caller's); ``source`` describes the weights in messages."""
    if config.local_dir is not None:
        return _folder_weights(config.local_dir)
    if config.is_hf_hub:  # '<repo>/': the repository's default weights file
        return _download({'hf_hub': f'{config.hub_repo}/'}, config, source)
    path = config.checkpoint_path
    if path is not None:
        return path
    return _download(open_clip.get_pretrained_cfg(config.model_name, config.pretrained),
                     config, source)
