"""Loading of label maps whose class indices do not fit in 8 bits."""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadUInt16Annotations(LoadAnnotations):
    """Load a 16-bit PNG label map and keep its values (mmseg's loader casts to uint8).

    For the 459-class Pascal Context and 847-class ADE20K benchmarks, whose labels go up to
    458 and 846 and mark unlabeled pixels with 65535; their datasets and ``IoUMetric`` use
    ``ignore_index=65535``. 8-bit PNGs load unchanged as well.

    Required keys: ``seg_fields``, ``reduce_zero_label``; ``seg_map_path`` if there are labels.
    Added keys: ``gt_seg_map`` (np.ndarray, (H, W), the file's dtype, uint16 or uint8).

    An image without ``seg_map_path`` passes through unchanged: mmseg's inference APIs
    (``inference_model``, ``MMSegInferencer``) drop only a step named ``LoadAnnotations`` from
    the test pipeline, so this loader still runs on images that have no labels.

    Args:
        backend_args (dict, optional): Arguments for the file backend, as in mmseg.
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        # OpenCV decodes 16-bit PNGs as uint16; Pillow's 16-bit modes are less predictable.
        super().__init__(backend_args=backend_args, imdecode_backend='cv2')

    def _load_seg_map(self, results: dict) -> None:
        path = results.get('seg_map_path')
        if path is None:
            return  # an image to segment, not a labelled test sample
        if results.get('reduce_zero_label') or results.get('label_map') is not None:
            raise ValueError(
                f'LoadUInt16Annotations cannot apply reduce_zero_label or a class subset '
                f'(label_map) to {path}: both would map labels to 255, a valid class here. '
                'Convert the labels instead (tools/dataset_converters).')
        labels = mmcv.imfrombytes(fileio.get(path, backend_args=self.backend_args),
                                  flag='unchanged', backend=self.imdecode_backend)
        if labels is None or labels.ndim != 2:
            raise ValueError(f'{path} is not a single-channel label map (got '
                             f'{None if labels is None else labels.shape}).')
        results['gt_seg_map'] = labels
        results['seg_fields'].append('gt_seg_map')

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(backend_args={self.backend_args})'
