"""Pascal VOC 2012 without its background class."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from ..class_names import load_class_names


@DATASETS.register_module()
class PascalVOC20Dataset(BaseSegDataset):
    """Pascal VOC 2012 without the background class (20 classes).

    The label maps are VOC's own (``SegmentationClass/*.png``: 0 = background, 1..20 the
    classes, 255 = boundary). ``reduce_zero_label`` maps background to the ignore index 255
    and the classes to 0..19.
    """
    METAINFO = dict(
        classes=tuple(names[0] for names in load_class_names('voc20')),
        palette=[[128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128],
                 [0, 128, 128], [128, 128, 128], [64, 0, 0], [192, 0, 0], [64, 128, 0],
                 [192, 128, 0], [64, 0, 128], [192, 0, 128], [64, 128, 128], [192, 128, 128],
                 [0, 64, 0], [128, 64, 0], [0, 192, 0], [128, 192, 0], [0, 64, 128]])

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
