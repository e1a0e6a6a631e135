"""Build open_clip CLIP models and check that they are ViTs this package can run densely.

Weights come from an open_clip pretrained tag, a local checkpoint file, a tag shipped with
this package, an open_clip model folder (``local-dir:``), the Hugging Face Hub (``hf-hub:``)
or random initialisation. open_clip reads them (``open_clip.create_model``: safetensors,
``torch.load(weights_only=True)``, ``state_dict``/``module.`` unwrapping, positional-embedding
resizing, strict key/shape check). This module adds only what open_clip lacks: packaged tags,
``.gz`` files, OpenAI's TorchScript archives given as a path, a safe-loading check of local
files before open_clip sees them, a fail-fast check before a download whose server cannot be
reached (:mod:`.offline`), and error messages that say what to fix.

Each model is read once per process (a pristine CPU copy is cached) and every
:func:`load_clip` call gets its own deep copy, so moving or casting one segmentor's model
leaves the others alone; inside :func:`shared_clip_models` the calls share one copy.
"""
import contextlib
import contextvars
import copy
import dataclasses
import difflib
import functools
import gzip
import os
import os.path as osp
import pickle
import re
import shutil
import socket
import tempfile
import urllib.error
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

import open_clip
import torch
from open_clip.constants import HF_CONFIG_NAME
from open_clip.factory import HF_HUB_PREFIX, LOCAL_DIR_PREFIX
from open_clip.transformer import VisionTransformer
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from ..errors import MissingFileError, UserInputError
from .offline import check_weights_reachable

# Checkpoint file endings; any of them may be followed by '.gz' (gzip-compressed).
_CHECKPOINT_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.ckpt')
# Weights shipped inside the package, used like open_clip tags: <model_name>__<tag>.<suffix>.
PACKAGED_WEIGHTS_DIR = Path(__file__).parent / 'weights'
# Metadata entries of OpenAI's TorchScript checkpoints that are not weights.
_OPENAI_METADATA_KEYS = ('input_resolution', 'context_length', 'vocab_size')
# The architecture file of an open_clip model folder, local (LOCAL_DIR_PREFIX) or on the hub
# (HF_HUB_PREFIX): 'open_clip_config.json'.
_LOCAL_DIR_CONFIG = HF_CONFIG_NAME
# The weight files open_clip looks for in a local-dir folder (it picks one of them).
_LOCAL_DIR_WEIGHT_GLOBS = ('*.safetensors', '*.bin', '*.pth')
# Training checkpoints keep the weights under one of these keys.
_WRAPPER_KEYS = ('state_dict', 'model')
# Names of the exceptions (huggingface_hub, requests, httpx) that mean "no connection".
_NETWORK_ERROR_NAMES = frozenset({
    'LocalEntryNotFoundError', 'OfflineModeIsEnabled', 'ConnectError', 'ConnectTimeout',
    'ReadTimeout', 'TimeoutException', 'ProxyError', 'SSLError', 'ConnectionError',
    'NetworkError'})


