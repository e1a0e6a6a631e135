"""Segment images from Python with class names chosen per call.

    from mmseg_clipseg.apis import init_segmentor, segment

    segmentor = init_segmentor('vitb')                      # or a config path, or a Config
    result = segment(segmentor, 'street.jpg', ['road', 'car, truck', 'sky'])
    result.labels          # (H, W) int64 class indices at the image's own size
    result.classes         # ['road', 'car', 'sky']

Images are file paths, RGB arrays (H, W, 3), PIL images or RGB tensors (3, H, W); one image
gives one :class:`Segmentation`, a list gives a list. The model is built once; the class names,
templates and background may change from call to call (their text embeddings are kept in
memory and in the on-disk cache), and images go through the same preprocessing, windows and
batching as ``tools/test.py``. :func:`model_config` and :func:`check_device` are the checks
:func:`init_segmentor` starts with, for callers (the tools) that check before building.
"""
import dataclasses
import os.path as osp
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmseg.apis import init_model

from ..class_names import ClassNamesSpec
from ..models.settings import check_int
from ..utils.errors import UserInputError
from .cli import check_model_settings, check_option_keys, load_config
from .image_io import read_rgb, to_rgb_array
from .image_tool_options import parse_classes

# Short names of the models (BENCHMARKS.md) and the config each one builds, relative to the
# configs folder.
MODEL_CONFIGS = {
    'vitb': '_base_/models/clipseg_vitb.py',
    'vitl': '_base_/models/clipseg_vitl.py',
    'openclip-vitb': '_base_/models/clipseg_openclip-vitb.py',
    'openclip-vitl': '_base_/models/clipseg_openclip-vitl.py',
    'openclip-vith': '_base_/models/clipseg_openclip-vith.py',
    'metaclip-vitb': '_base_/models/clipseg_metaclip-vitb.py',
    'metaclip-vitl': '_base_/models/clipseg_metaclip-vitl.py',
    'metaclip-vith': '_base_/models/clipseg_metaclip-vith.py',
    'tiny-synthetic': 'clipseg_tiny_synthetic.py',
}
# The test pipeline of configs that hold only a model: the TCL protocol's resize.
_DEFAULT_PIPELINE_CONFIG = '_base_/datasets/tcl_protocol.py'
# Pipeline steps that read files; the API hands over decoded images instead.
_FILE_STEPS = ('LoadImageFromFile', 'LoadAnnotations', 'LoadUInt16Annotations')

ImageInput = Union[str, Path, np.ndarray, torch.Tensor, Any]


@dataclasses.dataclass
class Segmentation:
    """The segmentation of one image.

    Attributes:
        labels: Class index per pixel, (H, W) int64, at the image's own size.
        classes: The classes' canonical (first) names, in index order.
        probabilities: With ``return_probabilities=True``, the per-class probabilities,
            (K, H, W) float32 (a class's probability is the maximum over its names of the
            softmax over all names); otherwise None.
    """
    labels: np.ndarray
    classes: List[str]
    probabilities: Optional[np.ndarray] = None


def config_root() -> Path:
    """The folder of the configs: in a source checkout the repository's ``configs``,
    otherwise the copy installed with the package (``.mim/configs``)."""
    package = Path(__file__).resolve().parents[1]  # mmseg_clipseg/, above apis/
    for root in (package.parent / 'configs', package / '.mim' / 'configs'):
        if (root / MODEL_CONFIGS['vitb']).is_file():
            return root
    raise UserInputError('The configs folder was not found; install the package from its '
                         'source tree (pip install -e .) or give a config file path.')


def _config_of(model: Union[str, Path, Config]) -> Config:
    if isinstance(model, Config):
        return model.copy()
    if not isinstance(model, (str, Path)):
        raise UserInputError(f'model must be a short name ({", ".join(MODEL_CONFIGS)}), a '
                             f'config path or a Config; got {type(model).__name__}')
    if str(model) in MODEL_CONFIGS:
        return load_config(str(config_root() / MODEL_CONFIGS[str(model)]))
    if osp.exists(str(model)) or str(model).endswith('.py'):
        cfg = load_config(str(model))
        if not isinstance(cfg.get('model'), Mapping):
            raise UserInputError(f'Config {str(model)!r} defines no model (a dataset or '
                                 'runtime part?); give a model config such as '
                                 f'configs/clipseg_vitb_voc20.py, or a short name '
                                 f'({", ".join(MODEL_CONFIGS)}).')
        return cfg
    raise UserInputError(f'Unknown model {str(model)!r}: give a short name '
                         f'({", ".join(MODEL_CONFIGS)}), a config file or a Config.')


