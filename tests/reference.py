"""Direct, slow re-statements of METHOD.md's formulas, written independently of the package
(explicit loops and per-head matrix products) to check its fast implementation against."""
import math
from typing import List

import torch
from torch import Tensor


def layer_input_projections(block, x: Tensor):
    """q, k, v of ``ln_1(x)`` from the packed in-projection, each (B, T, D)."""
    dim = x.shape[-1]
    y = block.ln_1(x)
    weight, bias = block.attn.in_proj_weight, block.attn.in_proj_bias
    q = y @ weight[:dim].T + bias[:dim]
    k = y @ weight[dim:2 * dim].T + bias[dim:2 * dim]
    v = y @ weight[2 * dim:].T + bias[2 * dim:]
    return q, k, v


def out_proj(block, x: Tensor) -> Tensor:
    return x @ block.attn.out_proj.weight.T + block.attn.out_proj.bias


def value_of(block, x: Tensor) -> Tensor:
    """``val(Y) = out_proj(W_v ln_1(Y) + b_v)`` (no layer scale in the test models)."""
    return out_proj(block, layer_input_projections(block, x)[2])


def softmax_rows(logits: Tensor) -> Tensor:
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    weights = shifted.exp()
    return weights / weights.sum(dim=-1, keepdim=True)


def per_head_attention(block, x: Tensor, kind: str, grid=None) -> Tensor:
    """``concat_h(A_h v_h)`` with A from q·q, k·k, their sum (sclip) or k·k + G (naclip)."""
    q, k, v = layer_input_projections(block, x)
    heads = block.attn.num_heads
    dim = x.shape[-1]
    head_dim = dim // heads
    scale = head_dim ** -0.5
    outputs = []
    for h in range(heads):
        part = slice(h * head_dim, (h + 1) * head_dim)
        qh, kh, vh = q[..., part], k[..., part], v[..., part]
        if kind == 'clearclip':
            attention = softmax_rows(qh @ qh.transpose(1, 2) * scale)
        elif kind == 'sclip':
            attention = (softmax_rows(qh @ qh.transpose(1, 2) * scale)
                         + softmax_rows(kh @ kh.transpose(1, 2) * scale))
        elif kind == 'naclip':
            attention = softmax_rows(kh @ kh.transpose(1, 2) * scale + gaussian_window(grid))
        else:
            raise ValueError(kind)
        outputs.append(attention @ vh)
    return torch.cat(outputs, dim=-1)


def gaussian_window(grid, sigma: float = 5.0) -> Tensor:
    """NACLIP's G: exp(-|p_i - p_j|² / 2σ²) between patches, 0 on the [CLS] row/column."""
    rows, cols = grid
    size = rows * cols + 1
    window = torch.zeros(size, size)
    for i in range(rows * cols):
        for j in range(rows * cols):
            dy = i // cols - j // cols
            dx = i % cols - j % cols
            window[i + 1, j + 1] = math.exp(-(dy * dy + dx * dx) / (2 * sigma * sigma))
    return window


def baseline_final_block(block, x: Tensor, mode: str, grid=None) -> Tensor:
    """The final block's output over all tokens for a baseline ``mode``."""
    if mode == 'maskclip':
        return value_of(block, x)
    if mode == 'clearclip':
        return out_proj(block, per_head_attention(block, x, 'clearclip'))
    if mode == 'naclip':
        return out_proj(block, per_head_attention(block, x, 'naclip', grid))
    if mode == 'sclip':
        y = x + out_proj(block, per_head_attention(block, x, 'sclip'))
        return y + block.mlp(block.ln_2(y))
    if mode == 'vanilla':
        return block(x)
    raise ValueError(mode)


def coherence_attention_slow(features: List[Tensor], threshold: float,
                             temperature: float) -> Tensor:
    """CRA's attention with explicit loops. ``features``: per layer (B, N, D)."""
    batch, num_patches, _ = features[0].shape
    similarity = torch.zeros(batch, num_patches, num_patches, dtype=torch.float64)
    for layer in features:
        layer = layer.double()
        for b in range(batch):
            for i in range(num_patches):
                for j in range(num_patches):
                    similarity[b, i, j] += torch.dot(layer[b, i], layer[b, j]) / (
                        layer[b, i].norm() * layer[b, j].norm())
    similarity /= len(features)
    attention = torch.zeros_like(similarity)
    for b in range(batch):
        for i in range(num_patches):
            kept = [j for j in range(num_patches)
                    if j == i or 1 - similarity[b, i, j] <= threshold]
            weights = torch.stack([torch.exp(temperature * similarity[b, i, j])
                                   for j in kept])
            attention[b, i, kept] = weights / weights.sum()
    return attention


def embed(visual, image: Tensor) -> Tensor:
    """X_0 at the model's native grid: patches, [CLS], positions, ln_pre. (B, 1+N, D)."""
    patches = visual.conv1(image).flatten(2).transpose(1, 2)
    cls_token = visual.class_embedding.view(1, 1, -1).expand(image.shape[0], 1, -1)
    return visual.ln_pre(torch.cat([cls_token, patches], 1) + visual.positional_embedding)


def residual_stream(visual, image: Tensor) -> List[Tensor]:
    """[X_0, X_1, ..., X_{L-1}] computed with open_clip's own blocks."""
    streams = [embed(visual, image)]
    for block in list(visual.transformer.resblocks)[:-1]:
        streams.append(block(streams[-1]))
    return streams


def to_embeddings(visual, patches: Tensor, grid) -> Tensor:
    """ln_post, proj, L2-normalise; (B, N, D) -> (B, C, h, w)."""
    features = visual.ln_post(patches) @ visual.proj
    features = features / features.norm(dim=-1, keepdim=True)
    return features.transpose(1, 2).reshape(features.shape[0], -1, *grid)


def clipseg_dense(visual, image: Tensor, layers, feature: str, threshold: float,
                  temperature: float, num_dsi_layers: int, value_path: str) -> Tensor:
    """METHOD.md's dense output, step by step. Returns (B, C, h, w)."""
    blocks = list(visual.transformer.resblocks)
    num_layers = len(blocks)
    streams = residual_stream(visual, image)
    layer_features = []
    for m in layers:
        if feature == 'residual':
            layer_features.append(streams[m][:, 1:])
        else:
            q, k, _ = layer_input_projections(blocks[m], streams[m])  # block m+1
            layer_features.append((k if feature == 'key' else q)[:, 1:])
    attention = coherence_attention_slow(layer_features, threshold, temperature).float()
    values = []
    for layer in range(num_layers - num_dsi_layers + 1, num_layers + 1):
        block = blocks[layer - 1] if value_path == 'own' else blocks[-1]
        values.append(value_of(block, streams[layer - 1])[:, 1:])
    value = torch.stack(values).mean(dim=0)
    grid = tuple(visual.grid_size)
    return to_embeddings(visual, attention @ value, grid)
