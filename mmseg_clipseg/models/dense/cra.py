"""CRA, Coherence-enhanced Residual Attention (METHOD.md, "CRA: the attention").

The final block's attention is rebuilt from the patch-to-patch cosine similarity of middle
layers, which are more local and more coherent within an image than the final layer.
"""
import numbers
from collections import Counter
from typing import Any, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ...utils.errors import UserInputError

CRA_FEATURES = ('residual', 'key', 'query')
CRA_MIXES = ('none', 'kk', 'qq')


def default_cra_layers(num_layers: int) -> List[int]:
    """The middle third of the blocks, 1-indexed: ``floor(L/3)+1 .. floor(2L/3)``.

    5-8 for ViT-B (L=12), 9-16 for ViT-L (L=24), 11-21 for ViT-H (L=32).
    """
    return list(range(num_layers // 3 + 1, 2 * num_layers // 3 + 1))


def check_cra_layers(layers: Any, num_layers: int) -> List[int]:
    """The CRA layers of a config: 1-indexed middle blocks, each once; None means the
    middle third (:func:`default_cra_layers`)."""
    if layers is None:
        return default_cra_layers(num_layers)
    hint = (f'cra.layers must be a non-empty list of block numbers in 1..{num_layers - 1} '
            f'(1-indexed, the final block excluded), e.g. [5, 6, 7, 8], or None for the '
            f'middle third; got {layers!r}')
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or not layers:
        raise UserInputError(hint)
    if any(isinstance(layer, bool) or not isinstance(layer, numbers.Integral)
           or not 1 <= layer <= num_layers - 1 for layer in layers):
        raise UserInputError(hint)
    repeated = sorted(int(layer) for layer, count in Counter(layers).items() if count > 1)
    if repeated:
        # A repeated layer would weigh twice in the mean similarity: not a set of layers.
        raise UserInputError(f'cra.layers lists block(s) {repeated} more than once; each '
                             f'middle layer counts once in the mean similarity. Got {layers!r}')
    return [int(layer) for layer in layers]


def coherence_similarity(features: Sequence[Tensor],
                         compute_dtype: Optional[torch.dtype] = None) -> Tensor:
    """Mean over layers of the patch-to-patch cosine similarity.

    ``mean_m u_m u_mᵀ`` equals ``U Uᵀ`` for ``U = concat_m(u_m) / sqrt(M)`` (``u_m`` the
    unit-norm features of layer m), so all layers take one matrix product. ``U`` has unit
    rows, so its products stay in [-1, 1]: safe for fp16 inputs with fp32 accumulation.

    Args:
        features: One tensor per layer, each (B, N, D_m).
        compute_dtype: The dtype of the product (e.g. fp16 under half precision on CUDA);
            None: fp32. Normalisation is always in fp32.

    Returns:
        Tensor: ``S``, shape (B, N, N), fp32, in [-1, 1].
    """
    units = torch.cat([F.normalize(layer.float(), dim=-1) for layer in features], dim=-1)
    units = (units * len(features)**-0.5).to(compute_dtype or torch.float32)
    return (units @ units.transpose(1, 2)).float()


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


def attention_mix(final_features: Tensor, num_heads: int) -> Tensor:
    """The final block's own self-similarity attention over patch tokens, averaged over heads:
    ``mean_h softmax(s · x_h x_hᵀ)`` (METHOD.md, ``cra.mix``).

    Args:
        final_features (Tensor): Block L's keys or queries of the patch tokens, heads
            concatenated, shape (B, N, D).
        num_heads (int): Number of heads H; ``s = (D / H)^-0.5``.

    Returns:
        Tensor: Shape (B, N, N), fp32, rows summing to 1.
    """
    batch, tokens, dim = final_features.shape
    heads = final_features.float().view(batch, tokens, num_heads, dim // num_heads)
    heads = heads.transpose(1, 2)
    logits = heads @ heads.transpose(-2, -1) * heads.shape[-1]**-0.5
    return logits.softmax(dim=-1).mean(dim=1)
