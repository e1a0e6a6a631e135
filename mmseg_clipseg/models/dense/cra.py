"""CRA, Coherence-enhanced Residual Attention (METHOD.md, "CRA: the attention").

The final block's attention is rebuilt from the patch-to-patch cosine similarity of middle
layers, which are more local and more coherent within an image than the final layer.
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

CRA_FEATURES = ('residual', 'key', 'query')


def default_cra_layers(num_layers: int) -> List[int]:
    """The middle third of the blocks, 1-indexed: ``floor(L/3)+1 .. floor(2L/3)``.

    5-8 for ViT-B (L=12), 9-16 for ViT-L (L=24), 11-21 for ViT-H (L=32).
    """
    return list(range(num_layers // 3 + 1, 2 * num_layers // 3 + 1))


def coherence_similarity(features: Sequence[Tensor]) -> Tensor:
    """Mean over layers of the patch-to-patch cosine similarity.

    Args:
        features: One tensor per layer, each (B, N, D_m).

    Returns:
        Tensor: ``S``, shape (B, N, N), in [-1, 1].
    """
    similarity = None
    for layer_features in features:
        unit = F.normalize(layer_features.float(), dim=-1)
        cosine = unit @ unit.transpose(1, 2)
        similarity = cosine if similarity is None else similarity + cosine
    return similarity / len(features)


def coherence_attention(similarity: Tensor, threshold: float, temperature: float) -> Tensor:
    """Row-softmax of ``temperature * S`` over the pairs whose cosine distance is at most
    ``threshold`` (the diagonal is always kept); other pairs get probability 0.

    Args:
        similarity (Tensor): ``S``, shape (B, N, N).
        threshold (float): ``ε``, the largest cosine distance ``1 - S_ij`` kept.
        temperature (float): ``τ``, multiplies the similarity.

    Returns:
        Tensor: Attention, shape (B, N, N), rows summing to 1.
    """
    keep = (1.0 - similarity) <= threshold
    keep = keep | torch.eye(similarity.shape[-1], dtype=torch.bool, device=similarity.device)
    logits = (temperature * similarity).masked_fill(~keep, float('-inf'))
    return logits.softmax(dim=-1)