@dataclasses.dataclass(frozen=True)
class CLIPConfig:
    """Which CLIP model to use.

    Args:
        model_name: An open_clip model name, e.g. ``'ViT-B-16'``; or
            ``'local-dir:/path/to/folder'``, a folder holding open_clip's
            ``open_clip_config.json`` and a weights file (e.g.
            ``open_clip_model.safetensors``); or ``'hf-hub:org/repo'``, such a folder on
            the Hugging Face Hub. The last two bring their own weights: leave
            ``pretrained`` unset.
        pretrained: An open_clip pretrained tag (e.g. ``'openai'``), a tag of weights
            shipped with this package, the path of a local checkpoint file (``.pt``,
            ``.pth``, ``.bin``, ``.safetensors``, OpenAI's TorchScript ``.pt``; each may be
            ``.gz``), or None for random initialisation (tests, offline smoke runs).
        quick_gelu: Force QuickGELU activations, as OpenAI's CLIP uses. Needed when an
            OpenAI checkpoint is loaded from a file into a model name without
            ``-quickgelu``; models named ``-quickgelu`` use QuickGELU either way.
        init_seed: Seed of the random initialisation when ``pretrained`` is None, so that
            every process builds the same random model.
        cache_dir: Where open_clip puts downloaded weights (tags, ``hf-hub:``); None for
            open_clip's default.
    """
    model_name: str
    pretrained: Optional[str] = None
    quick_gelu: bool = False
    init_seed: int = 0
    cache_dir: Optional[str] = None

    def __post_init__(self):
        if isinstance(self.model_name, str) and self.model_name.startswith(LOCAL_DIR_PREFIX):
            folder = osp.expanduser(self.model_name[len(LOCAL_DIR_PREFIX):])
            object.__setattr__(self, 'model_name', LOCAL_DIR_PREFIX + folder)

    @classmethod
    def from_value(cls, value: Union['CLIPConfig', Mapping[str, Any]]) -> 'CLIPConfig':
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise UserInputError(f'clip must be a dict like dict(model_name="ViT-B-16", '
                                 f'pretrained="openai"), got {value!r}')
        fields = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(value) - fields)
        if unknown:
            raise UserInputError(f'Unknown clip setting(s) {unknown}; known: {sorted(fields)}')
        if 'model_name' not in value:
            raise UserInputError('clip.model_name is required, e.g. "ViT-B-16"')
        return cls(**value)

    @property
    def local_dir(self) -> Optional[str]:
        """The folder of a ``local-dir:`` model name."""
        if self.model_name.startswith(LOCAL_DIR_PREFIX):
            return self.model_name[len(LOCAL_DIR_PREFIX):]
        return None

    @property
    def is_hf_hub(self) -> bool:
        return self.model_name.startswith(HF_HUB_PREFIX)

    @property
    def hub_repo(self) -> Optional[str]:
        """The repository of an ``hf-hub:`` model name (empty if none is given)."""
        return self.model_name[len(HF_HUB_PREFIX):].strip('/') if self.is_hf_hub else None

    @property
    def pretrained_is_file(self) -> bool:
        """Whether ``pretrained`` names a local or packaged file rather than an open_clip
        tag."""
        return self.checkpoint_path is not None

    @property
    def checkpoint_path(self) -> Optional[str]:
        """The checkpoint file to read, if ``pretrained`` is a path or a packaged tag."""
        if self.pretrained is None:
            return None
        packaged = packaged_weights(self.model_name).get(self.pretrained)
        if packaged is not None:
            return str(packaged)
        return osp.expanduser(self.pretrained) if _looks_like_path(self.pretrained) else None

    def weights_identity(self) -> str:
        """A string that changes whenever the weights may change (for caches)."""
        qg = f'qg={self.quick_gelu}'
        if self.local_dir is not None:
            folder = osp.abspath(self.local_dir)
            files = [_LOCAL_DIR_CONFIG] + _local_dir_weight_files(folder)
            return f'local-dir={folder}|' + '|'.join(
                _file_identity(osp.join(folder, name), name) for name in files) + f'|{qg}'
        if self.is_hf_hub:
            return f'{self.model_name}|{qg}'
        if self.pretrained is None:
            return f'{self.model_name}|random|seed={self.init_seed}|{qg}'
        path = self.checkpoint_path
        if path is not None:
            path = osp.abspath(path)
            return f'{self.model_name}|file={_file_identity(path, path)}|{qg}'
        return f'{self.model_name}|tag={self.pretrained}|{qg}'


def _file_identity(path: str, name: str) -> str:
    stat = os.stat(path)
    return f'{name}:{stat.st_size}:{stat.st_mtime_ns}'


def _local_dir_weight_files(folder: str) -> List[str]:
    return sorted({path.name for pattern in _LOCAL_DIR_WEIGHT_GLOBS
                   for path in Path(folder).glob(pattern)})


def packaged_weights(model_name: str) -> Dict[str, Path]:
    """Tags of the weights shipped with the package for ``model_name``, and their files."""
    prefix = f'{model_name}__'
    return {path.name[len(prefix):].split('.')[0]: path
            for path in sorted(PACKAGED_WEIGHTS_DIR.glob(f'{prefix}*'))
            if set(path.suffixes) & set(_CHECKPOINT_SUFFIXES)}


def _looks_like_path(pretrained: str) -> bool:
    return (os.sep in pretrained or '/' in pretrained or pretrained.startswith('~')
            or pretrained.removesuffix('.gz').endswith(_CHECKPOINT_SUFFIXES)
            or osp.exists(pretrained))


def _check_model_name(model_name: str) -> None:
    """Refuse a name open_clip does not list (names with a prefix are checked apart)."""
    available = open_clip.list_models()
    if model_name not in available:
        close = difflib.get_close_matches(model_name, available, n=5)
        hint = f' Did you mean: {", ".join(close)}?' if close else ''
        raise UserInputError(
            f'Unknown open_clip model {model_name!r}.{hint} open_clip.list_models() lists all '
            f'names; a folder with {_LOCAL_DIR_CONFIG} is "{LOCAL_DIR_PREFIX}/path/to/folder", '
            f'a hub repository "{HF_HUB_PREFIX}org/repo".')