def option_paths(cfg: Config, options: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Model options with each key as its path in ``cfg``: ``model.`` keys and other
    top-level keys (``test_pipeline...``) as given, model settings (``backbone.dense_mode``,
    also new ones) below ``model``."""
    paths = {}
    for key, value in (options or {}).items():
        first = key.split('.')[0]
        if first != 'model' and (first in cfg.model or first not in cfg):
            key = f'model.{key}'
        paths[key] = value
    return paths


def model_config(model: Union[str, Path, Config] = 'vitb',
                 options: Optional[Mapping[str, Any]] = None) -> Config:
    """The config of a model with its options applied and checked.

    Args:
        model: A short name (:data:`MODEL_CONFIGS`), a config file path or a Config (copied).
        options: Settings as dotted keys, as :func:`option_paths` reads them (e.g.
            ``{'backbone.dense_mode': 'maskclip', 'clip.pretrained': '/path/ViT-B-16.pt'}``).

    Raises:
        UserInputError: An unknown model, or an option the config or the model components
            do not have.
    """
    cfg = _config_of(model)
    paths = option_paths(cfg, options)
    if paths:
        check_option_keys(cfg, paths)
        cfg.merge_from_dict(paths)
        check_model_settings(cfg.model)
    return cfg


def check_device(device: Optional[Union[str, torch.device]] = None,
                 option: str = 'device') -> torch.device:
    """``device`` as a :class:`torch.device` that exists here (default: CUDA if available).

    Args:
        option: How messages name the setting (the tools pass ``'--device'``).
    """
    if device is None:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise UserInputError(f'{option} {device!r} is not a device; use cpu or cuda (or '
                             'cuda:N).') from error
    if parsed.type == 'cuda' and not torch.cuda.is_available():
        raise UserInputError(f'{option} {parsed} was asked for, but PyTorch sees no CUDA GPU '
                             f'here; use {option} cpu.')
    if parsed.type == 'cuda' and parsed.index is not None \
            and parsed.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise UserInputError(f'{option} {parsed}: this machine has {count} GPU(s), cuda:0..'
                             f'cuda:{count - 1}.')
    return parsed


def init_segmentor(model: Union[str, Path, Config] = 'vitb',
                   device: Optional[Union[str, torch.device]] = None,
                   **options: Any) -> torch.nn.Module:
    """Build a training-free segmentor, ready for :func:`segment`.

    Args:
        model: A short name of the model table (``'vitb'``, ``'vitl'``, ``'openclip-vitb'``,
            ..., ``'tiny-synthetic'``, see :data:`MODEL_CONFIGS`), a config file path or a
            :class:`~mmengine.config.Config`.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``...; default: CUDA if available.
        **options: Model settings as dotted keys below ``model``, e.g.
            ``**{'backbone.dense_mode': 'maskclip', 'clip.pretrained': '/path/ViT-B-16.pt',
            'backbone.precision': 'fp16'}`` (also ``model.``-prefixed or other top-level
            keys, see :func:`model_config`).

    Returns:
        The segmentor in eval mode on ``device``, with its config as ``.cfg``.
    """
    cfg = model_config(model, options)
    target = check_device(device)
    if cfg.model.decode_head.get('class_names') is None:
        # Classes are given to `segment`; this placeholder is never encoded. It has a class 0
        # when the config's background settings need one.
        background = cfg.model.decode_head.get('background')
        cfg.model.decode_head.class_names = ['background', 'object'] if background \
            else ['object']
    # init_model sets both to None: refuse a value given, as the segmentor does when built.
    refused = [key for key in ('pretrained', 'train_cfg') if cfg.model.get(key) is not None]
    if refused:
        raise UserInputError(f'{cfg.model.type} is training-free and does not take '
                             f'{refused}; the CLIP weights are set by model.clip.')
    # MMSeg's own builder: default scope, build, device, eval mode and ``.cfg``; no
    # checkpoint, as the CLIP weights are loaded by ``model.clip``.
    return init_model(cfg, device=str(target))


def _test_pipeline(cfg: Config) -> Compose:
    """The config's test pipeline for a decoded image: no file reading, no labels."""
    steps = cfg.get('test_pipeline')
    if steps is None:
        steps = Config.fromfile(str(config_root() / _DEFAULT_PIPELINE_CONFIG)).test_pipeline
    steps = [dict(step) for step in steps if step.get('type') not in _FILE_STEPS]
    return Compose([dict(type='LoadImageFromNDArray'), *steps])


def _as_rgb(image: ImageInput) -> np.ndarray:
    if isinstance(image, (str, Path)):
        return read_rgb(str(image))
    return to_rgb_array(image)


def segment(segmentor: torch.nn.Module,
            images: Union[ImageInput, Sequence[ImageInput]],
            class_names: ClassNamesSpec,
            *,
            templates: Optional[Union[str, Sequence[str]]] = None,
            background: Optional[str] = None,
            background_names: Optional[Union[str, Sequence[str]]] = None,
            return_probabilities: bool = False,
            batch_size: int = 1) -> Union[Segmentation, List[Segmentation]]:
    """Segment images into the given classes.

    Args:
        segmentor: From :func:`init_segmentor`.
        images: One image or a list: file paths, RGB ``uint8`` arrays (H, W, 3) (also grey
            (H, W), RGBA, uint16 or float in [0, 1]), PIL images, or RGB tensors (3, H, W).
        class_names: What ``--classes`` of the tools takes, read by the same function
            (:func:`~mmseg_clipseg.apis.image_tool_options.parse_classes`): a benchmark key, a
            names file, or the classes in one string (``'cat, grass, sky'``; with synonyms
            ``'cat, kitty; grass; sky'``); or a list of classes, each a name,
            comma-separated synonyms (``'car, truck'``) or a list of synonyms.
        templates: Prompt templates (a set name or a list with ``{}``); default: the model's.
        background: None (no background class), ``'text'`` (class 0 is background with its
            own names, as the peers do) or ``'threshold'`` (class 0 is not encoded; pixels
            of low confidence get it). Its threshold is the head's ``prob_thd``.
        background_names: Names of class 0 with ``background='text'``; default: class 0's
            own names.
        return_probabilities: Also return the per-class probabilities.
        batch_size: Images per forward pass (mixed sizes are fine).

    Returns:
        One :class:`Segmentation` per image (a list when ``images`` is a list or tuple).
    """
    check_int('batch_size', batch_size)
    single = not isinstance(images, (list, tuple))
    image_list = [images] if single else list(images)
    if not image_list:
        raise UserInputError('images is an empty list; give at least one image.')
    if isinstance(class_names, str):
        class_names = parse_classes(class_names, option='class_names')
    segmentor.set_vocabulary(class_names, templates=templates, background=background,
                             background_names=background_names)
    pipeline = _test_pipeline(segmentor.cfg)
    previous_keep = segmentor.keep_seg_logits
    segmentor.keep_seg_logits = return_probabilities
    results = []
    try:
        for start in range(0, len(image_list), batch_size):
            batch = [pipeline(dict(img=np.ascontiguousarray(_as_rgb(image)[..., ::-1])))
                     for image in image_list[start:start + batch_size]]  # pipelines take BGR
            with torch.no_grad():
                samples = segmentor.test_step(pseudo_collate(batch))
            results.extend(_to_segmentation(sample, segmentor.decode_head)
                           for sample in samples)
    finally:
        segmentor.keep_seg_logits = previous_keep
    return results[0] if single else results


def _to_segmentation(sample: Any, head: torch.nn.Module) -> Segmentation:
    probabilities = None
    if 'seg_logits' in sample:
        probabilities = sample.seg_logits.data.float().cpu().numpy()
    return Segmentation(labels=sample.pred_sem_seg.data[0].cpu().numpy().astype(np.int64),
                        classes=[names[0] for names in head.classes],
                        probabilities=probabilities)


def available_models() -> Dict[str, str]:
    """Short model names and the config each builds."""
    return dict(MODEL_CONFIGS)
