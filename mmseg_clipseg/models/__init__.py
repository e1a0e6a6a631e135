"""Registered models: segmentor, backbone, head and data preprocessor."""
from .backbones import DENSE_MODES, CLIPDenseBackbone
from .data_preprocessor import BatchPaddingSegDataPreProcessor
from .heads import OpenVocabularyHead
from .segmentors import TrainingFreeSegmentor

__all__ = [
    'BatchPaddingSegDataPreProcessor', 'CLIPDenseBackbone', 'DENSE_MODES',
    'OpenVocabularyHead', 'TrainingFreeSegmentor'
]
