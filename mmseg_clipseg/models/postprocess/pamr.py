"""PAMR, pixel-adaptive mask refinement (Araslanov & Roth, "Single-Stage Semantic Segmentation
from Image Labels", CVPR 2020), as SCLIP and NACLIP apply it to per-name logits.

For every pixel, its neighbours are the 8 pixels of a 3x3 neighbourhood dilated by ``d``, for
each dilation ``d`` (images are extended by replicating their border). The affinity to a
neighbour ``j`` is, per colour channel ``c``, ``-|I_c(i) - I_c(j)| / (1e-8 + 0.1 σ_c(i))``,
averaged over the channels, then a softmax over all neighbours of all dilations; ``σ_c(i)`` is
the (unbiased) standard deviation of channel ``c`` over the 9 pixels of each dilated 3x3
neighbourhood, the centre included, all dilations together. Each step replaces every mask
value by the affinity-weighted sum of its neighbours' values. For fixed affinities this is
linear in the masks and acts on each mask alone, so masks can be refined a chunk at a time.
"""
from typing import Iterator, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

# SCLIP's and NACLIP's setting: 10 steps, dilations 8 and 16.
PAMR_DEFAULTS = dict(steps=10, dilations=(8, 16))
# Offsets (dy, dx) of the 8 neighbours in a 3x3 neighbourhood, row by row.
_NEIGHBOURS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))


def _shifted(x: Tensor, dilations: Sequence[int],
             offsets: Sequence[Tuple[int, int]]) -> Iterator[Tensor]:
    """``x`` read at ``(i + dy·d, j + dx·d)`` for every dilation ``d`` and offset, with the
    border replicated outside the image; views of one padded copy per dilation.

    Args:
        x (Tensor): Shape (B, C, H, W).

    Yields:
        Tensor: Shape (B, C, H, W), dilation-major, then in the order of ``offsets``.
    """
    height, width = x.shape[-2:]
    for d in dilations:
        padded = F.pad(x, (d, d, d, d), mode='replicate')
        for dy, dx in offsets:
            yield padded[..., d + dy * d:d + dy * d + height, d + dx * d:d + dx * d + width]


def _local_std(image: Tensor, dilations: Sequence[int]) -> Tensor:
    """Unbiased std of each channel over the dilated 3x3 neighbourhoods (centre included,
    all dilations pooled): (B, C, H, W) -> (B, C, H, W)."""
    window = ((0, 0), ) + _NEIGHBOURS
    count = len(window) * len(dilations)
    mean = sum(_shifted(image, dilations, window)) / count
    squares = sum((value - mean).square() for value in _shifted(image, dilations, window))
    return (squares / (count - 1)).sqrt()


def pamr_affinity(image: Tensor, dilations: Sequence[int]) -> Tensor:
    """Affinities of every pixel to its neighbours.

    Args:
        image (Tensor): The (normalised) image at the masks' size, shape (B, C, H, W).
        dilations: Dilations of the 3x3 neighbourhood, e.g. (8, 16).

    Returns:
        Tensor: Shape (B, 8·len(dilations), H, W), fp32, summing to 1 over dim 1; neighbour
        order as in :func:`pamr_propagate`.
    """
    image = image.float()
    scale = 1e-8 + 0.1 * _local_std(image, dilations)
    logits = torch.cat([-((image - neighbour).abs() / scale).mean(dim=1, keepdim=True)
                        for neighbour in _shifted(image, dilations, _NEIGHBOURS)], dim=1)
    return logits.softmax(dim=1)


def pamr_propagate(masks: Tensor, affinity: Tensor, steps: int,
                   dilations: Sequence[int]) -> Tensor:
    """``steps`` rounds of ``m(i) <- sum_j a(i, j) m(j)`` over the neighbours ``j``.

    Args:
        masks (Tensor): Shape (B, K, H, W), e.g. per-name logits.
        affinity (Tensor): From :func:`pamr_affinity` with the same ``dilations``,
            (B, 8·len(dilations), H, W).
        steps (int): Number of rounds.

    Returns:
        Tensor: Refined masks, (B, K, H, W), fp32.
    """
    masks = masks.float()
    for _ in range(steps):
        refined = torch.zeros_like(masks)
        for index, neighbour in enumerate(_shifted(masks, dilations, _NEIGHBOURS)):
            refined.addcmul_(neighbour, affinity[:, index:index + 1])
        masks = refined
    return masks
