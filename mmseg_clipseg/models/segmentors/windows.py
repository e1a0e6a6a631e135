"""Windows of an image and the per-name logits read from their patch features.

The segmentor runs the backbone once per window; :class:`ImageNameLogits` turns the windows'
patch features into one image's per-name cosine logits at the output size (upsampled per
window, averaged where windows overlap, resized, flipped back, refined by PAMR), a chunk of
names at a time, for :meth:`OpenVocabularyHead.decide`.
"""
import dataclasses
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch.nn.functional as F
from torch import Tensor

from ..heads.open_vocab_head import name_cosines
from ..postprocess import pamr_affinity, pamr_propagate
from .image_meta import Box

WindowFeatures = List[Tuple[Box, Tensor]]  # the windows of one image, features (C, h, w)
Size = Tuple[int, int]


def sliding_windows(height: int, width: int, crop: Tuple[int, int],
                    stride: Tuple[int, int]) -> List[Box]:
    """Windows ``(y1, y2, x1, x2)`` covering an image, as MMSeg's slide inference places them:
    a regular grid with the last row and column shifted back inside the image (never dropped),
    and windows clipped to the image when it is smaller than the crop."""
    crop_h, crop_w = crop
    stride_h, stride_w = stride
    rows = max(height - crop_h + stride_h - 1, 0) // stride_h + 1
    cols = max(width - crop_w + stride_w - 1, 0) // stride_w + 1
    windows = []
    for row in range(rows):
        for col in range(cols):
            y2 = min(row * stride_h + crop_h, height)
            x2 = min(col * stride_w + crop_w, width)
            windows.append((max(y2 - crop_h, 0), y2, max(x2 - crop_w, 0), x2))
    return windows


def equal_size_chunks(jobs: Sequence[Tuple[int, Box]], size: int
                      ) -> Iterator[Sequence[Tuple[int, Box]]]:
    """Windows ``(image index, box)`` grouped by window size, in chunks of ``size``."""
    by_size: Dict[Size, List[Tuple[int, Box]]] = {}
    for job in jobs:
        y1, y2, x1, x2 = job[1]
        by_size.setdefault((y2 - y1, x2 - x1), []).append(job)
    for group in by_size.values():
        for start in range(0, len(group), size):
            yield group[start:start + size]


@dataclasses.dataclass(frozen=True)
class GridToPixels:
    """How patch-grid maps become pixel maps.

    Attributes:
        patch_size: The backbone's (patch_h, patch_w).
        partial_patches: ``'pad'``: the grid covers the window padded to whole patches (it is
            upsampled to that and cut); ``'drop'``: it covers the whole patches only and is
            stretched over the window (NACLIP).
        align_corners: Of the bilinear resizes.
    """
    patch_size: Tuple[int, int]
    partial_patches: str = 'pad'
    align_corners: bool = False

    def resize(self, maps: Tensor, size: Size) -> Tensor:
        """Bilinear resize of (B, n, H, W) maps to ``size``."""
        return F.interpolate(maps, size=tuple(size), mode='bilinear',
                             align_corners=self.align_corners)

    def fit_to_window(self, grid_maps: Tensor, window: Size, size: Size) -> Tensor:
        """Bring the patch-grid maps (B, n, h, w) of a window of ``window`` pixels to
        ``size``: (B, n, *size)."""
        if self.partial_patches == 'drop':
            return self.resize(grid_maps, size)
        padded = (grid_maps.shape[-2] * self.patch_size[0],
                  grid_maps.shape[-1] * self.patch_size[1])
        maps = self.resize(grid_maps, padded)[..., :window[0], :window[1]]
        return maps if tuple(window) == tuple(size) else self.resize(maps, size)


@dataclasses.dataclass
class ImageNameLogits:
    """The per-name cosine logits of one image at ``out_size``, read a chunk of names at a
    time: a ``NameLogits`` for :meth:`OpenVocabularyHead.decide`.

    Attributes:
        grid: How grid maps become pixels.
        windows: The image's windows and their unit patch features (C, h, w).
        image_size: The image's (H, W) in the input.
        out_size: (H0, W0) of the logits.
        whole: One window covering the image: its logits go to ``out_size`` directly.
        flip_dims: Dims to flip back (the test-time flip of the image), e.g. (-1, ).
        pamr: PAMR settings (``steps``, ``dilations``) or None.
        affinity: PAMR affinities at ``out_size`` (1, P, H0, W0), with ``pamr``.
    """
    grid: GridToPixels
    windows: WindowFeatures
    image_size: Size
    out_size: Size
    whole: bool = False
    flip_dims: Tuple[int, ...] = ()
    pamr: Optional[Dict[str, Any]] = None
    affinity: Optional[Tensor] = None

    @classmethod
    def of_image(cls, grid: GridToPixels, image: Tensor, windows: WindowFeatures,
                 out_size: Size, whole: bool, flip_dims: Tuple[int, ...] = (),
                 pamr: Optional[Dict[str, Any]] = None) -> 'ImageNameLogits':
        """For a normalised ``image`` (3, H, W); with ``pamr``, its affinities are computed
        from the image resized to ``out_size`` (as NACLIP)."""
        affinity = None
        if pamr:
            resized = grid.resize(image[None].float(), out_size)
            affinity = pamr_affinity(resized.flip(flip_dims) if flip_dims else resized,
                                     pamr['dilations'])
        return cls(grid, windows, tuple(image.shape[-2:]), tuple(out_size), whole, flip_dims,
                   pamr, affinity)

    def __call__(self, embeddings: Tensor) -> Tensor:
        """Logits of the names ``embeddings`` (n, C): a new tensor (n, H0, W0), fp32."""
        if self.whole:
            (_, features), = self.windows
            logits = self.grid.fit_to_window(name_cosines(features, embeddings)[None],
                                             self.image_size, self.out_size)
        else:
            logits = self._average_windows(embeddings)
            if self.out_size != self.image_size:
                logits = self.grid.resize(logits, self.out_size)
        if self.flip_dims:
            logits = logits.flip(self.flip_dims)
        if self.affinity is not None:
            logits = pamr_propagate(logits, self.affinity, self.pamr['steps'],
                                    self.pamr['dilations'])
        return logits[0]

    def _average_windows(self, embeddings: Tensor) -> Tensor:
        """Per-name logits upsampled to each window and averaged: (1, n, H, W)."""
        sums = counts = None
        for (y1, y2, x1, x2), features in self.windows:
            window = (y2 - y1, x2 - x1)
            logits = self.grid.fit_to_window(name_cosines(features, embeddings)[None],
                                             window, window)
            if sums is None:
                sums = logits.new_zeros((1, logits.shape[1], *self.image_size))
                counts = logits.new_zeros((1, 1, *self.image_size))
            sums[..., y1:y2, x1:x2] += logits
            counts[..., y1:y2, x1:x2] += 1
        return sums.div_(counts)
