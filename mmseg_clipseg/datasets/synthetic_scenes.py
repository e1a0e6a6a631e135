"""Procedural scenes for training and evaluating a tiny CLIP offline.

A scene is a small RGB image whose background ("stuff") is split into a few regions, each
filled with one texture (grass, water, sand, rock), with 1-3 solid coloured shapes (circle,
square, triangle) on top. Every scene comes with its label map (one class index per pixel)
and a caption that names what is visible, e.g. ``'a photo of a red circle on grass and
water.'``. The same generator feeds ``tools/train_tiny_clip.py`` (captions) and
``tools/make_synthetic_scenes.py`` (held-out images and label maps); everything is a function
of a ``numpy.random.Generator``, so a seed fixes the scenes exactly.
"""
import dataclasses
from typing import List, Optional, Sequence, Tuple

import numpy as np

STUFF_CLASSES: Tuple[str, ...] = ('grass', 'water', 'sand', 'rock')
SHAPE_CLASSES: Tuple[str, ...] = ('circle', 'square', 'triangle')
# Class index = position in CLASSES; label maps use these indices (no background class).
CLASSES: Tuple[str, ...] = STUFF_CLASSES + SHAPE_CLASSES
PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (60, 160, 60), (40, 90, 200), (220, 200, 140), (120, 120, 120),
    (230, 40, 40), (240, 220, 40), (200, 60, 210))
# Shape fill colours, chosen away from the texture colours.
SHAPE_COLOURS = {
    'red': (220, 35, 35),
    'yellow': (240, 215, 30),
    'magenta': (215, 45, 200),
    'orange': (245, 135, 25),
    'purple': (115, 45, 170),
    'white': (245, 245, 245),
}
_CAPTION_TEMPLATES = (
    'a photo of {shapes} on {stuff}.',
    '{shapes} on {stuff}.',
    'a picture of {stuff} with {shapes}.',
    '{stuff} and {shapes}.',
)


