"""COCO-Object: COCO val2017 with its 80 thing classes and a background class."""
from mmseg.datasets import BaseSegDataset, COCOStuffDataset
from mmseg.registry import DATASETS

from ..class_names import load_class_names


@DATASETS.register_module()
class COCOObjectDataset(BaseSegDataset):
    """COCO-Object (81 classes: background and the 80 COCO things).

    Label maps are ``<image id>_instanceTrainIds.png``: 0 = background (every stuff class),
    1..80 the things in COCO's order, 255 = unlabeled (see
    ``tools/dataset_converters/coco_object.py``). Class 0 is a real class of the metric; the
    model predicts it as a text class (``decode_head.background='text'``) and by
    ``decode_head.prob_thd``.
    """
    METAINFO = dict(
        classes=tuple(names[0] for names in load_class_names('coco_object')),
        # Black for the background, then mmseg's COCO-Stuff colours of the 80 things.
        palette=[[0, 0, 0]] + COCOStuffDataset.METAINFO['palette'][:80])

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '_instanceTrainIds.png',
                 reduce_zero_label: bool = False, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