def _check_no_pretrained(config: CLIPConfig) -> None:
    """Refuse ``pretrained`` with a ``local-dir:`` or ``hf-hub:`` name (open_clip would
    ignore it)."""
    if config.pretrained is not None:
        raise UserInputError(
            f'model_name {config.model_name!r} brings its own weights; leave pretrained '
            f'unset instead of {config.pretrained!r}.')


def _check_local_dir(folder: str) -> None:
    if not osp.isdir(folder):
        if osp.exists(folder):
            raise UserInputError(f'{LOCAL_DIR_PREFIX} {folder!r} is a file, not a folder. '
                                 'For a checkpoint file set pretrained to its path instead.')
        raise MissingFileError(f'The {LOCAL_DIR_PREFIX} folder {folder!r} does not exist.')
    if not osp.isfile(osp.join(folder, _LOCAL_DIR_CONFIG)):
        raise MissingFileError(
            f'The {LOCAL_DIR_PREFIX} folder {folder!r} has no {_LOCAL_DIR_CONFIG} (open_clip '
            'reads the architecture from it: {"model_cfg": {...}, "preprocess_cfg": {...}}).')
    weights = _local_dir_weight_files(folder)
    if not weights:
        raise MissingFileError(
            f'The {LOCAL_DIR_PREFIX} folder {folder!r} has no weights file (open_clip looks '
            f'for {", ".join(_LOCAL_DIR_WEIGHT_GLOBS)}, e.g. open_clip_model.safetensors).')
    for name in weights:
        if not name.endswith('.safetensors'):  # pickle-based: check it before open_clip
            path = osp.join(folder, name)
            _read_state_dict(path, path)


def _known_tags(model_name: str) -> list:
    return open_clip.list_pretrained_tags_by_model(model_name) + list(
        packaged_weights(model_name))


def _check_pretrained_tag(model_name: str, tag: str) -> None:
    tags = _known_tags(model_name)
    if tag not in tags:
        raise UserInputError(
            f'{tag!r} is neither an existing checkpoint file nor a pretrained tag of '
            f'{model_name!r}. Tags of {model_name}: {", ".join(tags) or "none"}. '
            'For a local checkpoint give its path.')


# --- Local checkpoint files -------------------------------------------------------------

# Boilerplate lines of torch's weights-only error that say nothing about the file.
_TORCH_BOILERPLATE = ('Weights only load failed', 'Please file an issue', 'Check the documentation')


def _detail(error: BaseException, limit: int = 240) -> str:
    """One line describing ``error``."""
    lines = [line.strip() for line in str(error).splitlines()]
    lines = [line for line in lines if line and not line.startswith(_TORCH_BOILERPLATE)]
    text = lines[0] if lines else ''
    if len(text) > limit:
        text = text[:limit - 3] + '...'
    return f'{type(error).__name__}: {text}' if text else type(error).__name__


def _unreadable(path: str, error: BaseException) -> UserInputError:
    return UserInputError(
        f'{path!r} is not a readable checkpoint file ({_detail(error)}). Is it complete (not '
        'truncated) and an open_clip/PyTorch state dict (.pt/.pth/.bin), .safetensors or '
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
                f'tensors ({_detail(error)}). They are not loaded because unpickling them can '
                'run arbitrary code; save a plain state dict '
                '(torch.save(model.state_dict(), path)) or a .safetensors file.') from error
        raise _unreadable(shown, error) from error


def _all_tensors(mapping: Mapping) -> bool:
    return all(isinstance(value, torch.Tensor) for value in mapping.values())


