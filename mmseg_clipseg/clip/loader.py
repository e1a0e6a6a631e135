"""Build open_clip CLIP models and check that they are ViTs this package can run densely.

Weights come from an open_clip pretrained tag, a local checkpoint file, a tag shipped with
this package, an open_clip model folder (``local-dir:``), the Hugging Face Hub (``hf-hub:``)
or random initialisation (:class:`~.config.CLIPConfig`). open_clip reads them
(``open_clip.create_model``: safetensors, ``torch.load(weights_only=True)``,
``state_dict``/``module.`` unwrapping, positional-embedding resizing, strict key/shape check).
This package adds only what open_clip lacks: packaged tags, local files it cannot read or
should not read unchecked (:mod:`.checkpoint_files`), a fail-fast check before a download
whose server cannot be reached (:mod:`.offline`), and error messages that say what to fix.

Each model is read once per process and per content of its weights files (a pristine CPU
copy is cached, keyed on :meth:`~.config.CLIPConfig.weights_identity`) and every
:func:`load_clip` call gets its own deep copy, so moving or casting one segmentor's model
leaves the others alone; inside :func:`shared_clip_models` the calls share one copy.
"""
import contextlib
import contextvars
import copy
import os
import os.path as osp
import re
import socket
import urllib.error
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple, Union

import open_clip
import torch
from open_clip.transformer import VisionTransformer
from torch import nn

from ..utils.errors import UserInputError
from .checkpoint_files import check_weights_only_loads, describe_error, readable_by_open_clip
from .config import LOCAL_DIR_CONFIG, LOCAL_DIR_PREFIX, CLIPConfig, packaged_weights
from .config_checks import (check_checkpoint_file, check_local_dir, check_model_name,
                            check_no_pretrained, check_pretrained_tag)
from .offline import check_weights_reachable

__all__ = ['CLIPConfig', 'clear_clip_cache', 'load_clip', 'packaged_weights',
           'shared_clip_models']

# Names of the exceptions (huggingface_hub, requests, httpx) that mean "no connection".
_NETWORK_ERROR_NAMES = frozenset({
    'LocalEntryNotFoundError', 'OfflineModeIsEnabled', 'ConnectError', 'ConnectTimeout',
    'ReadTimeout', 'TimeoutException', 'ProxyError', 'SSLError', 'ConnectionError',
    'NetworkError'})


# --- open_clip.create_model, its errors in one line -------------------------------------

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


def _open_clip_functions(error: BaseException) -> set:
    """The names of the open_clip functions ``error`` was raised through."""
    names, traceback = set(), error.__traceback__
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if f'{os.sep}open_clip{os.sep}' in code.co_filename:
            names.add(code.co_name)
        traceback = traceback.tb_next
    return names


def _mismatch_summary(error: BaseException) -> Optional[str]:
    """A one-line summary of the error of a checkpoint that does not fit the model: torch's
    strict ``load_state_dict`` error, or another error of open_clip's ``load_checkpoint``
    after the file was read (e.g. its positional-embedding resizing)."""
    message = str(error)
    if 'Error(s) in loading state_dict' not in message:
        functions = _open_clip_functions(error)
        if 'load_checkpoint' in functions and 'load_state_dict' not in functions:
            return describe_error(error)
        return None
    parts, mismatches = [], []
    for line in message.splitlines()[1:]:
        label, _, rest = line.strip().partition(': ')
        if label.startswith(('Missing key', 'Unexpected key')):
            keys = re.findall(r'"([^"]+)"', rest)
            more = ', ...' if len(keys) > 3 else ''
            parts.append(f'{label} ({len(keys)}): {", ".join(keys[:3])}{more}')
        elif label.startswith('size mismatch'):
            mismatches.append(line.strip().rstrip('.').replace('copying a param with shape ', '')
                              .replace('torch.Size', ''))
    if mismatches:
        more = f' (and {len(mismatches) - 2} more)' if len(mismatches) > 2 else ''
        parts.append('; '.join(mismatches[:2]) + more)
    return '; '.join(parts) + '.' if parts else describe_error(error)


def _create_model(config: CLIPConfig, pretrained: Optional[str], source: str) -> nn.Module:
    """``open_clip.create_model`` with this package's settings and error messages.

    ``source`` describes the weights for messages; ``pretrained`` is what open_clip gets."""
    downloads = config.is_hf_hub or (pretrained is not None and not osp.isfile(pretrained))
    if downloads:
        check_weights_only_loads(source)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.init_seed)
            return open_clip.create_model(
                config.model_name, pretrained=pretrained, force_quick_gelu=config.quick_gelu,
                cache_dir=osp.expanduser(config.cache_dir) if config.cache_dir else None,
                require_pretrained=pretrained is not None or config.is_hf_hub
                or config.local_dir is not None)
    except UserInputError:
        raise
    except Exception as error:  # open_clip and the hub raise many types
        mismatch = _mismatch_summary(error)
        if mismatch is not None:
            raise UserInputError(
                f'{source[0].upper()}{source[1:]} does not fit model '
                f'{config.model_name!r} (wrong model_name?): {mismatch}') from error
        network = _network_error(error) if downloads else None
        if network is not None:
            raise UserInputError(
                f'Could not download {source}: the server could not be reached '
                f'({describe_error(network)}). Is this machine offline? Without internet, download '
                'the checkpoint elsewhere and set model.clip.pretrained to its path (or '
                f'model.clip.model_name to "{LOCAL_DIR_PREFIX}/path/to/folder" for a folder '
                f'with {LOCAL_DIR_CONFIG}).') from error
        if 'Required pretrained weights' in str(error):
            raise UserInputError(f'open_clip could not load {source}; its logged warning '
                                 'says why.') from error
        verb = 'obtain' if downloads else 'load'
        raise UserInputError(f'Could not {verb} {source}: {describe_error(error)}') from error


