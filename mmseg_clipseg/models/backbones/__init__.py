from .clip_dense_vit import DENSE_MODES, CLIPDenseBackbone

__all__ = ['CLIPDenseBackbone', 'DENSE_MODES']
