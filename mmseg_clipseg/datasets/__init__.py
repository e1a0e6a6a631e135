"""Benchmark datasets that mmseg does not ship, registered in mmseg's ``DATASETS``."""
from .voc20 import PascalVOC20Dataset

__all__ = ['PascalVOC20Dataset']
