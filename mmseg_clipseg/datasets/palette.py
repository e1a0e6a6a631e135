"""Deterministic colour palettes for datasets that have none of their own."""
from typing import List


def label_colormap(num_classes: int) -> List[List[int]]:
    """Distinct RGB colours for labels ``0 .. num_classes - 1``.

    Pascal VOC's colour-map scheme: the bits of ``label + 1`` are spread, three at a time,
    over the red, green and blue channels from their most significant bit down, so the
    colours are distinct for up to 2**24 - 1 classes and none is black (black usually shows
    unlabeled pixels).

    Args:
        num_classes (int): Number of colours.

    Returns:
        list[list[int]]: ``num_classes`` colours as ``[r, g, b]`` in 0..255.
    """
    palette = []
    for label in range(num_classes):
        code, rgb = label + 1, [0, 0, 0]
        for bit in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((code >> channel) & 1) << bit
            code >>= 3
        palette.append(rgb)
    return palette
