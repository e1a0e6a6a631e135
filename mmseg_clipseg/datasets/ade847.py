"""ADE20K-847: the full ADE20K release evaluated on its 847 most frequent classes."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from ..class_names import load_class_names
from .palette import label_colormap

_CLASSES = tuple(names[0] for names in load_class_names('ade847'))


@DATASETS.register_module()
class ADE20K847Dataset(BaseSegDataset):
    """ADE20K-full, 847 classes, on the 2000 validation images.

    Label maps are 16-bit PNGs (``annotations/validation/*.png``) with classes 0..846 and
    65535 for unlabeled pixels and the classes outside the 847, the ``ignore_index`` (see
    ``tools/dataset_converters/ade20k_full.py``). Load them with ``LoadUInt16Annotations``
    and evaluate with ``IoUMetric(ignore_index=65535)``.
    """
    METAINFO = dict(classes=_CLASSES, palette=label_colormap(len(_CLASSES)))

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 ignore_index: int = 65535, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         ignore_index=ignore_index, **kwargs)
