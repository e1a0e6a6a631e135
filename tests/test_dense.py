"""The backbone's dense modes against direct re-statements of METHOD.md (tests/reference.py).

Model-level tests take the ``device`` fixture: they run on the CPU and, in the CUDA lane
(``pytest -m cuda``), on a GPU; the slow re-statements always run on the CPU.
"""
import math

import pytest
import torch
import torch.nn.functional as F

from mmseg_clipseg.utils.errors import UserInputError
from mmseg_clipseg.models import CLIPDenseBackbone
from mmseg_clipseg.models.dense import coherence_attention, coherence_similarity, dsi_value
from reference import (baseline_final_block, clipseg_dense, coherence_attention_slow,
                       layer_input_projections, residual_stream, softmax_rows,
                       to_embeddings, value_of)

NATIVE = 64  # the tiny model's image size: an 8x8 grid, positions used as trained


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(2, 3, NATIVE, NATIVE, generator=torch.Generator().manual_seed(0))


def build(tiny_clip_cfg, **kwargs) -> CLIPDenseBackbone:
    return CLIPDenseBackbone(clip=tiny_clip_cfg, **kwargs).eval()


def run_on(backbone: CLIPDenseBackbone, images: torch.Tensor,
           device: torch.device) -> torch.Tensor:
    """The backbone's output for ``images`` computed on ``device``, returned on the CPU."""
    with torch.no_grad():
        output, = backbone.to(device)(images.to(device))
    assert output.device.type == device.type
    return output.cpu()


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
                                     value_path, device):
    backbone = build(tiny_clip_cfg, cra=dict(feature=feature),
                     dsi=dict(num_layers=num_dsi_layers, value_path=value_path))
    assert backbone.cra_layers == [3, 4]  # middle third of 6 blocks
    expected = clipseg_dense(backbone.visual, images, [3, 4], feature, 0.75, 6.0,
                             num_dsi_layers, value_path)
    actual = run_on(backbone, images, device)
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


@pytest.mark.parametrize('mode', ['maskclip', 'clearclip', 'clearclip_qk', 'sclip', 'naclip',
                                  'vanilla'])
def test_baseline_modes_match_definitions(tiny_clip_cfg, images, mode, device):
    backbone = build(tiny_clip_cfg, dense_mode=mode)
    grid = tuple(backbone.visual.grid_size)
    last_input = residual_stream(backbone.visual, images)[-1]
    output = baseline_final_block(backbone.blocks[-1], last_input, mode, grid)
    expected = to_embeddings(backbone.visual, output[:, 1:], grid)
    actual = run_on(backbone, images, device)
    torch.testing.assert_close(actual, expected, atol=2e-5, rtol=1e-4)


def test_clearclip_qk_mode_is_the_final_blocks_own_attention_branch(tiny_clip_cfg, images):
    """ClearCLIP as shipped (model_type='vanilla', ignore_residual=True) keeps the final
    block's attention as torch's MultiheadAttention computes it and drops the rest."""
    backbone = build(tiny_clip_cfg, dense_mode='clearclip_qk')
    final = backbone.blocks[-1]
    with torch.no_grad():
        last_input = residual_stream(backbone.visual, images)[-1]
        branch = final.attention(final.ln_1(last_input))
        expected = to_embeddings(backbone.visual, branch[:, 1:], (8, 8))
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
    for mode in ['clipseg', 'maskclip', 'sclip', 'clearclip', 'clearclip_qk', 'naclip', 'vanilla']:
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


@pytest.mark.parametrize('mix,weight', [('kk', 0.5), ('qq', 0.25), ('kk', 1.0)])
def test_cra_mix_matches_method(tiny_clip_cfg, images, mix, weight, device):
    """Attn = (1 - w) Attn_CRA + w mean_h softmax(s x_h x_hᵀ) over block L's patch tokens."""
    backbone = build(tiny_clip_cfg, cra=dict(mix=mix, mix_weight=weight))
    visual, blocks = backbone.visual, list(backbone.blocks)
    streams = residual_stream(visual, images)
    cra = coherence_attention_slow([streams[m][:, 1:] for m in (3, 4)], 0.75, 6.0).float()
    q, k, _ = layer_input_projections(blocks[-1], streams[-1])
    own = (k if mix == 'kk' else q)[:, 1:]
    heads = blocks[-1].attn.num_heads
    head_dim = own.shape[-1] // heads
    per_head = [softmax_rows(own[..., h * head_dim:(h + 1) * head_dim]
                             @ own[..., h * head_dim:(h + 1) * head_dim].transpose(1, 2)
                             / math.sqrt(head_dim)) for h in range(heads)]
    attention = (1 - weight) * cra + weight * torch.stack(per_head).mean(dim=0)
    value = sum(value_of(block, streams[index][:, 1:])
                for block, index in zip(blocks[3:], (3, 4, 5))) / 3
    expected = to_embeddings(visual, attention @ value, tuple(visual.grid_size))
    torch.testing.assert_close(run_on(backbone, images, device), expected, atol=2e-5,
                               rtol=1e-4)
    without, = build(tiny_clip_cfg)(images)
    assert not torch.allclose(expected, without, atol=1e-4)


