"""A test-time data preprocessor that accepts batches of images of different sizes."""
from typing import Any, Dict

from mmseg.models import SegDataPreProcessor
from mmseg.registry import MODELS
from mmseg.utils import stack_batch
from torch import Tensor

from ..utils.errors import UserInputError


@MODELS.register_module()
class BatchPaddingSegDataPreProcessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` that, at test time, pads a batch to its largest image.

    MMSeg's preprocessor refuses test batches of mixed sizes. Here each image is padded on
    the right and bottom to the batch's largest size and its padding is recorded under
    MMSeg's key ``img_padding_size``, so that
    :class:`~mmseg_clipseg.models.TrainingFreeSegmentor` can process every image at its own
    size: results do not depend on the batch size. A float image in [0, 1] is refused (the
    statistics are for 0-255). Training behaves as in mmseg.
    """

    def forward(self, data: Dict[str, Any], training: bool = False) -> Dict[str, Any]:
        if training:
            return super().forward(data, training=True)
        data = self.cast_data(data)
        inputs = data['inputs']
        data_samples = data.get('data_samples', None)
        for image in inputs:
            _check_pixel_range(image)
        if self.channel_conversion and inputs[0].size(0) == 3:
            inputs = [image[[2, 1, 0], ...] for image in inputs]
        inputs = [image.float() for image in inputs]
        if self._enable_normalize:
            inputs = [(image - self.mean) / self.std for image in inputs]
        # size_divisor=1 pads to the batch's largest size and nothing more.
        inputs, padding = stack_batch(inputs, size_divisor=1, pad_val=self.pad_val,
                                      seg_pad_val=self.seg_pad_val)
        for data_sample, pad_info in zip(data_samples or [], padding):
            data_sample.set_metainfo(pad_info)  # img_padding_size, pad_shape: as mmseg's
        return dict(inputs=inputs, data_samples=data_samples)


def _check_pixel_range(image: Tensor) -> None:
    """Refuse a float image with values in [0, 1]: normalised with 0-255 statistics it would
    be nearly constant and get one class everywhere."""
    if image.is_floating_point() and image.numel() and float(image.abs().max()) <= 1.0:
        raise UserInputError(
            'The image holds floats in [0, 1], but the model expects 0-255 pixel values (as '
            'mmcv.imread gives): multiply by 255 (e.g. (image * 255).round().astype('
            'np.uint8)) before inference.')
