"""Steps that run on the model's device ask it for no float64 tensor (Apple's MPS has none;
``check_device`` accepts ``'mps'``). A dispatch mode stands in for such a device."""
import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from mmseg_clipseg.models.decision import area_suppressed_classes
from mmseg_clipseg.models.dense import neighbourhood_bias


class RefuseFloat64On(TorchDispatchMode):
    """Raise, as MPS does, when an operation makes a float64 tensor on ``device_type``."""

    def __init__(self, device_type: str) -> None:
        super().__init__()
        self.device_type = device_type

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for value in tree_leaves(result):
            if isinstance(value, torch.Tensor) and value.dtype == torch.float64 \
                    and value.device.type == self.device_type:
                raise TypeError(f'{func}: float64 on {self.device_type}')
        return result


def test_the_stand_in_device_refuses_float64():
    with pytest.raises(TypeError, match='float64 on meta'), RefuseFloat64On('meta'):
        torch.zeros(2, dtype=torch.float64, device='meta')


def test_naclip_bias_is_built_without_float64_on_the_device():
    neighbourhood_bias.cache_clear()
    with RefuseFloat64On('meta'):
        bias = neighbourhood_bias((3, 4), 5.0, torch.device('meta'))
    assert (bias.device.type, bias.dtype, bias.shape) == ('meta', torch.float32, (13, 13))
    on_cpu = neighbourhood_bias((3, 4), 5.0, torch.device('cpu'))
    assert on_cpu.dtype == torch.float32
    # G_ij = exp(-|p_i - p_j|^2 / (2 sigma^2)) between patches (row-major), 0 with [CLS].
    assert on_cpu[0].abs().sum() == 0 and on_cpu[:, 0].abs().sum() == 0
    assert on_cpu[1, 1] == 1.0
    assert math.isclose(on_cpu[1, 1 + 4 + 1].item(), math.exp(-2 / 50), rel_tol=1e-6)
    assert math.isclose(on_cpu[1, 12].item(), math.exp(-(4 + 9) / 50), rel_tol=1e-6)


def test_area_threshold_uses_no_float64_on_the_device():
    labels = torch.tensor([[0, 1, 1, 1, 2], [2, 2, 2, 2, 2], [3, 0, 0, 0, 0]])
    with RefuseFloat64On('cpu'):
        suppressed = area_suppressed_classes(labels, 5, 0.3)
    # Foreground 10 pixels: class 1 has 3 (<= 3.0: suppressed, as in float64), class 2 has
    # 6, class 3 has 1, class 4 none.
    assert suppressed.tolist() == [False, True, False, True, True]
