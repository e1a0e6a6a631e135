"""The backbone's dense modes against direct re-statements of METHOD.md (tests/reference.py)."""
import pytest
import torch

from mmseg_clipseg.models import CLIPDenseBackbone
from mmseg_clipseg.models.dense import coherence_attention, coherence_similarity, dsi_value
from reference import (baseline_final_block, clipseg_dense, coherence_attention_slow,
                       residual_stream, to_embeddings, value_of)

NATIVE = 64  # the tiny model's image size: an 8x8 grid, positions used as trained


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(2, 3, NATIVE, NATIVE, generator=torch.Generator().manual_seed(0))


def build(tiny_clip_cfg, **kwargs) -> CLIPDenseBackbone:
    return CLIPDenseBackbone(clip=tiny_clip_cfg, **kwargs).eval()


def distance_quantile(backbone, images, quantile):
    """A threshold that masks a real share of pairs for these random weights."""
    streams = residual_stream(backbone.visual, images)
    similarity = coherence_similarity([streams[m][:, 1:] for m in backbone.cra_layers])
    return float(torch.quantile((1 - similarity).detach().flatten(), quantile))


def test_coherence_attention_matches_loops():
    generator = torch.Generator().manual_seed(1)
    features = [torch.randn(2, 7, 5, generator=generator) for _ in range(3)]
    for threshold, temperature in [(0.75, 6.0), (0.9, 1 / 6), (0.0, 6.0), (2.0, 3.0)]:
        fast = coherence_attention(coherence_similarity(features), threshold, temperature)
        slow = coherence_attention_slow(features, threshold, temperature)
        torch.testing.assert_close(fast.double(), slow, atol=1e-6, rtol=1e-5)
    # threshold 0 keeps only the diagonal (each patch keeps its own value).
    diagonal = coherence_attention(coherence_similarity(features), 0.0, 6.0)
    torch.testing.assert_close(diagonal, torch.eye(7).expand(2, 7, 7))


def test_dsi_value_matches_definition(tiny_clip_cfg, images):
    backbone = build(tiny_clip_cfg)
    blocks = list(backbone.blocks)
    streams = residual_stream(backbone.visual, images)
    inputs = [streams[index][:, 1:] for index in (3, 4, 5)]
    own = dsi_value(blocks[3:], inputs, 'own')
    final = dsi_value(blocks[3:], inputs, 'final')
    expected_own = sum(value_of(block, x) for block, x in zip(blocks[3:], inputs)) / 3
    expected_final = sum(value_of(blocks[-1], x) for x in inputs) / 3
    torch.testing.assert_close(own, expected_own, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(final, expected_final, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(own, final)


@pytest.mark.parametrize('feature', ['residual', 'key', 'query'])
@pytest.mark.parametrize('num_dsi_layers,value_path', [(3, 'own'), (3, 'final'), (1, 'own'),
                                                       (6, 'own')])
def test_clipseg_mode_matches_method(tiny_clip_cfg, images, feature, num_dsi_layers,
                                     value_path):
    backbone = build(tiny_clip_cfg, cra=dict(feature=feature),
                     dsi=dict(num_layers=num_dsi_layers, value_path=value_path))
    assert backbone.cra_layers == [3, 4]  # middle third of 6 blocks
    expected = clipseg_dense(backbone.visual, images, [3, 4], feature, 0.75, 6.0,
                             num_dsi_layers, value_path)
    with torch.no_grad():
        actual, = backbone(images)
    torch.testing.assert_close(actual, expected, atol=2e-5, rtol=1e-4)


def test_clipseg_mode_with_masking_and_custom_knobs(tiny_clip_cfg, images):
    probe = build(tiny_clip_cfg, cra=dict(layers=[1, 2, 5]))
    threshold = distance_quantile(probe, images, 0.5)  # about half of the pairs masked
    backbone = build(tiny_clip_cfg, cra=dict(layers=[1, 2, 5], threshold=threshold,
                                             temperature=1 / 6))
    expected = clipseg_dense(backbone.visual, images, [1, 2, 5], 'residual', threshold,
                             1 / 6, 3, 'own')
    with torch.no_grad():
        actual, = backbone(images)
    torch.testing.assert_close(actual, expected, atol=2e-5, rtol=1e-4)
    # The knobs matter: the default threshold gives another output.
    with torch.no_grad():
        default, = build(tiny_clip_cfg, cra=dict(layers=[1, 2, 5]))(images)
    assert not torch.allclose(actual, default, atol=1e-3)


@pytest.mark.parametrize('mode', ['maskclip', 'clearclip', 'sclip', 'naclip', 'vanilla'])
def test_baseline_modes_match_definitions(tiny_clip_cfg, images, mode):
    backbone = build(tiny_clip_cfg, dense_mode=mode)
    grid = tuple(backbone.visual.grid_size)
    last_input = residual_stream(backbone.visual, images)[-1]
    output = baseline_final_block(backbone.blocks[-1], last_input, mode, grid)
    expected = to_embeddings(backbone.visual, output[:, 1:], grid)
    with torch.no_grad():
        actual, = backbone(images)
    torch.testing.assert_close(actual, expected, atol=2e-5, rtol=1e-4)


def test_vanilla_mode_equals_open_clip_patch_tokens(tiny_clip_cfg, images):
    backbone = build(tiny_clip_cfg, dense_mode='vanilla')
    visual = backbone.visual
    visual.output_tokens = True
    try:
        with torch.no_grad():
            _, tokens = visual(images)  # open_clip's own forward: ln_post(x)[:, 1:]
    finally:
        visual.output_tokens = False
        features = torch.nn.functional.normalize(tokens @ visual.proj, dim=-1)
    with torch.no_grad():
        actual, = backbone(images)
    torch.testing.assert_close(actual, features.transpose(1, 2).reshape(2, -1, 8, 8),
                               atol=2e-5, rtol=1e-4)


def test_modes_differ_from_each_other(tiny_clip_cfg, images):
    outputs = {}
    for mode in ['clipseg', 'maskclip', 'sclip', 'clearclip', 'naclip', 'vanilla']:
        with torch.no_grad():
            outputs[mode], = build(tiny_clip_cfg, dense_mode=mode)(images)
    names = list(outputs)
    for index, first in enumerate(names):
        for second in names[index + 1:]:
            assert not torch.allclose(outputs[first], outputs[second], atol=1e-4), \
                (first, second)


def test_ablations_are_configs(tiny_clip_cfg, images):
    """DSI only with K=1 is MaskCLIP; CRA only is clipseg with K=1."""
    with torch.no_grad():
        maskclip, = build(tiny_clip_cfg, dense_mode='maskclip')(images)
        identity_k1, = build(tiny_clip_cfg, attention='identity',
                             dsi=dict(num_layers=1))(images)
        dsi_only, = build(tiny_clip_cfg, attention='identity')(images)
    torch.testing.assert_close(identity_k1, maskclip, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(dsi_only, maskclip, atol=1e-4)
