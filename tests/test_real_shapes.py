"""The real ViT-B/16 architecture (randomly initialised: no weights can be downloaded)."""
import pytest
import torch

from mmseg_clipseg.models import CLIPDenseBackbone, OpenVocabularyHead

VIT_B16 = dict(model_name='ViT-B-16', pretrained=None, quick_gelu=True)


@pytest.fixture(scope='module')
def backbone() -> CLIPDenseBackbone:
    return CLIPDenseBackbone(clip=VIT_B16).eval()


def test_vit_b16_layers_and_output(backbone):
    assert len(backbone.blocks) == 12 and backbone.patch_size == (16, 16)
    assert backbone.cra_layers == [5, 6, 7, 8]
    with torch.no_grad():
        features, = backbone(torch.randn(1, 3, 448, 448))
    assert features.shape == (1, 512, 28, 28)  # a 448 window: 28x28 patches
    torch.testing.assert_close(features.norm(dim=1), torch.ones(1, 28, 28))


def test_vit_b16_collects_cra_features_of_the_middle_blocks(backbone):
    """Residual streams X_5..X_8, patch tokens only, at the width of the blocks."""
    with torch.no_grad():
        x, _ = backbone.embed(torch.randn(1, 3, 224, 224))
        _, features, _ = backbone._run_to_final_block(x)
    assert sorted(features) == [5, 6, 7, 8] and features[5].shape == (1, 196, 768)


def test_vit_b16_text_truncation_is_exact():
    head = OpenVocabularyHead(class_names=['cat'], clip=VIT_B16)
    tokens = head.text_embedder.tokenizer(['a photo of a traffic light.', 'sky'])
    with torch.no_grad():
        cut = head.text_embedder.encode_tokens(tokens, truncate=True)
        full = head.text_embedder.encode_tokens(tokens, truncate=False)
    torch.testing.assert_close(cut, full, atol=1e-5, rtol=1e-5)
