"""Half precision: the text tower and the dense features stay close to fp32.

On CUDA (the CUDA lane, ``pytest -m cuda``) the real fp16/bf16 paths run; on the CPU the same
numerical claim is checked for the text tower under CPU autocast (bf16), and the half-precision
CRA product is tested in tests/test_dense.py.
"""
import pytest
import torch
import torch.nn.functional as F

from mmseg_clipseg.class_names import load_class_names
from mmseg_clipseg.clip import TextEmbedder, load_clip
from mmseg_clipseg.models import CLIPDenseBackbone

TINY_TRAINED = dict(model_name='clipseg-tiny-synth', pretrained='synthetic')
TEMPLATES = ['a photo of {}.', 'a picture of {}.', '{}.']
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')


def name_embeddings(embedder: TextEmbedder) -> torch.Tensor:
    embeddings, _ = embedder.class_embeddings(load_class_names('synthetic'), TEMPLATES)
    assert embeddings.dtype == torch.float32
    return embeddings


def test_text_tower_under_cpu_bf16_autocast_is_close_to_fp32(monkeypatch):
    embedder = TextEmbedder(load_clip(TINY_TRAINED), TINY_TRAINED['model_name'])
    exact = name_embeddings(embedder)
    monkeypatch.setattr(embedder, '_autocast',
                        lambda: torch.autocast('cpu', dtype=torch.bfloat16))
    half = name_embeddings(embedder)
    assert not torch.equal(half, exact)  # autocast did act
    assert F.cosine_similarity(half, exact).min() >= 0.9999


def test_text_precision_is_fp32_on_the_cpu():
    embedder = TextEmbedder(load_clip(TINY_TRAINED), TINY_TRAINED['model_name'],
                            precision='fp16')
    assert embedder.effective_precision == 'fp32'


@pytest.mark.cuda
@cuda_only
@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
def test_text_tower_in_half_precision_on_cuda(precision):
    model = load_clip(TINY_TRAINED).cuda()
    exact = name_embeddings(TextEmbedder(model, TINY_TRAINED['model_name']))
    embedder = TextEmbedder(model, TINY_TRAINED['model_name'], precision=precision)
    assert embedder.effective_precision == precision
    assert F.cosine_similarity(name_embeddings(embedder), exact).min() >= 0.9999


@pytest.mark.cuda
@cuda_only
@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
@pytest.mark.parametrize('mode', ['clipseg', 'maskclip', 'sclip', 'naclip'])
def test_dense_features_in_half_precision_on_cuda(precision, mode):
    images = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0)).cuda()
    features = {}
    for run in ('fp32', precision):
        backbone = CLIPDenseBackbone(clip=TINY_TRAINED, dense_mode=mode, precision=run)
        with torch.no_grad():
            features[run], = backbone.cuda().eval()(images)
        assert features[run].dtype == torch.float32
    cosine = F.cosine_similarity(features[precision], features['fp32'], dim=1)
    assert cosine.min() >= 0.999
