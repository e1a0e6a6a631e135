"""Pascal Context with all 459 classes of its full annotation."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from ..class_names import load_class_names
from .palette import label_colormap

_CLASSES = tuple(names[0] for names in load_class_names('context459'))


@DATASETS.register_module()
class PascalContext459Dataset(BaseSegDataset):
    """Pascal Context full (459 classes).

    Label maps are 16-bit PNGs (``SegmentationClassContext459/*.png``): the release's label
    ids 1..459 become 0..458 and unlabeled pixels 65535, the ``ignore_index`` (see
    ``tools/dataset_converters/pascal_context.py``). Load them with
    ``LoadUInt16Annotations`` and evaluate with ``IoUMetric(ignore_index=65535)``.
    """
    METAINFO = dict(classes=_CLASSES, palette=label_colormap(len(_CLASSES)))

    def __init__(self, ann_file: str = '', img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png', ignore_index: int = 65535,
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, ignore_index=ignore_index, **kwargs)
