"""Let mmsegmentation import on top of ``mmcv-lite``.

mmseg 1.2.2 imports ``mmcv.ops`` at import time in a few modules (point heads, focal loss,
SAN), but ``mmcv-lite`` ships no compiled ``mmcv._ext`` extension, so ``import mmcv.ops`` fails.
When, and only when, that extension is absent, :func:`install` registers a small stand-in
``mmcv.ops`` module that provides a pure-PyTorch :func:`point_sample` and, for every other op, a
placeholder that raises a clear error when used. With full ``mmcv`` nothing is patched.
"""
import importlib.util
import sys
import types
import warnings
from typing import Any

import torch
import torch.nn.functional as F

_STANDIN_NAME = 'mmcv.ops'


def point_sample(input: torch.Tensor,
                 points: torch.Tensor,
                 align_corners: bool = False,
                 **kwargs: Any) -> torch.Tensor:
    """Sample ``input`` at normalised point coordinates (the ``mmcv.ops`` op).

    Args:
        input (Tensor): Feature map, shape (N, C, H, W).
        points (Tensor): Points in ``[0, 1] x [0, 1]`` as (x, y), shape (N, P, 2) or
            (N, Hgrid, Wgrid, 2).
        align_corners (bool): Forwarded to :func:`torch.nn.functional.grid_sample`.
        **kwargs: Further ``grid_sample`` arguments (``mode``, ``padding_mode``).

    Returns:
        Tensor: Shape (N, C, P) or (N, C, Hgrid, Wgrid).
    """
    flat_points = points.dim() == 3
    grid = points.unsqueeze(2) if flat_points else points
    # grid_sample expects coordinates in [-1, 1].
    output = F.grid_sample(input, grid * 2.0 - 1.0, align_corners=align_corners, **kwargs)
    return output.squeeze(3) if flat_points else output


def _missing_op(name: str) -> type:
    """A placeholder for an mmcv op that needs the compiled extension.

    It is a class so that both ``op(...)`` and ``class X(op)`` import fine; using it raises.
    """

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(
            f'mmcv.ops.{name} needs the compiled mmcv extension, which mmcv-lite does not '
            'ship. mmseg_clipseg does not use this op; to use it, install the full mmcv '
            '(see README, "Full mmcv").')

    return type(name, (), {'__init__': fail, '__doc__': f'Unavailable mmcv op {name!r}.'})


def _make_standin_module() -> types.ModuleType:
    module = types.ModuleType(_STANDIN_NAME, __doc__)
    module.point_sample = point_sample
    module.__mmseg_clipseg_standin__ = True

    def __getattr__(name: str) -> Any:
        if name.startswith('__'):
            raise AttributeError(name)
        op = _missing_op(name)
        setattr(module, name, op)
        return op

    module.__getattr__ = __getattr__
    return module


def has_compiled_mmcv() -> bool:
    """Whether mmcv's compiled extension (full mmcv, not mmcv-lite) is installed."""
    return importlib.util.find_spec('mmcv._ext') is not None


def install() -> bool:
    """Register the stand-in ``mmcv.ops`` if mmcv's compiled extension is absent.

    Must run before ``mmseg.models`` is imported; ``import mmseg_clipseg`` does it first.

    Returns:
        bool: True if the stand-in is (now) in place, False if full mmcv is used.
    """
    if has_compiled_mmcv():
        return False
    existing = sys.modules.get(_STANDIN_NAME)
    if existing is not None and getattr(existing, '__mmseg_clipseg_standin__', False):
        return True
    import mmcv
    module = _make_standin_module()
    sys.modules[_STANDIN_NAME] = module
    mmcv.ops = module
    # mmcv.cnn warns that this op is missing and advises full mmcv; nothing here needs it.
    warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention')
    return True
