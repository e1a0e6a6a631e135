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
    """``concat_h(A_h v_h)`` with A from q·q (clearclip), q·k (clearclip_qk), q·q plus k·k
    (sclip) or k·k + G (naclip), over all tokens ([CLS] included)."""
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
        elif kind == 'clearclip_qk':
            attention = softmax_rows(qh @ kh.transpose(1, 2) * scale)
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
    if mode in ('clearclip', 'clearclip_qk'):
        # No residual, no MLP: the attention branch alone.
        return out_proj(block, per_head_attention(block, x, mode))
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


# --- The peers' decision rule (METHOD.md "Classification"), one window at a time ----------
import torch.nn.functional as F  # noqa: E402  (this file is only appended to)

def pamr_slow(image: Tensor, masks: Tensor, steps: int, dilations) -> Tensor:
    """PAMR as published, pixel by pixel: image (3, H, W), masks (K, H, W) -> (K, H, W).

    Neighbours of (i, j): the 3x3 grid dilated by each d, coordinates clamped to the image
    (replicated border). σ_c: unbiased std of channel c over all 9·D grid values (the centre
    once per dilation). Affinity to each of the 8·D non-centre neighbours n:
    mean_c(-|I_c(i, j) - I_c(n)| / (1e-8 + 0.1 σ_c)), softmax over the neighbours. A step
    sets m(i, j) = Σ_n a_n m(n)."""
    image, masks = image.double(), masks.double()
    _, height, width = image.shape
    offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]

    def grid(i, j, d, with_centre):
        return [(min(max(i + dy * d, 0), height - 1), min(max(j + dx * d, 0), width - 1))
                for dy, dx in offsets if with_centre or (dy, dx) != (0, 0)]

    neighbours, affinities = {}, {}
    for i in range(height):
        for j in range(width):
            everything = [p for d in dilations for p in grid(i, j, d, True)]
            std = torch.stack([image[:, y, x] for y, x in everything]).std(dim=0)
            neighbours[i, j] = [p for d in dilations for p in grid(i, j, d, False)]
            logits = torch.stack([
                (-(image[:, i, j] - image[:, y, x]).abs() / (1e-8 + 0.1 * std)).mean()
                for y, x in neighbours[i, j]])
            affinities[i, j] = softmax_rows(logits[None])[0]
    for _ in range(steps):
        refined = torch.zeros_like(masks)
        for (i, j), points in neighbours.items():
            for weight, (y, x) in zip(affinities[i, j], points):
                refined[:, i, j] += weight * masks[:, y, x]
        masks = refined
    return masks


def upsample_window(grid_logits: Tensor, window, patch: int, partial_patches: str,
                    size=None) -> Tensor:
    """Patch-grid logits (1, N, h, w) of a window (H, W) -> (1, N, *size): 'drop' stretches the
    grid over ``size``; 'pad' upsamples to the padded window, cuts, then resizes to size."""
    size = tuple(size or window)
    if partial_patches == 'drop':
        return F.interpolate(grid_logits, size=size, mode='bilinear', align_corners=False)
    padded = (grid_logits.shape[-2] * patch, grid_logits.shape[-1] * patch)
    logits = F.interpolate(grid_logits, size=padded, mode='bilinear',
                           align_corners=False)[..., :window[0], :window[1]]
    if size != tuple(window):
        logits = F.interpolate(logits, size=size, mode='bilinear', align_corners=False)
    return logits


def peers_name_logits(features_of, image: Tensor, embeddings: Tensor, ori_size, *, mode,
                      crop=None, stride=None, patch: int, partial_patches: str = 'pad',
                      pamr=None) -> Tensor:
    """SCLIP's/NACLIP's per-name logits of one image (3, H, W) at ``ori_size``: (N, H0, W0).

    ``features_of(crops)`` gives unit patch features (1, C, h, w). Slide: the mmseg window
    grid, one crop at a time, logits upsampled to the crop and added into a zero-padded
    canvas, divided by the window count, resized to the original size. Whole: the image's
    grid goes straight to the original size. Then optional PAMR with the image resized to
    the original size."""
    _, height, width = image.shape
    if mode == 'whole':
        grid = torch.einsum('bchw,nc->bnhw', features_of(image[None]), embeddings)
        logits = upsample_window(grid, (height, width), patch, partial_patches, ori_size)[0]
    else:
        (crop_h, crop_w), (stride_h, stride_w) = crop, stride
        rows = max(height - crop_h + stride_h - 1, 0) // stride_h + 1
        cols = max(width - crop_w + stride_w - 1, 0) // stride_w + 1
        preds = torch.zeros(1, embeddings.shape[0], height, width)
        count = torch.zeros(1, 1, height, width)
        for row in range(rows):
            for col in range(cols):
                y2, x2 = min(row * stride_h + crop_h, height), min(col * stride_w + crop_w, width)
                y1, x1 = max(y2 - crop_h, 0), max(x2 - crop_w, 0)
                grid = torch.einsum('bchw,nc->bnhw',
                                    features_of(image[None, :, y1:y2, x1:x2]), embeddings)
                window = upsample_window(grid, (y2 - y1, x2 - x1), patch, partial_patches)
                preds += F.pad(window, (x1, width - x2, y1, height - y2))
                count[..., y1:y2, x1:x2] += 1
        logits = F.interpolate(preds / count, size=tuple(ori_size), mode='bilinear',
                               align_corners=False)[0]
    if pamr is not None:
        resized = F.interpolate(image[None], size=tuple(ori_size), mode='bilinear',
                                align_corners=False)[0]
        logits = pamr_slow(resized, logits, pamr['steps'], pamr['dilations']).float()
    return logits


def peers_decision(logits: Tensor, name_classes, num_classes: int, logit_scale: float,
                   prob_thd: float = 0.0, area_thd=None):
    """SCLIP's ``postprocess_result`` on per-name logits (N, H, W): softmax over all names,
    per-class max by a one-hot product, optional ``area_thd`` (probabilities of classes
    1.. whose argmax area is not above area_thd x the foreground area set to 0), argmax,
    then label 0 where the top probability is below ``prob_thd``.

    ``name_classes[n]`` is the label of name n (a class without names scores 0).

    Returns:
        tuple: labels (H, W) and class probabilities (K, H, W).
    """
    probabilities = (logits.double() * logit_scale).softmax(dim=0)
    one_hot = torch.zeros(num_classes, len(name_classes), 1, 1, dtype=torch.float64)
    for name, label in enumerate(name_classes):
        one_hot[label, name] = 1
    classes = (probabilities[None] * one_hot).max(dim=1).values
    if area_thd is not None:
        winners = F.one_hot(classes.argmax(dim=0), num_classes).double()
        area = winners[:, :, 1:].sum(dim=(0, 1))
        classes[1:] *= (area > area_thd * area.sum()).double()[:, None, None]
    labels = classes.argmax(dim=0)
    labels[classes.max(dim=0).values < prob_thd] = 0
    return labels, classes.float()


def peers_patch_rule(features: Tensor, embeddings: Tensor, name_classes, num_classes: int,
                     logit_scale: float, prob_thd: float) -> Tensor:
    """The decision rule on the patch grid of one image, features (C, h, w): labels (h, w)."""
    logits = torch.einsum('chw,nc->nhw', features, embeddings)
    labels, _ = peers_decision(logits, name_classes, num_classes, logit_scale, prob_thd)
    return labels
