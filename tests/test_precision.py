"""Half precision: what each precision computes, and how close it stays to fp32.

The CPU autocast lane runs the code path CUDA runs (``precision='fp16'``/``'bf16'`` autocast
the blocks and the text tower on any device) under CPU autocast, in CI; the CUDA lane
(``pytest -m cuda``) runs the same claims on a GPU.
"""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.registry import MODELS

from mmseg_clipseg.class_names import load_class_names
from mmseg_clipseg.clip import TextEmbedder, load_clip
from mmseg_clipseg.datasets.synthetic_scenes import generate_scenes
from mmseg_clipseg.models import DENSE_MODES, CLIPDenseBackbone
from mmseg_clipseg.models.dense import cra
from mmseg_clipseg.models.dense.projections import (attention_probabilities,
                                                    self_similarity_attention)

TINY_TRAINED = dict(model_name='clipseg-tiny-synth', pretrained='synthetic')
TEMPLATES = ['a photo of {}.', 'a picture of {}.', '{}.']
HALF = {'fp16': torch.float16, 'bf16': torch.bfloat16}
# Measured on the tiny trained model and these 6 scenes (CPU autocast, torch 2.14): the lowest
# patch cosine to fp32 over the seven modes was 0.999992 (fp16) and 0.999594 (bf16,
# clearclip_qk), the lowest label agreement 0.9993 (fp16) and 0.9940 (bf16, clearclip); the
# text embeddings' lowest cosine 1.000000 (fp16) and 0.999999 (bf16). The bounds leave margin.
MIN_COSINE = {'fp16': 0.9999, 'bf16': 0.999}
MIN_AGREEMENT = {'fp16': 0.995, 'bf16': 0.98}
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')


def name_embeddings(embedder: TextEmbedder) -> torch.Tensor:
    embeddings, _ = embedder.class_embeddings(load_class_names('synthetic'), TEMPLATES)
    assert embeddings.dtype == torch.float32
    return embeddings


def synthetic_segmentor(mode: str, precision: str):
    cfg = Config.fromfile('configs/clipseg_tiny_synthetic.py').model
    cfg.backbone.update(dense_mode=mode, precision=precision)
    cfg.decode_head.text_cache = False
    return MODELS.build(cfg).eval()


@pytest.fixture(scope='module')
def scenes() -> list:
    """Six 64x64 synthetic scenes, uint8 (3, H, W) tensors."""
    return [torch.from_numpy(scene.image).permute(2, 0, 1)
            for scene in generate_scenes(6, seed=3)]


def features_and_labels(segmentor, scenes, device='cpu'):
    segmentor = segmentor.to(device)
    inputs = segmentor.data_preprocessor(dict(inputs=[scene.to(device) for scene in scenes]),
                                         False)['inputs']
    with torch.no_grad():
        features, = segmentor.backbone(inputs)
        results = segmentor.predict(inputs)
    return features, torch.stack([result.pred_sem_seg.data for result in results])


@pytest.fixture(scope='module')
def fp32_runs(scenes) -> dict:
    return {mode: features_and_labels(synthetic_segmentor(mode, 'fp32'), scenes)
            for mode in DENSE_MODES}


@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
@pytest.mark.parametrize('mode', DENSE_MODES)
def test_dense_modes_under_cpu_autocast_stay_close_to_fp32(scenes, fp32_runs, mode, precision):
    features, labels = features_and_labels(synthetic_segmentor(mode, precision), scenes)
    exact_features, exact_labels = fp32_runs[mode]
    assert features.dtype == torch.float32 and not torch.equal(features, exact_features)
    cosine = F.cosine_similarity(features, exact_features, dim=1)
    assert cosine.min() >= MIN_COSINE[precision]
    assert (labels == exact_labels).float().mean() >= MIN_AGREEMENT[precision]


