"""Loading of label maps whose class indices do not fit in 8 bits, and of files that turn
out to be damaged part-way through a run."""
from typing import Any, Dict, Optional

import mmcv
import mmengine.fileio as fileio
from mmcv.transforms import BaseTransform
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from ..utils.errors import UserInputError


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


@TRANSFORMS.register_module()
class NameUnreadableFiles(BaseTransform):
    """Run a loading step and turn a file it cannot read into one error naming the file.

    mmcv's ``LoadImageFromFile`` stops on a truncated image with a bare ``AssertionError`` or
    a decoder's traceback, and a colour PNG given as a label map ends in an ``IndexError``
    steps later; neither names the file. ``tools/test.py`` wraps its pipeline's loading steps
    in this transform (its ``--check`` decodes every file beforehand).

    Required keys: those of ``loader``; ``img_path`` or ``seg_map_path``, named in the error.
    Modified keys: those of ``loader``.

    Args:
        loader (dict): The loading step, e.g. ``dict(type='LoadAnnotations')``.

    Raises:
        UserInputError: The file cannot be decoded, or a label map has several channels.
    """

    def __init__(self, loader: Dict[str, Any]) -> None:
        self.loader = TRANSFORMS.build(loader)
        self.labels = isinstance(self.loader, LoadAnnotations)

    def transform(self, results: dict) -> dict:
        path = results.get('seg_map_path' if self.labels else 'img_path')
        kind = 'label map' if self.labels else 'image'
        try:
            results = self.loader(results)
        except (OSError, ValueError, AssertionError, IndexError) as error:
            raise UserInputError(
                f'Test {kind} {path} cannot be read ({error or type(error).__name__}): is it '
                'truncated or damaged? Copy it again; tools/test.py --check decodes every '
                'file and lists all such files.') from error
        labels = results.get('gt_seg_map') if self.labels else None
        if labels is not None and labels.ndim != 2:
            raise UserInputError(
                f'Label map {path} has {labels.shape[-1]} channels (a colour picture?); a '
                'label map holds one class index per pixel (a grey or palette PNG). Convert '
                'the labels for this dataset (docs/datasets.md).')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(loader={self.loader!r})'
