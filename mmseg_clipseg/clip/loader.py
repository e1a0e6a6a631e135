"""Build open_clip CLIP models and check that they are ViTs this package can run densely.

Weights come from an open_clip pretrained tag, a local checkpoint file, a tag shipped with
this package, an open_clip model folder (``local-dir:``), the Hugging Face Hub (``hf-hub:``)
or random initialisation (:class:`~.config.CLIPConfig`). open_clip builds the architecture
(``open_clip.create_model`` without weights: the model config, QuickGELU, fp32 on CPU) and
downloads tags and hub weights; this package finds the checkpoint file
(:mod:`.weight_sources`), reads it weights-only (:mod:`.checkpoint_files`) and loads it as
open_clip's ``load_checkpoint`` would, after checking that every name and shape fits
(:mod:`.state_dict_fit`). Servers that cannot be reached fail fast (:mod:`.offline`).

Each model is read once per process and per content of its weights files (a pristine CPU
copy is cached, keyed on :meth:`~.config.CLIPConfig.weights_identity`) and every
:func:`load_clip` call gets its own deep copy, so moving or casting one segmentor's model
leaves the others alone; inside :func:`shared_clip_models` the calls share one copy.
"""
import contextlib
import contextvars
import copy
import logging
import os.path as osp
import warnings
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple, Union

import open_clip
import torch
from open_clip.transform import merge_preprocess_dict
from open_clip.transformer import VisionTransformer
from torch import nn

from ..utils.errors import UserInputError, shown_with_more
from .checkpoint_files import describe_error, read_checkpoint
from .config import CLIPConfig, packaged_weights
from .config_checks import (check_checkpoint_file, check_local_dir, check_model_name,
                            check_no_pretrained, check_pretrained_tag)
from .offline import check_weights_reachable
from .state_dict_fit import load_fitted_state_dict
from .weight_sources import download_failure, weights_file

__all__ = ['CLIPConfig', 'clear_clip_cache', 'load_clip', 'packaged_weights',
           'shared_clip_models']

# open_clip logs its notices with the root logger from files in this folder.
_OPEN_CLIP_DIR = osp.dirname(osp.abspath(open_clip.__file__)) + osp.sep


# --- The architecture from open_clip, the weights read here ------------------------------

class _OpenClipBuildNotices(logging.Filter):
    """Drops what open_clip logs while building a model without weights (that it was
    "initialized randomly"): the loader loads the weights right after."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.pathname.startswith(_OPEN_CLIP_DIR)


@contextlib.contextmanager
def _without_build_notices(weights_follow: bool) -> Iterator[None]:
    root = logging.getLogger()
    notices = _OpenClipBuildNotices()
    if weights_follow:
        root.addFilter(notices)
    try:
        yield
    finally:
        root.removeFilter(notices)


def _checked_source(config: CLIPConfig) -> str:
    """Check ``config`` before anything is built or downloaded; the weights it names,
    described for messages."""
    if config.local_dir is not None:
        check_no_pretrained(config)
        check_local_dir(config.local_dir)
        return f'the checkpoint in {config.local_dir!r}'
    if config.is_hf_hub:
        check_no_pretrained(config)
        if not config.hub_repo:
            raise UserInputError("An 'hf-hub:' model name needs a repository, e.g. "
                                 "'hf-hub:laion/CLIP-ViT-B-16-laion2B-s34B-b88K'.")
        check_weights_reachable(config)  # before open_clip's download retries
        return f'the checkpoint of {config.model_name!r}'
    check_model_name(config.model_name)
    if config.pretrained is None:
        return 'random weights'
    path = config.checkpoint_path
    if path is not None:
        check_checkpoint_file(config, path)
        return f'checkpoint {path!r}'
    check_pretrained_tag(config.model_name, config.pretrained)
    check_weights_reachable(config)
    return f'the {config.model_name} checkpoint for tag {config.pretrained!r}'


def _architecture(config: CLIPConfig, source: str, weights_follow: bool) -> nn.Module:
    """``open_clip.create_model`` without weights (random ones from ``config.init_seed``),
    with this package's settings; its errors as one line."""
    try:
        with torch.random.fork_rng(devices=[]), _without_build_notices(weights_follow):
            torch.manual_seed(config.init_seed)
            return open_clip.create_model(
                config.model_name, pretrained=None, load_weights=False,
                force_quick_gelu=config.quick_gelu,
                cache_dir=osp.expanduser(config.cache_dir) if config.cache_dir else None)
    except Exception as error:  # open_clip and the hub raise many types
        if config.is_hf_hub:  # its open_clip_config.json is downloaded
            raise download_failure(error, source) from error
        raise UserInputError(f'Could not load {source}: {describe_error(error)}') from error


def _apply_tag_settings(model: nn.Module, config: CLIPConfig) -> None:
    """What open_clip's ``create_model`` takes from a pretrained tag besides its weights:
    the tag's image preprocessing, and a warning when the model's QuickGELU setting is not
    the one the weights were trained with."""
    tag = open_clip.get_pretrained_cfg(config.model_name, config.pretrained)
    preprocess = merge_preprocess_dict(open_clip.get_model_preprocess_cfg(model), tag)
    open_clip.set_model_preprocess_cfg(model, {**preprocess, 'size': model.visual.image_size})
    model_quick_gelu = config.quick_gelu or open_clip.get_model_config(
        config.model_name).get('quick_gelu', False)
    if tag.get('quick_gelu', False) != model_quick_gelu:
        warnings.warn(f'QuickGELU mismatch between model {config.model_name} '
                      f'(quick_gelu={model_quick_gelu}) and pretrained tag '
                      f'{config.pretrained!r} (quick_gelu={tag.get("quick_gelu", False)}).',
                      UserWarning)


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


def _build(config: CLIPConfig) -> nn.Module:
    """The model of ``config``: checked, built, checked to be a ViT (before any weights
    are downloaded or read), then given its weights."""
    source = _checked_source(config)
    random_weights = (config.pretrained is None and config.local_dir is None
                      and not config.is_hf_hub)
    model = _architecture(config, source, weights_follow=not random_weights)
    _check_dense_vit(model, config.model_name)
    if config.pretrained is not None and not config.pretrained_is_file:  # a tag
        _apply_tag_settings(model, config)
    if not random_weights:
        state = read_checkpoint(weights_file(config, source))
        load_fitted_state_dict(model, state, source, config.model_name)
    return model


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
        raise UserInputError(
            f'CLIP weights {config.pretrained!r} of {config.model_name} hold NaN or infinite '
            f'numbers ({shown_with_more(broken, 1, "tensors")}): the file is damaged, or was '
            'saved from a run that diverged. Get the weights again.')


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
