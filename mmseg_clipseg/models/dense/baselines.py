"""Final blocks of the baseline methods (METHOD.md, "Switches that turn it into the
baselines"). Each takes block L and its input ``X_{L-1}`` over all tokens (``[CLS]`` first)
and returns the block's output for all tokens, before ``ln_post`` and ``proj``."""
import functools
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .projections import (attend, attention_probabilities, heads_of, qkv, run_mlp,
                          self_similarity_attention, value_path)

NACLIP_SIGMA = 5.0


def maskclip_block(block: nn.Module, x: Tensor) -> Tensor:
    """MaskCLIP: every token keeps its own value, ``out_proj(v)``. (B, T, D) -> (B, T, D)."""
    return value_path(block, x)


def clearclip_block(block: nn.Module, x: Tensor) -> Tensor:
    """ClearCLIP as its paper and ``demo.py`` run it (``model_type='ClearCLIP'``):
    ``out_proj(softmax(q qᵀ s) v)``, no residual, no MLP."""
    query, _, value = qkv(block, x)
    return attend(block, self_similarity_attention(query, heads_of(block)), value)


def clearclip_qk_block(block: nn.Module, x: Tensor) -> Tensor:
    """ClearCLIP as its repository's ``configs/base_config.py`` ships it
    (``model_type='vanilla'``, ``ignore_residual=True``): the block's own query-key attention
    over all tokens, ``[CLS]`` included, ``out_proj(softmax(q kᵀ s) v)`` with
    ``s = 1/sqrt(d_h)``; no residual, no MLP. (B, T, D) -> (B, T, D)."""
    query, key, value = qkv(block, x)
    return attend(block, attention_probabilities(query, key, heads_of(block)), value)


def sclip_block(block: nn.Module, x: Tensor) -> Tensor:
    """SCLIP: ``Y = x + out_proj((softmax(q qᵀ s) + softmax(k kᵀ s)) v)``, then the MLP with
    its residual. The two attentions are summed, not averaged, as in SCLIP's code."""
    query, key, value = qkv(block, x)
    heads = heads_of(block)
    probs = self_similarity_attention(query, heads) + self_similarity_attention(key, heads)
    return run_mlp(block, x + attend(block, probs, value))


@functools.lru_cache(maxsize=16)
def neighbourhood_bias(grid: Tuple[int, int], sigma: float = NACLIP_SIGMA,
                       device: Optional[torch.device] = None) -> Tensor:
    """NACLIP's Gaussian window over patch positions, built once per grid size and device:
    computed on the CPU in float64 and moved to ``device`` in fp32 (devices such as Apple's
    MPS have no float64).

    Returns:
        Tensor: ``G``, shape (1 + h*w, 1 + h*w), fp32 on ``device``,
        ``G_ij = exp(-|p_i - p_j|² / (2σ²))`` for patches and 0 on the ``[CLS]`` row and
        column.
    """
    rows, cols = torch.meshgrid(torch.arange(grid[0], dtype=torch.float64),
                                torch.arange(grid[1], dtype=torch.float64), indexing='ij')
    positions = torch.stack([rows.flatten(), cols.flatten()], dim=1)
    squared = torch.cdist(positions, positions).square()
    bias = squared.new_zeros((positions.shape[0] + 1, positions.shape[0] + 1))
    bias[1:, 1:] = torch.exp(-squared / (2 * sigma**2))
    return bias.to(device=device, dtype=torch.float32)


def naclip_block(block: nn.Module, x: Tensor, grid: Tuple[int, int]) -> Tensor:
    """NACLIP: ``out_proj(softmax(k kᵀ s + G) v)``, no residual, no MLP.

    Args:
        grid: The patch grid (h, w); ``x`` has ``1 + h*w`` tokens.
    """
    _, key, value = qkv(block, x)
    bias = neighbourhood_bias(tuple(grid), NACLIP_SIGMA, x.device).to(x.dtype)
    return attend(block, self_similarity_attention(key, heads_of(block), bias), value)


def vanilla_block(block: nn.Module, x: Tensor) -> Tensor:
    """The unmodified block."""
    return block(x)
