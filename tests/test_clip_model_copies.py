"""load_clip hands every build a model of its own; shared_clip_models() shares within one.

Random-init tiny models only; nothing here may download.
"""
import open_clip
import pytest
import torch

from mmseg_clipseg.clip import load_clip, shared_clip_models

TINY = dict(model_name='clipseg-test-tiny', pretrained=None, init_seed=31)


@pytest.fixture(autouse=True)
def _random_init_only(monkeypatch):
    real_create_model = open_clip.create_model

    def create_model(model_name, pretrained=None, **kwargs):
        assert pretrained is None, f'test tried to load {model_name}/{pretrained}'
        return real_create_model(model_name, pretrained=None, **kwargs)

    monkeypatch.setattr(open_clip, 'create_model', create_model)


def _same_weights(a, b):
    state_a, state_b = a.state_dict(), b.state_dict()
    return set(state_a) == set(state_b) and all(
        torch.equal(state_a[key], state_b[key]) for key in state_a)


def _dtypes(model):
    return {parameter.dtype for parameter in model.parameters()}


def test_each_call_gets_its_own_model_with_equal_weights():
    first, second = load_clip(TINY), load_clip(dict(TINY))
    assert first is not second
    assert first.visual is not second.visual
    assert first.visual.conv1.weight.data_ptr() != second.visual.conv1.weight.data_ptr()
    assert _same_weights(first, second)
    assert not first.training and not second.training


@pytest.mark.parametrize('change', ['half', 'float64', 'in-place'])
def test_changing_one_model_leaves_the_others_alone(change):
    first, second = load_clip(TINY), load_clip(TINY)
    reference = {key: value.clone() for key, value in second.state_dict().items()}
    if change == 'half':
        first.half()
    elif change == 'float64':
        first.to(torch.float64)
    else:
        with torch.no_grad():
            first.visual.conv1.weight.add_(1.0)
    assert _dtypes(second) == {torch.float32}
    assert all(torch.equal(value, reference[key]) for key, value in second.state_dict().items())
    third = load_clip(TINY)  # the cached original is untouched too
    assert _dtypes(third) == {torch.float32}
    assert _same_weights(third, second)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_moving_one_model_to_cuda_leaves_the_others_on_cpu():
    first, second = load_clip(TINY), load_clip(TINY)
    first.to('cuda')
    assert first.visual.conv1.weight.is_cuda
    assert not second.visual.conv1.weight.is_cuda
    assert not load_clip(TINY).visual.conv1.weight.is_cuda


def test_calls_inside_shared_clip_models_share_one_model():
    with shared_clip_models():
        backbone_model = load_clip(TINY)
        head_model = load_clip(dict(TINY))
        other_seed = load_clip(dict(TINY, init_seed=32))
        with shared_clip_models():  # nested: shares with the outer one
            nested = load_clip(TINY)
    assert backbone_model is head_model is nested
    assert other_seed is not backbone_model
    backbone_model.half()
    assert _dtypes(head_model) == {torch.float16}
    outside = load_clip(TINY)
    assert outside is not backbone_model
    assert _dtypes(outside) == {torch.float32}


def test_separate_shared_blocks_get_separate_models():
    with shared_clip_models():
        first = load_clip(TINY)
    with shared_clip_models():
        second = load_clip(TINY)
    assert first is not second
    assert _same_weights(first, second)

