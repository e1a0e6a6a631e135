"""Colour palettes: one per vocabulary (:func:`palette_for`), and a deterministic one for
datasets that have none of their own (:func:`label_colormap`)."""
import functools
import re
from typing import Dict, List, Sequence, Tuple, Union


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


def _names_key(classes: Sequence[Union[str, Sequence[str]]]) -> Tuple[str, ...]:
    """Class names compared up to case, spaces and punctuation (``'potted plant'`` equals
    ``'pottedplant'``); a class given with synonyms counts by its first name."""
    return tuple(re.sub(r'[^0-9a-z]', '', (name if isinstance(name, str) else name[0]).lower())
                 for name in classes)


@functools.lru_cache(maxsize=1)
def _dataset_palettes(registered: int) -> Dict[Tuple[str, ...], List[List[int]]]:
    """Classes -> palette of every dataset registered in mmseg (ours and mmseg's own), the
    first registered winning; ``registered`` (their number) renews the cache."""
    from mmseg.registry import DATASETS
    palettes: Dict[Tuple[str, ...], List[List[int]]] = {}
    for dataset in DATASETS.module_dict.values():
        meta = getattr(dataset, 'METAINFO', None) or {}
        classes, palette = meta.get('classes'), meta.get('palette')
        if classes and palette and len(classes) == len(palette):
            palettes.setdefault(_names_key(classes), [list(map(int, c)) for c in palette])
    return palettes


def palette_for(classes: Sequence[Union[str, Sequence[str]]]) -> List[List[int]]:
    """The colours of a vocabulary, the same wherever its labels are drawn (``tools/demo.py``,
    ``tools/test.py --show-dir``, MMSeg's visualizer through the segmentor's
    ``dataset_meta``).

    A benchmark's classes (in its order) get the palette of its dataset, which its
    ``--show-dir`` pictures use; any other vocabulary gets :func:`label_colormap`.

    Args:
        classes: Class names in label order; a class may be a sequence of synonyms.

    Returns:
        list[list[int]]: ``len(classes)`` colours as ``[r, g, b]`` in 0..255.
    """
    from mmseg.registry import DATASETS
    palette = _dataset_palettes(len(DATASETS.module_dict)).get(_names_key(classes))
    return [list(colour) for colour in palette] if palette else label_colormap(len(classes))