def _build(config: CLIPConfig) -> nn.Module:
    if config.local_dir is not None:
        check_no_pretrained(config)
        check_local_dir(config.local_dir)
        return _create_model(config, None, f'the checkpoint in {config.local_dir!r}')
    if config.is_hf_hub:
        check_no_pretrained(config)
        if not config.hub_repo:
            raise UserInputError("An 'hf-hub:' model name needs a repository, e.g. "
                                 "'hf-hub:laion/CLIP-ViT-B-16-laion2B-s34B-b88K'.")
        check_weights_reachable(config)  # before open_clip's download retries
        return _create_model(config, None, f'the checkpoint of {config.model_name!r}')
    check_model_name(config.model_name)
    if config.pretrained is None:
        return _create_model(config, None, 'random weights')
    path = config.checkpoint_path
    if path is None:  # an open_clip tag
        check_pretrained_tag(config.model_name, config.pretrained)
        check_weights_reachable(config)
        return _create_model(config, config.pretrained,
                             f'the {config.model_name} checkpoint for tag {config.pretrained!r}')
    check_checkpoint_file(config, path)
    with readable_by_open_clip(path) as readable:
        return _create_model(config, readable, f'checkpoint {path!r}')


def _check_dense_vit(model: nn.Module, model_name: str) -> None:
    visual = getattr(model, 'visual', None)
    if not isinstance(visual, VisionTransformer):
        raise UserInputError(f'{model_name!r} has a {type(visual).__name__} image tower; '
                             'dense inference needs an open_clip VisionTransformer (a ViT model).')
    if visual.attn_pool is not None:
        raise UserInputError(f'{model_name!r} uses attentional pooling, which is not supported.')
    for block in visual.transformer.resblocks:
        if not isinstance(getattr(block, 'attn', None), nn.MultiheadAttention):
            raise UserInputError(f'{model_name!r} uses {type(block).__name__} blocks; dense '
                                 'inference supports blocks with nn.MultiheadAttention.')
    if not hasattr(model, 'token_embedding'):
        raise UserInputError(f'{model_name!r} has a custom text tower, which is not supported.')


# --- One read per process, one copy per build -------------------------------------------

# The model as loaded for each config, on CPU in eval mode, with the weights' identity it
# was read with; never handed out (only copies of it).
_PRISTINE: Dict[CLIPConfig, Tuple[str, nn.Module]] = {}


def _load_pristine(config: CLIPConfig) -> nn.Module:
    """The cached model of ``config``, read again when its weights changed since (by
    content: :meth:`CLIPConfig.weights_identity`)."""
    identity = _weights_identity(config)
    cached = _PRISTINE.get(config)
    if cached is not None and cached[0] == identity:
        return cached[1]
    _PRISTINE.pop(config, None)  # a stale copy is not kept beside the new one
    model = _build(config)
    _check_dense_vit(model, config.model_name)
    _check_finite(model, config)
    if identity is not None and _weights_identity(config) == identity:
        _PRISTINE[config] = (identity, model.eval())  # (else it changed while being read)
    return model.eval()


def _weights_identity(config: CLIPConfig) -> Optional[str]:
    """The weights' identity, or None for files that cannot be read (:func:`_build` then
    says what is wrong with them)."""
    try:
        return config.weights_identity()
    except OSError:
        return None


def _check_finite(model: nn.Module, config: CLIPConfig) -> None:
    """Weights that load but hold NaN or infinity would give NaN logits, and so one class
    everywhere, without any error."""
    broken = [name for name, tensor in model.state_dict().items()
              if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if broken:
        more = f' and {len(broken) - 1} more tensors' if len(broken) > 1 else ''
        raise UserInputError(
            f'CLIP weights {config.pretrained!r} of {config.model_name} hold NaN or infinite '
            f'numbers ({broken[0]}{more}): the file is damaged, or was saved from a run that '
            'diverged. Get the weights again.')


# Within shared_clip_models(): the models handed out so far, by config.
_SHARED: contextvars.ContextVar[Optional[Dict[CLIPConfig, nn.Module]]] = \
    contextvars.ContextVar('mmseg_clipseg_shared_clip_models', default=None)


@contextlib.contextmanager
def shared_clip_models() -> Iterator[None]:
    """Within this context, :func:`load_clip` calls with equal configs return one model.

    Meant for building one segmentor, whose backbone and head then share one copy of the
    weights (moving or casting the segmentor moves both). Nested uses share with the
    outermost. Outside, every call returns a model of its own."""
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def clear_clip_cache() -> None:
    """Forget the loaded models kept for later :func:`load_clip` calls (one CPU copy per
    config); the next call reads its checkpoint again."""
    _PRISTINE.clear()


def load_clip(config: Union[CLIPConfig, Mapping[str, Any]]) -> nn.Module:
    """The open_clip CLIP model for ``config``, in eval mode on CPU; nothing here trains it.

    The checkpoint is read once per process and per content of its file (a file rewritten
    in place is read again): the loaded model stays cached on CPU (one extra copy of the
    weights in host memory per config; :func:`clear_clip_cache` frees them) and
    each call returns a deep copy of it, so changing one model (``.half()``, ``.to('cuda')``)
    never changes another. Inside :func:`shared_clip_models` calls with equal configs return
    the same copy.
    """
    config = CLIPConfig.from_value(config)
    shared = _SHARED.get()
    if shared is not None and config in shared:
        return shared[config]
    model = copy.deepcopy(_load_pristine(config))
    if shared is not None:
        shared[config] = model
    return model