def test_half_precision_similarity_is_close_to_fp32():
    """The fp16 product of unit-norm features, used under half precision on CUDA."""
    generator = torch.Generator().manual_seed(3)
    features = [torch.randn(2, 50, 64, generator=generator) * 30 for _ in range(4)]
    exact = coherence_similarity(features)
    half = coherence_similarity(features, compute_dtype=torch.float16)
    assert half.dtype == torch.float32
    assert (half - exact).abs().max() < 2e-3
    attention = coherence_attention(half, 0.75, 6.0)
    cosine = F.cosine_similarity(attention.flatten(1),
                                 coherence_attention(exact, 0.75, 6.0).flatten(1))
    assert cosine.min() > 0.9999


def naclip_positions(visual, grid):
    """NACLIP's positional embedding: bicubic with scale (n + 0.1) / 8, written out."""
    source = visual.positional_embedding
    patches = source[1:].reshape(1, 8, 8, -1).permute(0, 3, 1, 2)
    scaled = F.interpolate(patches, scale_factor=((grid[0] + 0.1) / 8, (grid[1] + 0.1) / 8),
                           mode='bicubic', align_corners=False, recompute_scale_factor=False)
    assert scaled.shape[-2:] == grid
    return torch.cat([source[:1], scaled.permute(0, 2, 3, 1).reshape(-1, source.shape[1])])


def test_naclip_whole_image_grid(tiny_clip_cfg, device):
    """partial_patches='drop' ignores pixels past the last full patch (as a stride-p conv
    does), and pos_interpolation='naclip' scales positions by (n + 0.1) / grid."""
    image = torch.randn(1, 3, 13 * 8 + 5, 6 * 8 + 7, generator=torch.Generator().manual_seed(4))
    backbone = build(tiny_clip_cfg, dense_mode='naclip', partial_patches='drop',
                     pos_interpolation='naclip')
    visual = backbone.visual
    with torch.no_grad():
        cut = image[..., :13 * 8, :6 * 8]
        patches = visual.conv1(cut).flatten(2).transpose(1, 2)
        tokens = torch.cat([visual.class_embedding.view(1, 1, -1), patches], 1)
        x = visual.ln_pre(tokens + naclip_positions(visual, (13, 6)))
        for block in list(backbone.blocks)[:-1]:
            x = block(x)
        output = baseline_final_block(backbone.blocks[-1], x, 'naclip', (13, 6))
        expected = to_embeddings(visual, output[:, 1:], (13, 6))
    actual = run_on(backbone, image, device)
    assert actual.shape[-2:] == (13, 6)
    torch.testing.assert_close(actual, expected, atol=2e-5, rtol=1e-4)
    # The default pads to 14 x 7 patches and interpolates to the size.
    padded = run_on(build(tiny_clip_cfg, dense_mode='naclip'), image, device)
    assert padded.shape[-2:] == (14, 7)


def test_naclip_positions_keep_the_trained_embedding_for_the_same_token_count(tiny_clip_cfg):
    backbone = build(tiny_clip_cfg, pos_interpolation='naclip')
    native = backbone.visual.positional_embedding
    assert backbone.interpolated_positional_embedding((4, 16)) is native  # 64 tokens
    sized = build(tiny_clip_cfg).interpolated_positional_embedding((4, 16))
    assert not torch.equal(sized, native)


@pytest.mark.parametrize('knobs,message', [
    (dict(cra=dict(layers=[])), 'non-empty list'),
    (dict(cra=dict(layers=3)), 'non-empty list'),
    (dict(cra=dict(layers=[0, 2])), 'block numbers in 1..5'),
    (dict(cra=dict(layers=[2.5])), 'block numbers'),
    (dict(cra=dict(temperature=-1.0)), r'cra.temperature must be a number in \(0'),
    (dict(cra=dict(temperature=0)), 'cra.temperature'),
    (dict(cra=dict(temperature=float('nan'))), 'cra.temperature'),
    (dict(cra=dict(threshold='0.75')), 'cra.threshold'),
    (dict(cra=dict(threshold=3.0)), 'cra.threshold'),
    (dict(cra=dict(mix='kq')), 'cra.mix must be one of'),
    (dict(cra=dict(mix='kk', mix_weight=1.5)), 'cra.mix_weight'),
    (dict(cra=dict(tau=6)), r"Unknown cra setting\(s\) \['tau'\]"),
    (dict(dsi=dict(num_layers=2.5)), 'dsi.num_layers must be a whole number in 1..6'),
    (dict(dsi=dict(num_layers=True)), 'dsi.num_layers'),
    (dict(dsi=dict(num_layers=7)), 'dsi.num_layers'),
    (dict(partial_patches='crop'), 'partial_patches must be one of'),
    (dict(pos_interpolation='bilinear'), 'pos_interpolation must be one of'),
    (dict(dense_mode=['clipseg']), 'dense_mode must be one of'),
])
def test_bad_knobs_fail_with_one_clear_line(tiny_clip_cfg, knobs, message):
    with pytest.raises(UserInputError, match=message):
        build(tiny_clip_cfg, **knobs)


def test_a_window_too_large_for_attention_is_refused(tiny_clip_cfg):
    backbone = build(tiny_clip_cfg)
    huge = torch.zeros(1, 3, 8 * 129, 8 * 128)
    with pytest.raises(UserInputError, match='16512 patches in one window.*slide'):
        backbone.fit_to_patches(huge)
    assert backbone.fit_to_patches(huge[..., :8 * 128, :]).shape[-2:] == (8 * 128, 8 * 128)
