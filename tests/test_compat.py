"""The mmcv-lite shim: mmseg imports, point_sample is right, missing ops fail clearly."""
import sys
import types
import warnings

import mmcv
import pytest
import torch

from mmseg_clipseg import compat

needs_shim = pytest.mark.skipif(
    compat.has_compiled_mmcv(), reason='full mmcv is installed: the shim is not in place')


def _point_sample_reference(input: torch.Tensor, points: torch.Tensor,
                            align_corners: bool) -> torch.Tensor:
    """Bilinear sampling at (x, y) points in [0, 1]^2, zero outside, one point at a time.

    input (N, C, H, W), points (N, P, 2) -> (N, C, P).
    """
    num, channels, height, width = input.shape
    output = torch.zeros(num, channels, points.shape[1], dtype=input.dtype)
    for n in range(num):
        for p in range(points.shape[1]):
            px, py = float(points[n, p, 0]), float(points[n, p, 1])
            if align_corners:  # 0 and 1 are the centres of the corner pixels
                x, y = px * (width - 1), py * (height - 1)
            else:  # 0 and 1 are the outer edges of the corner pixels
                x, y = px * width - 0.5, py * height - 0.5
            x0, y0 = int(torch.floor(torch.tensor(x))), int(torch.floor(torch.tensor(y)))
            fx, fy = x - x0, y - y0
            for xi, wx in ((x0, 1 - fx), (x0 + 1, fx)):
                for yi, wy in ((y0, 1 - fy), (y0 + 1, fy)):
                    if 0 <= xi < width and 0 <= yi < height:
                        output[n, :, p] += wx * wy * input[n, :, yi, xi]
    return output


def test_mmseg_models_import_and_build_with_the_shim():
    import mmseg.models  # noqa: F401
    from mmseg.registry import MODELS

    for name in ('EncoderDecoder', 'FCNHead', 'PointHead', 'TrainingFreeSegmentor'):
        assert MODELS.get(name) is not None, name
    head = MODELS.build(dict(type='FCNHead', in_channels=8, channels=4, num_classes=3,
                             num_convs=1, concat_input=False))
    logits = head([torch.randn(2, 8, 5, 7)])
    assert logits.shape == (2, 3, 5, 7)


@needs_shim
def test_the_standin_is_what_mmcv_ops_resolves_to():
    import mmcv.ops
    module = sys.modules['mmcv.ops']
    assert getattr(module, '__mmseg_clipseg_standin__', False)
    assert mmcv.ops is module
    from mmcv.ops import point_sample
    assert point_sample is compat.point_sample
    # mmseg's own users of the op get the shim's function too.
    from mmseg.models.utils import point_sample as mmseg_point_sample_module
    assert mmseg_point_sample_module.point_sample is compat.point_sample


@pytest.mark.parametrize('align_corners', [False, True])
def test_point_sample_matches_reference_for_point_lists(align_corners):
    from mmcv.ops import point_sample
    generator = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 3, 5, 7, generator=generator, dtype=torch.float64)
    # Points inside, on the border and outside [0, 1] (zero padding there).
    points = torch.rand(2, 40, 2, generator=generator, dtype=torch.float64) * 1.6 - 0.3
    points[:, 0] = torch.tensor([0.0, 0.0], dtype=torch.float64)
    points[:, 1] = torch.tensor([1.0, 1.0], dtype=torch.float64)
    points[:, 2] = torch.tensor([0.5 / 7, 2.5 / 5], dtype=torch.float64)  # a pixel centre
    points[:, 3] = torch.tensor([-0.9, 0.5], dtype=torch.float64)  # far outside: 0
    out = point_sample(feats, points, align_corners=align_corners)
    assert out.shape == (2, 3, 40)
    expected = _point_sample_reference(feats, points, align_corners)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    assert torch.all(out[:, :, 3] == 0)
    if not align_corners:
        torch.testing.assert_close(out[:, :, 2], feats[:, :, 2, 0])
    else:
        torch.testing.assert_close(out[:, :, 0], feats[:, :, 0, 0])
        torch.testing.assert_close(out[:, :, 1], feats[:, :, -1, -1])


