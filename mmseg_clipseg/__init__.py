"""Training-free open-vocabulary semantic segmentation with CLIP (CRA + DSI) for MMSeg.

Importing this package registers its segmentor, backbone, head, data preprocessor, datasets
and hooks into mmseg's registries. It first installs the mmcv-lite compatibility shim, so it
must be imported before ``mmseg.models`` (configs do it through ``custom_imports``).
"""
from .utils import compat

compat.install()

from . import clip  # noqa: E402,F401  (registers the package's open_clip model configs)
from . import datasets, engine, evaluation, models  # noqa: E402,F401

__version__ = '0.1.0'
