"""CLIP checkpoint files read as a state dict, never unpickling anything but tensors.

Reads the formats open_clip's checkpoints come in: ``.safetensors``, PyTorch state dicts
(``.pt``/``.pth``/``.bin``, bare or under ``'state_dict'`` or ``'model'``, with or without
DataParallel's ``module.`` prefix) and OpenAI's TorchScript archives; each may be
gzip-compressed (``.gz``). Every problem is one line naming the file.
"""
import contextlib
import gzip
import os.path as osp
import pickle
import shutil
import tempfile
import warnings
import zipfile
import zlib
from typing import Any, Dict, Iterator, List, Mapping

import torch
from safetensors.torch import load_file
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from ..utils.errors import UserInputError, shown_with_more

__all__ = ['describe_error', 'read_checkpoint']

# Metadata entries of OpenAI's TorchScript checkpoints that are not weights.
_OPENAI_METADATA_KEYS = ('input_resolution', 'context_length', 'vocab_size')
# Training checkpoints keep the weights under one of these keys.
_WRAPPER_KEYS = ('state_dict', 'model')
# Boilerplate lines of torch's weights-only error that say nothing about the file.
_TORCH_BOILERPLATE = ('Weights only load failed', 'Please file an issue', 'Check the documentation')


def describe_error(error: BaseException, limit: int = 240) -> str:
    """One line describing ``error``."""
    lines = [line.strip() for line in str(error).splitlines()]
    lines = [line for line in lines if line and not line.startswith(_TORCH_BOILERPLATE)]
    text = lines[0] if lines else ''
    if len(text) > limit:
        text = text[:limit - 3] + '...'
    return f'{type(error).__name__}: {text}' if text else type(error).__name__


def _unreadable(path: str, error: BaseException) -> UserInputError:
    return UserInputError(
        f'{path!r} is not a readable checkpoint file ({describe_error(error)}). Is it complete '
        '(not truncated) and an open_clip/PyTorch state dict (.pt/.pth/.bin), .safetensors or '
        "OpenAI's TorchScript .pt, optionally gzip-compressed as .gz?")


def _unsafe_globals(path: str) -> List[str]:
    """The Python objects (``module.name``) besides tensors and containers that the
    ``torch.save`` archive ``path`` refers to, found without unpickling it; empty for files
    that are no such archive (or too damaged to tell)."""
    if not zipfile.is_zipfile(path):
        return []
    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # noqa: BLE001  a damaged archive is reported as unreadable instead
        return []


def _load_weights_only(path: str, shown: str, mmap: bool) -> Any:
    """``torch.load`` that never unpickles anything but tensors and containers (explicit
    ``weights_only=True``: ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot turn it off).
    ``shown`` is the path named in messages; ``mmap`` maps a zip archive's tensors instead of
    reading them."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True,
                          mmap=mmap and zipfile.is_zipfile(path))
    except Exception as error:  # torch raises many types for unreadable files
        unsafe = _unsafe_globals(path) if isinstance(error, pickle.UnpicklingError) else []
        if unsafe:
            raise UserInputError(
                f'Could not read checkpoint {shown!r}: it holds pickled Python objects besides '
                f'tensors ({shown_with_more(unsafe, 3)}). They are not loaded because '
                'unpickling them can run arbitrary code; save a plain state dict '
                '(torch.save(model.state_dict(), path)) or a .safetensors file.') from error
        raise _unreadable(shown, error) from error


def _all_tensors(mapping: Mapping) -> bool:
    return all(isinstance(value, torch.Tensor) for value in mapping.values())


def _pickled_state_dict(path: str, shown: str, mmap: bool) -> Dict[str, torch.Tensor]:
    """The state dict of a ``torch.save`` checkpoint: the file itself, or the mapping under
    one of ``_WRAPPER_KEYS``."""
    checkpoint = _load_weights_only(path, shown, mmap)
    state = checkpoint
    if isinstance(checkpoint, Mapping) and not _all_tensors(checkpoint):
        state = next((checkpoint[key] for key in _WRAPPER_KEYS
                      if isinstance(checkpoint.get(key), Mapping)), checkpoint)
    if not isinstance(state, Mapping):
        raise UserInputError(f'Checkpoint {shown!r} holds a {type(state).__name__}, '
                             'not a state dict.')
    if not state or not _all_tensors(state):
        raise UserInputError(
            f'Checkpoint {shown!r} is not a state dict (a mapping of names to tensors); its '
            f'top-level keys: {list(state)[:8]}.')
    return dict(state)


def _is_torchscript(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith('constants.pkl') for name in archive.namelist())


def _torchscript_state_dict(path: str, shown: str) -> Dict[str, torch.Tensor]:
    """The weights of an OpenAI TorchScript archive (``torch.jit.load`` runs no Python
    code), without its metadata entries."""
    try:
        with warnings.catch_warnings():  # torch.jit.load's deprecation notice
            warnings.simplefilter('ignore', FutureWarning)
            state = torch.jit.load(path, map_location='cpu').state_dict()
    except Exception as error:  # RuntimeError for damaged archives
        raise _unreadable(shown, error) from error
    return {key: value for key, value in state.items() if key not in _OPENAI_METADATA_KEYS}


def _state_dict(path: str, shown: str, mmap: bool) -> Dict[str, torch.Tensor]:
    """The state dict of the uncompressed checkpoint ``path``, as it is stored."""
    if path.endswith('.safetensors'):
        try:
            return load_file(path, device='cpu')
        except Exception as error:  # SafetensorError and OSError
            raise _unreadable(shown, error) from error
    try:
        is_torchscript = _is_torchscript(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise _unreadable(shown, error) from error
    if is_torchscript:
        return _torchscript_state_dict(path, shown)
    return _pickled_state_dict(path, shown, mmap)


@contextlib.contextmanager
def _gunzipped(path: str) -> Iterator[str]:
    """Yield a decompressed copy of the ``.gz`` file ``path``, in a temporary folder
    (``$TMPDIR``)."""
    with tempfile.TemporaryDirectory(prefix='clipseg-checkpoint-') as folder:
        plain = osp.join(folder, osp.basename(path)[:-len('.gz')])
        try:
            with gzip.open(path, 'rb') as source, open(plain, 'wb') as target:
                shutil.copyfileobj(source, target, length=1 << 22)
        except (OSError, EOFError, zlib.error) as error:  # not gzip, damaged, truncated
            raise _unreadable(path, error) from error
        yield plain


def read_checkpoint(path: str) -> Dict[str, torch.Tensor]:
    """The state dict of the checkpoint file ``path`` (names to CPU tensors, in the dtypes
    stored), without DataParallel's ``module.`` prefix.

    Raises:
        UserInputError: one line naming ``path`` when the file cannot be read, holds no
            state dict, or holds pickled Python objects besides tensors.
    """
    if not path.endswith('.gz'):
        state = _state_dict(path, path, mmap=True)
    else:  # read into memory: the decompressed copy is deleted on return
        with _gunzipped(path) as plain:
            state = _state_dict(plain, path, mmap=False)
    consume_prefix_in_state_dict_if_present(state, 'module.')
    return state
