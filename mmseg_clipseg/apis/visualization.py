"""Colour a label map over its image, with a legend of the classes it shows.

Drawn here rather than by ``mmseg.visualization.SegLocalVisualizer``, whose overlay darkens
pixels without a class (ignore_index) and names classes inside the picture in OpenCV's
Hershey font (ASCII only, unreadably small on small images), with no legend of the classes'
shares. :class:`~mmseg_clipseg.engine.SideBySideVisualizer` puts these pictures in its place.
"""
import functools
from typing import List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..datasets.palette import palette_for


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


def _enlarged(array: np.ndarray, min_height: int) -> np.ndarray:
    """``array`` (H, W, ...) enlarged by the smallest integer factor (nearest neighbour)
    that makes it at least ``min_height`` tall."""
    scale = -(-min_height // array.shape[0])
    return array.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else array


def _blend(image: np.ndarray, labels: np.ndarray, palette: np.ndarray,
           opacity: float) -> np.ndarray:
    """Label colours over ``image``; pixels without a class (e.g. ignore_index 255) keep
    the image."""
    valid = labels < len(palette)
    colours = palette[np.where(valid, labels, 0)].astype(np.float32)
    blended = (1 - opacity) * image.astype(np.float32) + opacity * colours
    return np.where(valid[..., None], blended, image).round().astype(np.uint8)


def _font_size(height: int) -> int:
    return max(12, min(height // 24, 28))


def _legend_entries(areas: Sequence[Tuple[int, float]], class_names: Sequence[str],
                    font_size: int) -> List[Tuple[str, ImageFont.FreeTypeFont]]:
    entries = []
    for class_index, share in areas:
        entry = f'{class_names[class_index]}  {share:.0%}'
        font = legend_font(entry, font_size)
        if font is None:  # no font here draws the name: its index rather than boxes
            entry = f'class {class_index}  {share:.0%}'
            font = legend_font(entry, font_size) or ImageFont.load_default(size=font_size)
        entries.append((entry, font))
    return entries


def render_panels(image: np.ndarray, label_maps: Sequence[Tuple[str, np.ndarray]],
                  class_names: Sequence[str], palette: Optional[Sequence] = None,
                  opacity: float = 0.55, min_height: int = 256) -> Image.Image:
    """The image, then each label map coloured over it, side by side under their titles,
    with a legend of the classes of the last map (e.g. the prediction) on the right.

    Args:
        image: RGB image, (H, W, 3) uint8.
        label_maps: (title, class indices (H, W)) pairs, e.g. ground truth and prediction;
            values outside ``[0, len(class_names))`` are left uncoloured.
        class_names: Name of each class index.
        palette: A colour per class (default: :func:`palette_for` of ``class_names``).
        opacity: Weight of the label colours in the blend.
        min_height: Smaller images are enlarged by an integer factor (nearest neighbour)
            so that their titles and legend stay readable.

    Returns:
        PIL.Image.Image: RGB, (title + s*H, (1 + len(label_maps)) * s*W + legend) with s the
        enlargement factor.
    """
    image = _enlarged(image, min_height)
    colours = np.array(palette or palette_for(class_names), dtype=np.uint8)
    font_size = _font_size(image.shape[0])
    title_font = legend_font('image', font_size) or ImageFont.load_default(size=font_size)
    panels = [('image', image)] + [
        (title, _blend(image, _enlarged(labels, min_height), colours, opacity))
        for title, labels in label_maps]
    top = int(font_size * 1.6)
    width = image.shape[1] * len(panels)
    canvas = Image.new('RGB', (width, top + image.shape[0]), 'white')
    draw = ImageDraw.Draw(canvas)
    for index, (title, panel) in enumerate(panels):
        canvas.paste(Image.fromarray(panel), (index * image.shape[1], top))
        draw.text((index * image.shape[1] + 4, 2), title, fill='black',
                  font=legend_font(title, font_size) or title_font)
    return _with_legend(canvas, _enlarged(label_maps[-1][1], min_height), class_names,
                        colours, font_size, top)


def render_overlay(image: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                   opacity: float = 0.55, min_height: int = 256,
                   palette: Optional[Sequence] = None) -> Image.Image:
    """The image with coloured labels blended over it and a legend on the right.

    Args:
        image: RGB image, (H, W, 3) uint8.
        labels: Class indices, (H, W), values in ``[0, len(class_names))``.
        class_names: Name of each class index.
        opacity: Weight of the label colours in the blend.
        min_height: Smaller images are enlarged by an integer factor (nearest neighbour) so
            that they are at least this tall and their labels stay readable.
        palette: A colour per class (default: :func:`palette_for` of ``class_names``, the
            colours ``tools/test.py --show-dir`` gives the same vocabulary).

    Returns:
        PIL.Image.Image: RGB, (s*H, s*W + legend width) with s the enlargement factor.
    """
    image, labels = _enlarged(image, min_height), _enlarged(labels, min_height)
    colours = np.array(palette or palette_for(class_names), dtype=np.uint8)
    overlay = Image.fromarray(_blend(image, labels, colours, opacity))
    return _with_legend(overlay, labels, class_names, colours, _font_size(image.shape[0]))


def _with_legend(picture: Image.Image, labels: np.ndarray, class_names: Sequence[str],
                 colours: np.ndarray, font_size: int, top: int = 0) -> Image.Image:
    """``picture`` with a legend on its right: a swatch, name and share of each class
    present in ``labels``, largest first, from ``top`` down."""
    areas = class_areas(labels, len(class_names))
    entries = _legend_entries(areas, class_names, font_size)
    swatch, row = font_size, int(font_size * 1.5)
    text_width = max((int(font.getlength(entry)) for entry, font in entries), default=0)
    legend_width = swatch + text_width + 3 * font_size // 2 + 8
    height = max(picture.height, top + row * len(entries) + 8)
    canvas = Image.new('RGB', (picture.width + legend_width, height), 'white')
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    x = picture.width + 8
    for index, ((class_index, _), (entry, font)) in enumerate(zip(areas, entries)):
        y = top + 4 + index * row
        draw.rectangle([x, y, x + swatch, y + swatch],
                       fill=tuple(int(v) for v in colours[class_index]), outline='black')
        draw.text((x + swatch + font_size // 2, y), entry, fill='black', font=font)
    return canvas