def _read_state_dict(path: str, shown: str) -> Tuple[Optional[str],
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
    wrapper, state = _read_state_dict(path, shown)
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
def _readable_by_open_clip(path: str) -> Iterator[str]:
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


@contextlib.contextmanager
def _weights_only_torch_loads() -> Iterator[None]:
    """Force every ``torch.load`` inside to be weights-only.

    open_clip's ``load_state_dict`` calls ``torch.load(weights_only=True)`` but, when that
    raises ``TypeError`` (meant for torch versions without the argument), retries with a
    plain ``torch.load``, which unpickles arbitrary objects on torch < 2.6 or with
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``; a crafted file can raise that TypeError on
    purpose. Local files are checked before open_clip sees them; for files open_clip
    downloads itself (tags, ``hf-hub:``) torch's ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` closes the
    retry. The environment is process-wide: restored on exit.
    """
    names = ('TORCH_FORCE_WEIGHTS_ONLY_LOAD', 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')
    saved = {name: os.environ.get(name) for name in names}
    os.environ[names[0]] = '1'
    os.environ.pop(names[1], None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- Building ---------------------------------------------------------------------------

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
            return _detail(error)
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
    return '; '.join(parts) + '.' if parts else _detail(error)


def _create_model(config: CLIPConfig, pretrained: Optional[str], source: str) -> nn.Module:
    """``open_clip.create_model`` with this package's settings and error messages.

    ``source`` describes the weights for messages; ``pretrained`` is what open_clip gets."""
    downloads = config.is_hf_hub or (pretrained is not None and not osp.isfile(pretrained))
    try:
        with torch.random.fork_rng(devices=[]), _weights_only_torch_loads():
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
                f'({_detail(network)}). Is this machine offline? Without internet, download '
                'the checkpoint elsewhere and set model.clip.pretrained to its path (or '
                f'model.clip.model_name to "{LOCAL_DIR_PREFIX}/path/to/folder" for a folder '
                f'with {_LOCAL_DIR_CONFIG}).') from error
        if 'Required pretrained weights' in str(error):
            raise UserInputError(f'open_clip could not load {source}; its logged warning '
                                 'says why.') from error
        verb = 'obtain' if downloads else 'load'
        raise UserInputError(f'Could not {verb} {source}: {_detail(error)}') from error


def _build(config: CLIPConfig) -> nn.Module:
    if config.local_dir is not None:
        _check_no_pretrained(config)
        _check_local_dir(config.local_dir)
        return _create_model(config, None, f'the checkpoint in {config.local_dir!r}')
    if config.is_hf_hub:
        _check_no_pretrained(config)
        if not config.hub_repo:
            raise UserInputError("An 'hf-hub:' model name needs a repository, e.g. "
                                 "'hf-hub:laion/CLIP-ViT-B-16-laion2B-s34B-b88K'.")
        check_weights_reachable(config)  # before open_clip's download retries
        return _create_model(config, None, f'the checkpoint of {config.model_name!r}')
    _check_model_name(config.model_name)
    if config.pretrained is None:
        return _create_model(config, None, 'random weights')
    path = config.checkpoint_path
    if path is None:  # an open_clip tag
        _check_pretrained_tag(config.model_name, config.pretrained)
        check_weights_reachable(config)
        return _create_model(config, config.pretrained,
                             f'the {config.model_name} checkpoint for tag {config.pretrained!r}')
    _check_checkpoint_file(config, path)
    with _readable_by_open_clip(path) as readable:
        return _create_model(config, readable, f'checkpoint {path!r}')


def _check_checkpoint_file(config: CLIPConfig, path: str) -> None:
    """Refuse a ``pretrained`` path that is a folder or does not exist, saying what to give
    instead."""
    if osp.isdir(path):
        hint = (f' It holds {_LOCAL_DIR_CONFIG}: use model_name="{LOCAL_DIR_PREFIX}{path}" '
                'and no pretrained.' if osp.isfile(osp.join(path, _LOCAL_DIR_CONFIG))
                else ' Give the checkpoint file inside it.')
        raise UserInputError(f'CLIP checkpoint {config.pretrained!r} is a folder, not a '
                             f'file.{hint}')
    if not osp.isfile(path):
        raise MissingFileError(
            f'CLIP checkpoint file {config.pretrained!r} does not exist. Give the path of a '
            f'downloaded checkpoint, or a pretrained tag of {config.model_name!r}: '
            f'{", ".join(_known_tags(config.model_name)) or "none"}.')


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


@functools.lru_cache(maxsize=None)
def _load_pristine(config: CLIPConfig) -> nn.Module:
    """The model as loaded, on CPU in eval mode; never handed out (only copies of it)."""
    model = _build(config)
    _check_dense_vit(model, config.model_name)
    return model.eval()


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
    _load_pristine.cache_clear()


def load_clip(config: Union[CLIPConfig, Mapping[str, Any]]) -> nn.Module:
    """The open_clip CLIP model for ``config``, in eval mode on CPU; nothing here trains it.

    The checkpoint is read once per process: the loaded model stays cached on CPU (one extra
    copy of the weights in host memory per config; :func:`clear_clip_cache` frees them) and
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
