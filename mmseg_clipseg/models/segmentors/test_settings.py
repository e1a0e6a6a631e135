"""The segmentor's ``test_cfg``: defaults and checks (also run by tools/test.py before
anything is built)."""
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from mmengine.config import ConfigDict
from mmseg.utils import OptConfigType

from ...utils.errors import UserInputError
from ..postprocess import PAMR_DEFAULTS
from ..settings import check_bool, check_int, check_known_keys

MODES = ('slide', 'whole')
# Windows per backbone pass; the one place this default is set.
DEFAULT_CROP_BATCH_SIZE = 8
TEST_CFG_KEYS = ('mode', 'crop_size', 'stride', 'crop_batch_size', 'name_chunk_size',
                 'keep_seg_logits', 'pamr')


def keep_labels_only(cfg: Any) -> None:
    """For runs that score labels only (tools/test.py, ablations): unless the config asks
    for them, no per-class probability maps (K x H x W per image: 3.6x the peak memory on
    ADE-847) are kept. ``init_model``/``inference_model`` keep them, as in MMSeg."""
    model = cfg.get('model') or {}
    if isinstance(model, Mapping) and isinstance(model.get('test_cfg'), Mapping):
        model['test_cfg'].setdefault('keep_seg_logits', False)


def _pair(name: str, value: Any) -> Tuple[int, int]:
    """A (height, width) of positive integers; a single integer means a square."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise UserInputError(f'{name} must be (height, width) in pixels, e.g. (448, 448); '
                             f'got {value!r}')
    return tuple(check_int(name, side) for side in value)


def check_test_cfg(test_cfg: OptConfigType) -> ConfigDict:
    """``test_cfg`` with defaults filled in, every setting checked by type and value (also
    used by tools/test.py before anything is built)."""
    test_cfg = check_known_keys(
        'test_cfg', {} if test_cfg is None else test_cfg, TEST_CFG_KEYS,
        'dict(mode="slide", crop_size=(448, 448), stride=(224, 224))')
    checked = ConfigDict(test_cfg)  # attribute access, as mmseg's segmentors use it
    checked.setdefault('mode', 'whole')
    if checked['mode'] not in MODES:
        raise UserInputError(f'test_cfg.mode must be "slide" or "whole"; '
                             f'got {checked["mode"]!r}')
    if checked['mode'] == 'slide':
        for key in ('crop_size', 'stride'):
            if key not in checked:
                raise UserInputError(f'test_cfg.mode="slide" needs test_cfg.{key}, e.g. '
                                     f'{(448, 448) if key == "crop_size" else (224, 224)}')
            checked[key] = _pair(f'test_cfg.{key}', checked[key])
        if any(stride > crop for stride, crop in zip(checked['stride'], checked['crop_size'])):
            raise UserInputError(f'test_cfg.stride {checked["stride"]} is larger than '
                                 f'test_cfg.crop_size {checked["crop_size"]}: pixels between '
                                 'windows would get no prediction. Use a stride of at most '
                                 'the crop size.')
    checked['crop_batch_size'] = check_int(
        'test_cfg.crop_batch_size', checked.get('crop_batch_size', DEFAULT_CROP_BATCH_SIZE))
    chunk = checked.get('name_chunk_size')
    checked['name_chunk_size'] = None if chunk is None else check_int(
        'test_cfg.name_chunk_size', chunk)
    checked['keep_seg_logits'] = check_bool('test_cfg.keep_seg_logits',
                                            checked.get('keep_seg_logits', True))
    checked['pamr'] = _pamr_settings(checked.get('pamr'))
    return checked


def _pamr_settings(value: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """Validated ``test_cfg.pamr``: None (off) or ``steps`` and ``dilations``."""
    if value is None:
        return None
    settings = {**PAMR_DEFAULTS, **check_known_keys(
        'test_cfg.pamr', value, tuple(PAMR_DEFAULTS), 'dict(steps=10, dilations=(8, 16))')}
    check_int('test_cfg.pamr.steps', settings['steps'])
    dilations = settings['dilations']
    if isinstance(dilations, int) or not dilations:
        raise UserInputError(f'test_cfg.pamr.dilations must be a non-empty list of positive '
                             f'integers, e.g. (8, 16); got {dilations!r}')
    settings['dilations'] = tuple(check_int('test_cfg.pamr.dilations', dilation)
                                  for dilation in dilations)
    return settings