@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
def test_text_tower_under_cpu_autocast_is_close_to_fp32(precision):
    model = load_clip(TINY_TRAINED)
    exact = name_embeddings(TextEmbedder(model, TINY_TRAINED['model_name']))
    half = name_embeddings(TextEmbedder(model, TINY_TRAINED['model_name'],
                                        precision=precision))
    assert not torch.equal(half, exact)  # autocast did act
    assert F.cosine_similarity(half, exact).min() >= MIN_COSINE[precision]


@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
def test_cra_similarity_is_an_fp16_product_under_both_half_precisions(monkeypatch, precision):
    """bf16 autocast must not re-cast CRA's fp16 product to bf16 (8-bit mantissa)."""
    seen = []

    def recording(features, compute_dtype=None):
        seen.append(([layer.detach().clone() for layer in features], compute_dtype,
                     cra.coherence_similarity(features, compute_dtype)))
        return seen[-1][2]

    monkeypatch.setattr('mmseg_clipseg.models.backbones.clip_dense_vit.coherence_similarity',
                        recording)
    backbone = CLIPDenseBackbone(clip=TINY_TRAINED, precision=precision).eval()
    with torch.no_grad():
        backbone(torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    (features, compute_dtype, similarity), = seen
    assert compute_dtype == torch.float16
    units = torch.cat([F.normalize(layer.float(), dim=-1) for layer in features], dim=-1)
    units = (units * len(features)**-0.5).half()
    assert torch.equal(similarity, (units @ units.transpose(1, 2)).float())


@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
def test_baseline_attention_is_fp32_under_autocast(precision):
    """The baselines' q·q, k·k and q·k logits and softmax are not rounded to half
    precision."""
    x, y = torch.randn(2, 2, 17, 32, generator=torch.Generator().manual_seed(0)) * 4
    bias = torch.rand(17, 17, generator=torch.Generator().manual_seed(1))
    exact = [self_similarity_attention(x, 4, bias), attention_probabilities(x, y, 4)]
    with torch.autocast('cpu', dtype=HALF[precision]):
        under_autocast = [self_similarity_attention(x, 4, bias),
                          attention_probabilities(x, y, 4)]
    for probabilities, expected in zip(under_autocast, exact):
        assert probabilities.dtype == torch.float32
        torch.testing.assert_close(probabilities, expected, rtol=0, atol=0)


def test_fp32_model_ignores_an_outer_autocast(scenes):
    """``precision`` decides: e.g. MMEngine's TestLoop(fp16=True) does not turn an fp32
    model's blocks, text tower or decision rule into half precision."""
    exact_features, exact_labels = features_and_labels(synthetic_segmentor('clipseg', 'fp32'),
                                                       scenes)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        features, labels = features_and_labels(synthetic_segmentor('clipseg', 'fp32'), scenes)
    assert torch.equal(features, exact_features) and torch.equal(labels, exact_labels)


@pytest.mark.cuda
@cuda_only
@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
def test_text_tower_in_half_precision_on_cuda(precision):
    model = load_clip(TINY_TRAINED).cuda()
    exact = name_embeddings(TextEmbedder(model, TINY_TRAINED['model_name']))
    embedder = TextEmbedder(model, TINY_TRAINED['model_name'], precision=precision)
    assert F.cosine_similarity(name_embeddings(embedder), exact).min() >= MIN_COSINE[precision]


@pytest.mark.cuda
@cuda_only
@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
@pytest.mark.parametrize('mode', DENSE_MODES)
def test_dense_modes_in_half_precision_on_cuda(scenes, monkeypatch, mode, precision):
    monkeypatch.setattr(torch.backends.cuda.matmul, 'allow_tf32', False)
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    exact_features, exact_labels = features_and_labels(synthetic_segmentor(mode, 'fp32'),
                                                       scenes, 'cuda')
    features, labels = features_and_labels(synthetic_segmentor(mode, precision), scenes,
                                           'cuda')
    cosine = F.cosine_similarity(features, exact_features, dim=1)
    assert cosine.min() >= MIN_COSINE[precision]
    assert (labels == exact_labels).float().mean() >= MIN_AGREEMENT[precision]
