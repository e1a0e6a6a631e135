"""What a test sample's meta says about its image: where the padding is, how it was flipped.

Read the way MMSeg's own ``BaseSegmentor.postprocess_result`` reads them, so that our
segmentor works behind MMSeg's ``SegDataPreProcessor`` as well as behind ours.
"""
from typing import Any, Mapping, Tuple

from torch import Tensor

from ...utils.errors import UserInputError

Box = Tuple[int, int, int, int]  # y1, y2, x1, x2 inside one image
# Dims to flip back for each of mmcv's RandomFlip directions, on (..., H, W) tensors.
FLIP_DIMS = {'horizontal': (-1, ), 'vertical': (-2, ), 'diagonal': (-2, -1)}


def padding_of(img_meta: Mapping[str, Any]) -> Tuple[int, int, int, int]:
    """``(left, right, top, bottom)`` pixels of padding around an image in its batch.

    MMSeg's ``SegDataPreProcessor`` records test-time padding (``test_cfg=dict(size=...)``
    or ``size_divisor``) as ``img_padding_size``; ``padding_size`` is the older key, and
    also the one ``stack_batch`` writes for training samples. ``img_padding_size`` wins, as
    in MMSeg.
    """
    padding = img_meta.get('img_padding_size', img_meta.get('padding_size', (0, 0, 0, 0)))
    left, right, top, bottom = (int(side) for side in padding)
    return left, right, top, bottom


def image_box(inputs: Tensor, img_meta: Mapping[str, Any]) -> Box:
    """``(y1, y2, x1, x2)`` of an image inside a batch ``inputs`` (B, 3, H, W) padded to one
    size."""
    left, right, top, bottom = padding_of(img_meta)
    return top, inputs.shape[-2] - bottom, left, inputs.shape[-1] - right


def unpadded(inputs: Tensor, index: int, img_meta: Mapping[str, Any]) -> Tensor:
    """Image ``index`` of a batch (B, 3, H, W) padded to one size, without its padding:
    (3, H_i, W_i)."""
    y1, y2, x1, x2 = image_box(inputs, img_meta)
    return inputs[index, :, y1:y2, x1:x2]


def flip_dims_of(img_meta: Mapping[str, Any]) -> Tuple[int, ...]:
    """The dims to flip a prediction back along, for a test-time flipped image; () if the
    image was not flipped."""
    if not img_meta.get('flip', False):
        return ()
    direction = img_meta.get('flip_direction')
    if direction not in FLIP_DIMS:
        raise UserInputError(f'flip_direction must be one of {sorted(FLIP_DIMS)} (mmcv\'s '
                             f'RandomFlip directions); got {direction!r} in the test pipeline')
    return FLIP_DIMS[direction]
