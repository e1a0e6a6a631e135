"""Benchmark datasets that mmseg does not ship, and their 16-bit label loader.

Registered in mmseg's ``DATASETS`` and ``TRANSFORMS``. The benchmarks mmseg ships (VOC21,
Context-59/60, COCO-Stuff, ADE20K-150, Cityscapes) use mmseg's own dataset classes.
"""
from .ade847 import ADE20K847Dataset
from .coco_object import COCOObjectDataset
from .loading import LoadUInt16Annotations
from .pascal_context459 import PascalContext459Dataset
from .synthetic import SyntheticScenesDataset
from .voc20 import PascalVOC20Dataset

__all__ = ['ADE20K847Dataset', 'COCOObjectDataset', 'LoadUInt16Annotations',
           'PascalContext459Dataset', 'PascalVOC20Dataset', 'SyntheticScenesDataset']