@pytest.mark.parametrize('align_corners', [False, True])
def test_point_sample_matches_reference_for_point_grids(align_corners):
    from mmcv.ops import point_sample
    generator = torch.Generator().manual_seed(1)
    feats = torch.randn(2, 4, 6, 5, generator=generator, dtype=torch.float64)
    grid = torch.rand(2, 3, 4, 2, generator=generator, dtype=torch.float64) * 1.4 - 0.2
    out = point_sample(feats, grid, align_corners=align_corners)
    assert out.shape == (2, 4, 3, 4)
    expected = _point_sample_reference(feats, grid.reshape(2, 12, 2), align_corners)
    torch.testing.assert_close(out, expected.reshape(2, 4, 3, 4), rtol=1e-10, atol=1e-10)


def test_point_sample_default_is_align_corners_false():
    from mmcv.ops import point_sample
    feats = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    points = torch.rand(1, 9, 2, dtype=torch.float64)
    torch.testing.assert_close(point_sample(feats, points),
                               _point_sample_reference(feats, points, False))


@needs_shim
def test_missing_op_imports_but_fails_when_used():
    from mmcv.ops import nms
    with pytest.raises(RuntimeError, match=r'mmcv\.ops\.nms\b'):
        nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
    import mmcv.ops
    with pytest.raises(RuntimeError, match='DeformConv2d'):
        mmcv.ops.DeformConv2d(4, 4, 3)
    # The same placeholder object comes back on every lookup.
    assert mmcv.ops.DeformConv2d is mmcv.ops.DeformConv2d
    # Dunder lookups (copy, pickle, inspect probe them) stay AttributeErrors.
    assert not hasattr(mmcv.ops, '__wrapped__')


@needs_shim
def test_subclass_of_missing_op_imports_but_instantiating_fails():
    from mmcv.ops import ModulatedDeformConv2d

    class MyConv(ModulatedDeformConv2d):
        pass

    with pytest.raises(RuntimeError, match='ModulatedDeformConv2d'):
        MyConv(4, 4, 3)


@needs_shim
def test_mmseg_module_needing_a_missing_op_fails_clearly():
    # mmseg's CCHead imports CrissCrossAttention from mmcv.ops inside try/except.
    from mmseg.registry import MODELS
    with pytest.raises(RuntimeError, match='CrissCrossAttention'):
        MODELS.build(dict(type='CCHead', in_channels=8, channels=4, num_classes=3))


@needs_shim
def test_install_is_idempotent():
    before = sys.modules['mmcv.ops']
    assert compat.install() is True
    assert compat.install() is True
    assert sys.modules['mmcv.ops'] is before
    assert mmcv.ops is before


@needs_shim
def test_install_puts_a_fresh_standin_when_missing(monkeypatch):
    monkeypatch.delitem(sys.modules, 'mmcv.ops')
    monkeypatch.setattr(mmcv, 'ops', None, raising=False)
    assert compat.install() is True
    module = sys.modules['mmcv.ops']
    assert module.__mmseg_clipseg_standin__
    assert mmcv.ops is module
    assert module.point_sample is compat.point_sample


def test_install_patches_nothing_with_full_mmcv(monkeypatch):
    monkeypatch.setattr(compat, 'has_compiled_mmcv', lambda: True)
    real_ops = types.ModuleType('mmcv.ops')  # stands for the compiled mmcv.ops
    monkeypatch.setitem(sys.modules, 'mmcv.ops', real_ops)
    monkeypatch.setattr(mmcv, 'ops', real_ops, raising=False)
    filters_before = list(warnings.filters)
    assert compat.install() is False
    assert sys.modules['mmcv.ops'] is real_ops
    assert mmcv.ops is real_ops
    assert not hasattr(real_ops, '__mmseg_clipseg_standin__')
    assert not hasattr(real_ops, 'point_sample')
    assert warnings.filters == filters_before


def test_install_adds_no_module_with_full_mmcv(monkeypatch):
    monkeypatch.setattr(compat, 'has_compiled_mmcv', lambda: True)
    monkeypatch.delitem(sys.modules, 'mmcv.ops', raising=False)
    monkeypatch.delattr(mmcv, 'ops', raising=False)
    assert compat.install() is False
    assert 'mmcv.ops' not in sys.modules
    assert 'ops' not in vars(mmcv)
