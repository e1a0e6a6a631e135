"""The synthetic scenes benchmark (``tools/make_synthetic_scenes.py`` writes it)."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .synthetic_scenes import CLASSES, PALETTE


@DATASETS.register_module()
class SyntheticScenesDataset(BaseSegDataset):
    """Procedural texture-and-shape scenes: 4 stuff textures and 3 shapes, no background.

    Layout: ``img_dir/val/*.png`` (RGB) and ``ann_dir/val/*.png`` (class index per pixel,
    0..6 in the generator's class order, which ``class_names/synthetic.txt`` follows (a test
    checks it); 255 would be ignored).
    """
    METAINFO = dict(classes=CLASSES, palette=[list(colour) for colour in PALETTE])

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
