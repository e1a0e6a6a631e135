"""Label conversions from the benchmarks' official releases to the layouts the configs read.

Pure NumPy; ``tools/dataset_converters`` applies them to files. A *lookup table* maps every
value a source label map can hold to its target label (``target = table[source]``).
"""
from typing import Sequence

import numpy as np

from ..class_names import load_class_names
from .ade20k_full_ids import ADE20K_FULL_847_OBJECT_IDS

IGNORE_8BIT = 255
IGNORE_16BIT = 65535

# COCO-Stuff-164k ``stuffthingmaps`` hold the COCO category id minus one: things 0..89
# and stuff 91..181; these values belong to ids that COCO does not use.
_COCO_UNUSED_IDS = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)
_COCO_NUM_THING_IDS = 90

# Cityscapes ``*_gtFine_labelIds.png`` label id -> train id of the 19 evaluated classes
# (cityscapesScripts' ``labels.py``); every other id is ignored.
_CITYSCAPES_TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
                         23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17,
                         33: 18}

# ADE20K-full ``*_seg.png``: class index = R // 10 * 256 + G, so below 26 * 256.
ADE20K_FULL_MAX_INDEX = 25 * 256 + 255


def _table(size: int, mapping: dict, ignore: int, dtype: type) -> np.ndarray:
    table = np.full(size, ignore, dtype=dtype)
    for source, target in mapping.items():
        table[source] = target
    return table


def _coco_used_ids() -> Sequence[int]:
    return [index for index in range(182) if index not in _COCO_UNUSED_IDS]


def coco_stuff_table() -> np.ndarray:
    """COCO-Stuff-164k ``stuffthingmaps`` value -> 171-class train id (255 = ignore).

    Returns:
        np.ndarray: Shape (256,), uint8; things then stuff in id order, as mmseg's
        ``COCOStuffDataset`` classes.
    """
    mapping = {source: target for target, source in enumerate(_coco_used_ids())}
    return _table(256, mapping, IGNORE_8BIT, np.uint8)


def coco_object_table() -> np.ndarray:
    """COCO-Stuff-164k ``stuffthingmaps`` value -> COCO-Object label.

    Returns:
        np.ndarray: Shape (256,), uint8; the 80 things become 1..80 in id order, every stuff
        class 0 (background), unlabeled stays 255.
    """
    used = _coco_used_ids()
    things = [index for index in used if index < _COCO_NUM_THING_IDS]
    mapping = {source: target for target, source in enumerate(things, start=1)}
    mapping.update({source: 0 for source in used if source >= _COCO_NUM_THING_IDS})
    return _table(256, mapping, IGNORE_8BIT, np.uint8)


def cityscapes_table() -> np.ndarray:
    """Cityscapes label id -> train id of the 19 classes (255 = ignore).

    Returns:
        np.ndarray: Shape (256,), uint8.
    """
    return _table(256, _CITYSCAPES_TRAIN_IDS, IGNORE_8BIT, np.uint8)


def context60_table() -> np.ndarray:
    """Pascal Context full label id (0 = unlabeled, 1..459) -> Context-60 label.

    The 59 classes of the standard subset become 1..59 in the order of
    ``class_names/context59.txt``; unlabeled pixels and the other 400 classes become 0, the
    background. Context-59 reads the same maps with ``reduce_zero_label``.

    Returns:
        np.ndarray: Shape (460,), uint8.
    """
    full = [names[0] for names in load_class_names('context459')]
    subset = [names[0] for names in load_class_names('context59')]
    mapping = {full.index(name) + 1: label for label, name in enumerate(subset, start=1)}
    return _table(len(full) + 1, mapping, 0, np.uint8)


def context459_table() -> np.ndarray:
    """Pascal Context full label id -> Context-459 label (ids 1..459 -> 0..458, 0 -> 65535).

    Returns:
        np.ndarray: Shape (460,), uint16.
    """
    num_classes = len(load_class_names('context459'))
    mapping = {label_id: label_id - 1 for label_id in range(1, num_classes + 1)}
    return _table(num_classes + 1, mapping, IGNORE_16BIT, np.uint16)


def ade20k_full_class_index(seg: np.ndarray) -> np.ndarray:
    """Decode the class index of an ADE20K-full ``*_seg.png`` (0 = unlabeled).

    Args:
        seg (np.ndarray): The RGB image, shape (H, W, 3), uint8.

    Returns:
        np.ndarray: Shape (H, W), int64, values in 0..``ADE20K_FULL_MAX_INDEX``.
    """
    red, green = seg[..., 0].astype(np.int64), seg[..., 1].astype(np.int64)
    return red // 10 * 256 + green


def ade847_table() -> np.ndarray:
    """ADE20K-full class index -> ADE20K-847 label (0..846, 65535 = ignore).

    Returns:
        np.ndarray: Shape (``ADE20K_FULL_MAX_INDEX`` + 1,), uint16.
    """
    mapping = {object_id: label for label, object_id in enumerate(ADE20K_FULL_847_OBJECT_IDS)}
    return _table(ADE20K_FULL_MAX_INDEX + 1, mapping, IGNORE_16BIT, np.uint16)
