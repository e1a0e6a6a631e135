"""Projections of one open_clip transformer block, for rebuilding its attention.

Token sequences are batch-first: ``(B, T, D)``. A block has ``ln_1``, ``attn``
(``nn.MultiheadAttention`` with packed ``in_proj_weight``), ``ls_1``, ``ln_2``, ``mlp``, ``ls_2``.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, T, D) -> (B, H, T, D/H)."""
    batch, tokens, dim = x.shape
    return x.view(batch, tokens, num_heads, dim // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, d) -> (B, T, H*d)."""
    batch, heads, tokens, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, tokens, heads * head_dim)


def qkv(block: nn.Module, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Query, key and value of ``ln_1(x)``, heads concatenated.

    Args:
        block: An open_clip residual attention block.
        x (Tensor): The block's input, shape (B, T, D).

    Returns:
        tuple[Tensor, Tensor, Tensor]: q, k, v, each (B, T, D).
    """
    attn = block.attn
    return F.linear(block.ln_1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)


def _in_projection(block: nn.Module, x: Tensor, part: int) -> Tensor:
    """One of the packed input projections of ``ln_1(x)``: part 0 query, 1 key, 2 value.
    (B, T, D) -> (B, T, D)."""
    dim = x.shape[-1]
    attn = block.attn
    rows = slice(part * dim, (part + 1) * dim)
    bias = None if attn.in_proj_bias is None else attn.in_proj_bias[rows]
    return F.linear(block.ln_1(x), attn.in_proj_weight[rows], bias)


def project_query(block: nn.Module, x: Tensor) -> Tensor:
    """The block's query projection of ``ln_1(x)``: (B, T, D) -> (B, T, D)."""
    return _in_projection(block, x, 0)


def project_key(block: nn.Module, x: Tensor) -> Tensor:
    """The block's key projection of ``ln_1(x)``: (B, T, D) -> (B, T, D)."""
    return _in_projection(block, x, 1)


def value_path(block: nn.Module, x: Tensor) -> Tensor:
    """``ls_1(out_proj(W_v ln_1(x) + b_v))``: each token's own value, as the block's
    attention branch would output it under the identity attention.

    Args:
        block: An open_clip residual attention block.
        x (Tensor): The block's input, shape (B, T, D).

    Returns:
        Tensor: Shape (B, T, D).
    """
    return block.ls_1(block.attn.out_proj(_in_projection(block, x, 2)))


def attend(block: nn.Module, probs: Tensor, value: Tensor) -> Tensor:
    """Apply per-head attention probabilities to values, then the output projection.

    Args:
        block: The block whose ``out_proj`` and ``ls_1`` to use.
        probs (Tensor): Attention, shape (B, H, T, T), rows summing to 1.
        value (Tensor): Values, heads concatenated, shape (B, T, D).

    Returns:
        Tensor: ``ls_1(out_proj(concat_h(probs_h @ v_h)))``, shape (B, T, D).
    """
    heads = split_heads(value, probs.shape[1])
    # In the value's dtype (the autocast's, under half precision), as the block's own would.
    return block.ls_1(block.attn.out_proj(merge_heads(probs.to(heads.dtype) @ heads)))


def attention_probabilities(query: Tensor, key: Tensor, num_heads: int,
                            bias: Optional[Tensor] = None) -> Tensor:
    """Per-head ``softmax(q_h k_hᵀ / sqrt(d_h) + bias)``, in fp32 whatever the autocast.

    Under half-precision autocast the logits would be rounded to fp16/bf16 before the
    softmax (they reach tens, where fp16 steps are ~0.01-0.03 and bf16 steps ~0.1-0.25), and
    CPU autocast even keeps the softmax itself in bf16; T x T x d_h per head is cheap, so
    both run in fp32.

    Args:
        query (Tensor): Queries, heads concatenated, shape (B, T, D).
        key (Tensor): Keys, heads concatenated, shape (B, T, D).
        num_heads (int): Number of heads H.
        bias (Tensor, optional): Added to every head's logits, shape (T, T).

    Returns:
        Tensor: Shape (B, H, T, T), fp32, rows summing to 1.
    """
    with torch.autocast(query.device.type, enabled=False):
        query = split_heads(query.float(), num_heads)
        key = split_heads(key.float(), num_heads)
        logits = query @ key.transpose(-2, -1) * query.shape[-1] ** -0.5
        if bias is not None:
            logits = logits + bias.float()
        return logits.softmax(dim=-1)


def self_similarity_attention(x: Tensor, num_heads: int, bias: Optional[Tensor] = None
                              ) -> Tensor:
    """Per-head ``softmax(x_h x_hᵀ / sqrt(d_h) + bias)`` (q-q or k-k), in fp32; see
    :func:`attention_probabilities`. Shape (B, T, D) -> (B, H, T, T)."""
    return attention_probabilities(x, x, num_heads, bias)


def run_mlp(block: nn.Module, x: Tensor) -> Tensor:
    """The block's MLP branch with its residual: ``x + ls_2(mlp(ln_2(x)))``."""
    return x + block.ls_2(block.mlp(block.ln_2(x)))


def heads_of(block: nn.Module) -> int:
    """Number of attention heads of a block."""
    return block.attn.num_heads
