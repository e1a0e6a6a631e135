"""Local checkpoint files made safe and readable for open_clip.

open_clip reads safetensors and ``torch.load(weights_only=True)`` state dicts itself
(``state_dict``/``module.`` unwrapping included). This module adds what it lacks: ``.gz``
files, OpenAI's TorchScript archives given as a path, checkpoints keeping the weights under
``'model'``, a weights-only check of pickle-based files before open_clip sees them (its retry
without ``weights_only`` never runs), and one-line messages naming the file.
"""
import contextlib
import gzip
import os
import os.path as osp
import pickle
import re
import shutil
import tempfile
import warnings
import zipfile
import zlib
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..utils.errors import UserInputError

# Metadata entries of OpenAI's TorchScript checkpoints that are not weights.
_OPENAI_METADATA_KEYS = ('input_resolution', 'context_length', 'vocab_size')
# Training checkpoints keep the weights under one of these keys.
_WRAPPER_KEYS = ('state_dict', 'model')
# The variable that makes torch.load without `weights_only` unpickle anything, and the values
# torch reads as set.
_FORCE_UNSAFE_LOADS = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
_TORCH_TRUE_VALUES = ('1', 'y', 'yes', 'true')
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


def _is_refused_object(error: BaseException) -> bool:
    """Whether torch's weights-only unpickler stopped at a Python object (not corruption)."""
    return isinstance(error, pickle.UnpicklingError) and re.search(
        r'GLOBAL|call reduce|Can only (build|create)', str(error)) is not None


def _load_weights_only(path: str, shown: str) -> Any:
    """``torch.load`` that never unpickles anything but tensors and containers. Zip
    checkpoints are memory-mapped, so only their pickled structure is read. ``shown`` is the
    path named in messages."""
    try:
        mmap = zipfile.is_zipfile(path)
        return torch.load(path, map_location='cpu', weights_only=True, mmap=mmap)
    except Exception as error:  # torch raises many types for unreadable files
        if _is_refused_object(error):
            raise UserInputError(
                f'Could not read checkpoint {shown!r}: it holds pickled Python objects besides '
                f'tensors ({describe_error(error)}). They are not loaded because unpickling them '
                'can run arbitrary code; save a plain state dict '
                '(torch.save(model.state_dict(), path)) or a .safetensors file.') from error
        raise _unreadable(shown, error) from error


def _all_tensors(mapping: Mapping) -> bool:
    return all(isinstance(value, torch.Tensor) for value in mapping.values())


def read_state_dict(path: str, shown: str) -> Tuple[Optional[str],
                                                     Mapping[str, torch.Tensor]]:
    """Load a pickle-based checkpoint weights-only (refusing Python objects) and find its
    state dict.

    After this succeeds open_clip's own ``torch.load(weights_only=True)`` succeeds too, so
    open_clip never reaches its retry without ``weights_only``.

    Returns:
        tuple: the key of ``_WRAPPER_KEYS`` the state dict was under (None for a bare state
        dict), and the state dict (names to tensors).
    """
    checkpoint = _load_weights_only(path, shown)
    wrapper = None
    if isinstance(checkpoint, Mapping) and not _all_tensors(checkpoint):
        wrapper = next((key for key in _WRAPPER_KEYS
                        if isinstance(checkpoint.get(key), Mapping)), None)
    state = checkpoint if wrapper is None else checkpoint[wrapper]
    if not isinstance(state, Mapping):
        raise UserInputError(f'Checkpoint {shown!r} holds a {type(state).__name__}, '
                             'not a state dict.')
    if not state or not _all_tensors(state):
        raise UserInputError(
            f'Checkpoint {shown!r} is not a state dict (a mapping of names to tensors); its '
            f'top-level keys: {list(state)[:8]}.')
    return wrapper, state


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


def _weights_to_convert(path: str, shown: str) -> Optional[Mapping[str, torch.Tensor]]:
    """Check an uncompressed checkpoint file. None if open_clip reads it safely as it is;
    else the state dict to give open_clip as a safetensors file instead: that of an OpenAI
    TorchScript archive (open_clip's weights-only loading refuses them) or of a checkpoint
    keeping it under ``'model'`` (open_clip unwraps only ``'state_dict'`` and ``module.``)."""
    if path.endswith('.safetensors'):
        try:
            with safe_open(path, framework='pt') as handle:
                handle.keys()
        except Exception as error:  # SafetensorError and OSError
            raise _unreadable(shown, error) from error
        return None
    try:
        is_torchscript = _is_torchscript(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise _unreadable(shown, error) from error
    if is_torchscript:
        return _torchscript_state_dict(path, shown)
    wrapper, state = read_state_dict(path, shown)
    return state if wrapper == 'model' else None


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


@contextlib.contextmanager
def readable_by_open_clip(path: str) -> Iterator[str]:
    """Yield a file that open_clip reads safely and with the same weights as ``path``:
    ``path`` itself after a check (safetensors, open_clip/PyTorch state dicts), else a
    temporary file (decompressed ``.gz``, converted to safetensors; see
    :func:`_weights_to_convert`)."""
    with contextlib.ExitStack() as stack:
        plain = stack.enter_context(_gunzipped(path)) if path.endswith('.gz') else path
        state = _weights_to_convert(plain, path)
        if state is None:
            yield plain
            return
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix='clipseg-checkpoint-'))
        converted = osp.join(folder, 'weights.safetensors')
        save_file({key: value.contiguous() for key, value in state.items()}, converted)
        del state  # open_clip reads the file; the weights need not stay in memory twice
        yield converted


def check_weights_only_loads(source: str) -> None:
    """Refuse to let open_clip read ``source`` (weights it downloads itself, which cannot be
    checked before) when ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set.

    open_clip's ``load_state_dict`` calls ``torch.load(weights_only=True)`` but, when that
    raises ``TypeError`` (meant for torch versions without the argument), retries with a
    plain ``torch.load``; that retry is weights-only too (torch >= 2.6), unless this
    variable makes it unpickle arbitrary objects, and a crafted file can raise the
    TypeError on purpose. Local files are checked weights-only before open_clip sees them.
    """
    value = os.environ.get(_FORCE_UNSAFE_LOADS, '0')
    if value.lower() in _TORCH_TRUE_VALUES:
        raise UserInputError(
            f'{_FORCE_UNSAFE_LOADS}={value} would let open_clip unpickle arbitrary code from '
            f'{source}, which it reads unchecked; unset it for this run, or download the '
            'checkpoint and set model.clip.pretrained to its path (read weights-only).')