@dataclasses.dataclass
class Scene:
    """One generated scene.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        label: (H, W) uint8 class indices into :data:`CLASSES`.
        stuff: Names of the textures visible in the image, in caption order.
        shapes: (shape name, colour name) of each shape, in caption order.
        caption: A sentence naming every visible stuff class and every shape.
    """
    image: np.ndarray
    label: np.ndarray
    stuff: List[str]
    shapes: List[Tuple[str, str]]
    caption: str

    @property
    def class_indices(self) -> List[int]:
        """Indices of the classes named by the caption, sorted."""
        names = set(self.stuff) | {shape for shape, _ in self.shapes}
        return sorted(CLASSES.index(name) for name in names)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Value noise in [0, 1): a random grid of ``cell``-pixel spacing, bilinearly upsampled."""
    grid = rng.random((height // cell + 2, width // cell + 2))
    ys = np.arange(height) / cell
    xs = np.arange(width) / cell
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _texture(name: str, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A full-canvas texture, float RGB in [0, 255], shape (H, W, 3)."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    jitter = rng.uniform(0.85, 1.15)  # per-image brightness
    if name == 'grass':
        # Vertical blades: per-column brightness streaks with short vertical variation.
        blades = rng.random(width)[None, :] * 0.6 + 0.2 * _smooth_noise(rng, height, width, 3)
        base = np.array([50.0, 140.0, 45.0])
        light = 0.6 + 0.8 * blades
        image = base[None, None, :] * light[..., None]
    elif name == 'water':
        # Horizontal waves of random phase and frequency.
        freq = rng.uniform(0.5, 0.9)
        phase = rng.uniform(0, 2 * np.pi)
        wobble = 2.0 * np.sin(cols * rng.uniform(0.1, 0.25) + rng.uniform(0, 2 * np.pi))
        waves = 0.5 + 0.5 * np.sin((rows + wobble) * freq + phase)
        base = np.array([35.0, 85.0, 195.0])
        image = base[None, None, :] * (0.75 + 0.4 * waves)[..., None]
        image[..., :2] += 40.0 * (waves[..., None] > 0.92)  # white crests
    elif name == 'sand':
        # Fine speckle on a smooth beige.
        speckle = rng.random((height, width))
        base = np.array([215.0, 190.0, 135.0])
        image = base[None, None, :] * (0.85 + 0.1 * _smooth_noise(rng, height, width, 8)
                                       + 0.15 * speckle)[..., None]
    elif name == 'rock':
        # Grey blotches with dark cracks.
        blotch = _smooth_noise(rng, height, width, 6)
        cracks = np.abs(_smooth_noise(rng, height, width, 5) - 0.5) < 0.04
        base = np.array([125.0, 120.0, 115.0])
        image = base[None, None, :] * (0.6 + 0.7 * blotch)[..., None]
        image[cracks] *= 0.35
    else:
        raise ValueError(f'unknown texture {name!r}')
    return np.clip(image * jitter, 0, 255)


def _shape_mask(shape: str, rows: np.ndarray, cols: np.ndarray, cy: float, cx: float,
                size: float, angle: float) -> np.ndarray:
    """Pixels inside a shape of diameter ``size`` centred at (cy, cx), rotated by ``angle``."""
    dy, dx = rows - cy, cols - cx
    if shape == 'circle':
        return dy * dy + dx * dx <= (size / 2) ** 2
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy
    if shape == 'square':
        half = size / 2 * 0.85  # about the circle's area
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    if shape == 'triangle':
        # Equilateral, circumradius size/2 * 1.1, one vertex pointing along -v.
        radius = size / 2 * 1.1
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):
            theta = -np.pi / 2 + k * 2 * np.pi / 3 + np.pi / 3  # outward normals of edges
            inside &= (u * np.cos(theta) + v * np.sin(theta)) <= radius / 2
        return inside
    raise ValueError(f'unknown shape {shape!r}')


def _join(phrases: Sequence[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return ', '.join(phrases[:-1]) + ' and ' + phrases[-1]


class SceneGenerator:
    """Draw scenes from a ``numpy.random.Generator``.

    Args:
        size: Image side in pixels (square images).
        max_stuff: Most texture regions per image (1..max_stuff, distinct textures).
        min_shapes, max_shapes: Range of the number of shapes per image.
        shape_size: Range of the shape diameter in pixels.
        colour_in_caption: Probability that a shape's colour is named in the caption.
        partial_caption: Probability that a caption names only the stuff or only the shapes
            (half each), like a one-concept prompt ``'a photo of water.'``. At 0 no random
            number is drawn for it, so the scenes of a seed do not depend on this setting
            being present.
    """

    def __init__(self, size: int = 64, max_stuff: int = 3, min_shapes: int = 1,
                 max_shapes: int = 3, shape_size: Tuple[int, int] = (18, 34),
                 colour_in_caption: float = 0.0, partial_caption: float = 0.0) -> None:
        if not 1 <= max_stuff <= len(STUFF_CLASSES):
            raise ValueError(f'max_stuff must be in 1..{len(STUFF_CLASSES)}')
        if not 0 <= min_shapes <= max_shapes:
            raise ValueError('need 0 <= min_shapes <= max_shapes')
        self.size = size
        self.max_stuff = max_stuff
        self.min_shapes = min_shapes
        self.max_shapes = max_shapes
        self.shape_size = shape_size
        self.colour_in_caption = colour_in_caption
        self.partial_caption = partial_caption
        self._rows, self._cols = np.mgrid[0:size, 0:size].astype(np.float64)

    def _stuff_layout(self, rng: np.random.Generator, num_regions: int) -> np.ndarray:
        """Region index per pixel: a Voronoi partition with wavy borders."""
        size = self.size
        if num_regions == 1:
            return np.zeros((size, size), dtype=np.int64)
        # Region seeds at least size/3 apart, so that every region is sizeable.
        for _ in range(100):
            seeds = rng.uniform(0, size, size=(num_regions, 2))
            gaps = np.linalg.norm(seeds[:, None] - seeds[None], axis=-1)
            if gaps[np.triu_indices(num_regions, 1)].min() >= size / 3:
                break
        amplitude = rng.uniform(1.0, 4.0)
        warp_r = self._rows + amplitude * np.sin(self._cols * rng.uniform(0.1, 0.3)
                                                 + rng.uniform(0, 2 * np.pi))
        warp_c = self._cols + amplitude * np.sin(self._rows * rng.uniform(0.1, 0.3)
                                                 + rng.uniform(0, 2 * np.pi))
        distance = ((warp_r[None] - seeds[:, 0, None, None]) ** 2
                    + (warp_c[None] - seeds[:, 1, None, None]) ** 2)
        return distance.argmin(axis=0)

    def sample(self, rng: np.random.Generator,
               shape_map: Optional[Sequence[int]] = None) -> Scene:
        """One scene. ``shape_map`` (a permutation of the shape indices) replaces every
        drawn shape class ``i`` by ``shape_map[i]`` without changing what else is drawn, so
        two calls with equal generator states give twin scenes that differ in their shapes.
        """
        size = self.size
        num_stuff = int(rng.integers(1, self.max_stuff + 1))
        stuff = [STUFF_CLASSES[i] for i in rng.permutation(len(STUFF_CLASSES))[:num_stuff]]
        regions = self._stuff_layout(rng, num_stuff)
        image = np.zeros((size, size, 3))
        label = np.zeros((size, size), dtype=np.uint8)
        for region, name in enumerate(stuff):
            inside = regions == region
            image[inside] = _texture(name, rng, size, size)[inside]
            label[inside] = CLASSES.index(name)

        # Shapes: non-overlapping (rejection sampling), fully inside the image.
        shapes: List[Tuple[str, str]] = []
        occupied = np.zeros((size, size), dtype=bool)
        num_shapes = int(rng.integers(self.min_shapes, self.max_shapes + 1))
        colour_names = list(SHAPE_COLOURS)
        for _ in range(num_shapes):
            shape_index = int(rng.integers(len(SHAPE_CLASSES)))
            if shape_map is not None:
                shape_index = int(shape_map[shape_index])
            shape = SHAPE_CLASSES[shape_index]
            colour = colour_names[int(rng.integers(len(colour_names)))]
            for _attempt in range(20):
                diameter = rng.uniform(*self.shape_size)
                margin = diameter / 2 + 1
                cy, cx = rng.uniform(margin, size - margin, size=2)
                mask = _shape_mask(shape, self._rows, self._cols, cy, cx, diameter,
                                   rng.uniform(0, 2 * np.pi))
                if not (mask & occupied).any():
                    break
            else:
                continue  # no room left for this shape
            occupied |= mask
            fill = np.array(SHAPE_COLOURS[colour], dtype=np.float64)
            shade = 1.0 + 0.06 * rng.standard_normal((size, size, 1))
            image[mask] = np.clip(fill * rng.uniform(0.85, 1.1) * shade, 0, 255)[mask]
            label[mask] = CLASSES.index(shape)
            shapes.append((shape, colour))

        # Name only what is still visible after the shapes were drawn.
        stuff = [name for name in stuff if (label == CLASSES.index(name)).any()]
        caption = self.caption(rng, stuff, shapes)
        return Scene(image=np.round(image).astype(np.uint8), label=label, stuff=stuff,
                     shapes=shapes, caption=caption)

    def caption(self, rng: np.random.Generator, stuff: Sequence[str],
                shapes: Sequence[Tuple[str, str]]) -> str:
        """A sentence naming the stuff and the shapes, in random order and wording."""
        stuff = [stuff[i] for i in rng.permutation(len(stuff))]
        phrases = []
        for index in rng.permutation(len(shapes)):
            shape, colour = shapes[index]
            named_colour = rng.random() < self.colour_in_caption
            article = 'an' if named_colour and colour[0] in 'aeiou' else 'a'
            phrases.append(f'{article} {colour} {shape}' if named_colour else f'a {shape}')
        if not phrases:
            return f'a photo of {_join(stuff)}.'
        if self.partial_caption > 0 and rng.random() < self.partial_caption:
            return f'a photo of {_join(stuff if rng.random() < 0.5 else phrases)}.'
        template = _CAPTION_TEMPLATES[int(rng.integers(len(_CAPTION_TEMPLATES)))]
        return template.format(shapes=_join(phrases), stuff=_join(stuff))

    def batch(self, rng: np.random.Generator, count: int,
              twin_fraction: float = 0.0) -> List[Scene]:
        """``count`` scenes; ``twin_fraction`` of them come as twin pairs: the same stuff,
        layout, shape positions, colours and wording, but every shape replaced by another
        shape class (hard negatives for contrastive training: only the shapes tell the two
        captions apart)."""
        num_pairs = int(round(count * twin_fraction)) // 2
        scenes = []
        for _ in range(num_pairs):
            seed = int(rng.integers(2 ** 63))
            shift = int(rng.integers(1, len(SHAPE_CLASSES)))  # a cyclic derangement
            shape_map = [(i + shift) % len(SHAPE_CLASSES) for i in range(len(SHAPE_CLASSES))]
            scenes.append(self.sample(np.random.default_rng(seed)))
            scenes.append(self.sample(np.random.default_rng(seed), shape_map=shape_map))
        scenes.extend(self.sample(rng) for _ in range(count - 2 * num_pairs))
        return scenes


def generate_scenes(num_images: int, seed: int, generator: Optional[SceneGenerator] = None
                    ) -> List[Scene]:
    """``num_images`` scenes, a function of ``seed`` only."""
    generator = generator or SceneGenerator()
    rng = np.random.default_rng(seed)
    return generator.batch(rng, num_images)
