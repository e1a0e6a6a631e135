"""Colour a label map over its image, with a legend of the classes it shows."""
import functools
from typing import List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .datasets.palette import label_colormap


def class_areas(labels: np.ndarray, num_classes: int) -> List[Tuple[int, float]]:
    """Classes present in ``labels`` (H, W) with their share of pixels, largest first."""
    counts = np.bincount(labels.ravel(), minlength=num_classes)[:num_classes]
    shares = counts / max(labels.size, 1)
    return [(int(c), float(shares[c])) for c in np.argsort(-counts, kind='stable')
            if counts[c] > 0]


@functools.lru_cache(maxsize=None)
def _font_files() -> Tuple[str, ...]:
    """TrueType fonts for the legend, best first: DejaVu Sans (in matplotlib, which mmengine
    requires; Latin, Greek, Cyrillic, Arabic, Hebrew, ...), then the fonts matplotlib finds
    on the system (e.g. Noto CJK where installed). Not "Last Resort", whose glyphs are
    boxes."""
    try:
        from matplotlib import font_manager
    except ImportError:
        return ()
    first = font_manager.findfont(font_manager.FontProperties(family='DejaVu Sans'))
    others = sorted(entry.fname for entry in font_manager.fontManager.ttflist
                    if not entry.name.startswith('Last Resort'))
    return tuple(dict.fromkeys([first, *others]))


@functools.lru_cache(maxsize=None)
def _characters(path: str) -> frozenset:
    """The characters a font file has glyphs for."""
    from matplotlib.ft2font import FT2Font
    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError):
        return frozenset()


@functools.lru_cache(maxsize=None)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def legend_font(text: str, size: int) -> Optional[ImageFont.FreeTypeFont]:
    """The first font of :func:`_font_files` with a glyph for every character of ``text``,
    or None."""
    needed = {ord(char) for char in text if not char.isspace()}
    for path in _font_files():
        if needed <= _characters(path):
            return _font(path, size)
    return None


def render_overlay(image: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                   opacity: float = 0.55, min_height: int = 256) -> Image.Image:
    """The image with coloured labels blended over it and a legend on the right.

    Args:
        image: RGB image, (H, W, 3) uint8.
        labels: Class indices, (H, W), values in ``[0, len(class_names))``.
        class_names: Name of each class index.
        opacity: Weight of the label colours in the blend.
        min_height: Smaller images are enlarged by an integer factor (nearest neighbour) so
            that they are at least this tall and their labels stay readable.

    Returns:
        PIL.Image.Image: RGB, (s*H, s*W + legend width) with s the enlargement factor.
    """
    scale = -(-min_height // image.shape[0])
    if scale > 1:
        image = image.repeat(scale, axis=0).repeat(scale, axis=1)
        labels = labels.repeat(scale, axis=0).repeat(scale, axis=1)
    palette = np.array(label_colormap(len(class_names)), dtype=np.uint8)
    blended = (1 - opacity) * image.astype(np.float32) + opacity * palette[labels]
    overlay = Image.fromarray(blended.round().astype(np.uint8))
    font_size = max(12, min(image.shape[0] // 24, 28))
    areas = class_areas(labels, len(class_names))
    entries, fonts = [], []
    for class_index, share in areas:
        entry = f'{class_names[class_index]}  {share:.0%}'
        font = legend_font(entry, font_size)
        if font is None:  # no font here draws the name: its index rather than boxes
            entry = f'class {class_index}  {share:.0%}'
            font = legend_font(entry, font_size) or ImageFont.load_default(size=font_size)
        entries.append(entry)
        fonts.append(font)
    swatch = font_size
    row = int(font_size * 1.5)
    text_width = max(int(font.getlength(entry)) for entry, font in zip(entries, fonts))
    legend_width = swatch + text_width + 3 * font_size // 2 + 8
    height = max(image.shape[0], row * len(entries) + 8)
    canvas = Image.new('RGB', (image.shape[1] + legend_width, height), 'white')
    canvas.paste(overlay, (0, 0))
    draw = ImageDraw.Draw(canvas)
    x = image.shape[1] + 8
    for index, ((class_index, _), entry, font) in enumerate(zip(areas, entries, fonts)):
        y = 4 + index * row
        draw.rectangle([x, y, x + swatch, y + swatch],
                       fill=tuple(int(v) for v in palette[class_index]), outline='black')
        draw.text((x + swatch + font_size // 2, y), entry, fill='black', font=font)
    return canvas
