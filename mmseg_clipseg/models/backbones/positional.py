"""CLIP's positional embedding brought to another patch grid."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

POS_INTERPOLATIONS = ('size', 'naclip')


def interpolate_positional_embedding(embedding: Tensor, source_grid: Tuple[int, int],
                                     grid: Tuple[int, int], method: str = 'size') -> Tensor:
    """The positional embedding of a ``source_grid`` of patches for a ``grid`` of patches.

    Args:
        embedding (Tensor): The trained embedding, (1 + H*W, D), ``[CLS]`` first.
        source_grid: Its patch grid (H, W).
        grid: The wanted grid (h, w).
        method: ``'size'``: bicubic to the grid; ``'naclip'``: as NACLIP, the trained
            embedding whenever the token count matches, else bicubic with
            ``scale_factor = (n + 0.1) / grid`` so that exactly n positions come out.

    Returns:
        Tensor: Shape (1 + h*w, D), the ``[CLS]`` position first.
    """
    grid, source_grid = tuple(grid), tuple(source_grid)
    if grid == source_grid:
        return embedding
    patches = embedding[1:].reshape(1, *source_grid, -1).permute(0, 3, 1, 2).float()
    if method == 'naclip':
        if grid[0] * grid[1] == source_grid[0] * source_grid[1]:
            return embedding
        scale = tuple((n + 0.1) / source for n, source in zip(grid, source_grid))
        patches = F.interpolate(patches, scale_factor=scale, mode='bicubic',
                                align_corners=False, recompute_scale_factor=False)
    else:
        patches = F.interpolate(patches, size=grid, mode='bicubic', align_corners=False)
    patches = patches.to(embedding.dtype).permute(0, 2, 3, 1).flatten(1, 2)[0]
    return torch.cat([embedding[:1], patches], dim=0)
