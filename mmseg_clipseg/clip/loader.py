"""Build an open_clip CLIP model once per process, from a pretrained tag, a local checkpoint
file, or random initialisation, and check that it is a ViT this package can run densely."""
import contextlib
import dataclasses
import difflib
import functools
import gzip
import io
import logging
import os
import os.path as osp
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, Optional, Union

import open_clip
import torch
from open_clip.transformer import VisionTransformer
from torch import nn

from ..errors import MissingFileError, UserInputError

# Checkpoint file endings; any of them may be followed by '.gz' (gzip-compressed).
_CHECKPOINT_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.ckpt')
# Weights shipped inside the package, used like open_clip tags: <model_name>__<tag>.<suffix>.
PACKAGED_WEIGHTS_DIR = Path(__file__).parent / 'weights'
# Metadata entries of OpenAI's TorchScript checkpoints that are not weights.
_OPENAI_METADATA_KEYS = ('input_resolution', 'context_length', 'vocab_size')


@dataclasses.dataclass(frozen=True)
class CLIPConfig:
    """Which CLIP model to use.

    Args:
        model_name: An open_clip model name, e.g. ``'ViT-B-16'``.
        pretrained: An open_clip pretrained tag (e.g. ``'openai'``), the path of a local
            checkpoint file, or None for random initialisation (tests, offline smoke runs).
        quick_gelu: Force QuickGELU activations, as OpenAI's CLIP uses. Needed when an
            OpenAI checkpoint is loaded from a file into a model name without
            ``-quickgelu``; models named ``-quickgelu`` use QuickGELU either way.
        init_seed: Seed of the random initialisation when ``pretrained`` is None, so that
            every process builds the same random model.
    """
    model_name: str
    pretrained: Optional[str] = None
    quick_gelu: bool = False
    init_seed: int = 0

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
        if self.pretrained is None:
            return f'{self.model_name}|random|seed={self.init_seed}|qg={self.quick_gelu}'
        if self.pretrained_is_file:
            path = osp.abspath(self.checkpoint_path)
            stat = os.stat(path)
            return f'{self.model_name}|file={path}|{stat.st_size}|{stat.st_mtime_ns}' \
                   f'|qg={self.quick_gelu}'
        return f'{self.model_name}|tag={self.pretrained}|qg={self.quick_gelu}'


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
    available = open_clip.list_models()
    if model_name not in available:
        close = difflib.get_close_matches(model_name, available, n=5)
        hint = f' Did you mean: {", ".join(close)}?' if close else ''
        raise UserInputError(f'Unknown open_clip model {model_name!r}.{hint} '
                             'open_clip.list_models() lists all names.')


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


def _read_checkpoint(path: str) -> Dict[str, torch.Tensor]:
    """Read a state dict from an open_clip/PyTorch checkpoint, safetensors or OpenAI's
    TorchScript archive, optionally gzip-compressed (``.gz``), never unpickling arbitrary
    objects."""
    compressed = path.endswith('.gz')
    source: Union[str, io.BytesIO] = path
    if compressed:
        with gzip.open(path, 'rb') as handle:
            source = io.BytesIO(handle.read())
    if path.removesuffix('.gz').endswith('.safetensors'):
        from safetensors.torch import load, load_file
        return load(source.getvalue()) if compressed else load_file(path, device='cpu')
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            is_torchscript = any(name.endswith('constants.pkl') for name in archive.namelist())
        if compressed:
            source.seek(0)
        if is_torchscript:
            # OpenAI's original .pt files are TorchScript; loading one runs no Python code.
            state = torch.jit.load(source, map_location='cpu').state_dict()
            return {key: value for key, value in state.items()
                    if key not in _OPENAI_METADATA_KEYS}
    try:
        checkpoint = torch.load(source, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises several types for unreadable files
        raise UserInputError(f'Could not read checkpoint {path!r} as PyTorch weights: '
                             f'{error}') from error
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
    if not isinstance(checkpoint, Mapping):
        raise UserInputError(f'Checkpoint {path!r} holds a {type(checkpoint).__name__}, '
                             'not a state dict.')
    return {key.removeprefix('module.'): value for key, value in checkpoint.items()}


def _load_checkpoint_file(model: nn.Module, config: CLIPConfig) -> None:
    path = config.checkpoint_path
    if not osp.isfile(path):
        raise MissingFileError(
            f'CLIP checkpoint file {config.pretrained!r} does not exist. Give the path of a '
            f'downloaded checkpoint, or a pretrained tag of {config.model_name!r}: '
            f'{", ".join(_known_tags(config.model_name)) or "none"}.')
    state = _read_checkpoint(path)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shape mismatches
        raise UserInputError(f'Checkpoint {path!r} does not fit model {config.model_name!r} '
                             f'(wrong model_name?): {error}') from error
    if missing or unexpected:
        raise UserInputError(
            f'Checkpoint {path!r} does not fit model {config.model_name!r} (wrong '
            f'model_name?). Missing keys: {missing[:5]}{"..." if len(missing) > 5 else ""}; '
            f'unexpected keys: {unexpected[:5]}{"..." if len(unexpected) > 5 else ""}.')


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


@contextlib.contextmanager
def _without_random_init_warning(config: CLIPConfig) -> Iterator[None]:
    """Silence open_clip's "initialized randomly" warning when a checkpoint file follows."""
    if config.pretrained is None:
        yield
        return
    root = logging.getLogger()
    quiet = logging.Filter()
    quiet.filter = lambda record: 'initialized randomly' not in record.getMessage()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


@functools.lru_cache(maxsize=None)
def _load_clip_cached(config: CLIPConfig) -> nn.Module:
    _check_model_name(config.model_name)
    if config.pretrained is not None and not config.pretrained_is_file:
        _check_pretrained_tag(config.model_name, config.pretrained)
        try:
            model = open_clip.create_model(config.model_name, pretrained=config.pretrained,
                                           force_quick_gelu=config.quick_gelu)
        except Exception as error:  # hub/network errors come in many types
            raise UserInputError(
                f'Could not obtain the {config.model_name} weights for tag '
                f'{config.pretrained!r} ({type(error).__name__}: {error}). Without internet, '
                'download the checkpoint elsewhere and set model.clip.pretrained to its '
                'path.') from error
    else:
        with torch.random.fork_rng(devices=[]), _without_random_init_warning(config):
            torch.manual_seed(config.init_seed)
            model = open_clip.create_model(config.model_name, pretrained=None,
                                           force_quick_gelu=config.quick_gelu)
        if config.pretrained is not None:
            _load_checkpoint_file(model, config)
    _check_dense_vit(model, config.model_name)
    return model.eval()


def load_clip(config: Union[CLIPConfig, Mapping[str, Any]]) -> nn.Module:
    """The open_clip CLIP model for ``config``, built once per process and then shared.

    Vision and text sides of a segmentor use the same object, so the weights are in memory
    once. The model is in eval mode; nothing here trains it.
    """
    return _load_clip_cached(CLIPConfig.from_value(config))
