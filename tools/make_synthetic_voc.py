"""Write a small synthetic dataset in Pascal VOC 2012's layout, for offline smoke runs.

    python tools/make_synthetic_voc.py data/synthetic_voc --num-images 4

Images are random coloured shapes on a textured background; labels follow VOC's
conventions (``SegmentationClass/*.png``: 0 = background, 1..20 the classes, 255 = boundary),
so ``configs/clipseg_*_voc20.py`` evaluate it with ``--data-root``.

The output folder must be new or empty (a real VOC folder is never written into); a marker
file records that this tool wrote it, and ``--overwrite`` replaces only such a folder, as
``tools/make_synthetic_scenes.py`` does.
"""
import argparse
import sys
from typing import List, Optional

import numpy as np


TOOL = 'make_synthetic_voc'
SIZE = (360, 480)


def draw_scene(rng: np.random.Generator, height: int, width: int):
    """One image (H, W, 3) uint8 and its VOC label map (H, W) uint8."""
    image = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    labels = np.zeros((height, width), dtype=np.uint8)
    rows, cols = np.mgrid[0:height, 0:width]
    for _ in range(int(rng.integers(1, 4))):
        class_id = int(rng.integers(1, 21))
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        radius = int(rng.integers(min(height, width) // 8, min(height, width) // 3))
        distance = np.hypot(rows - cy, cols - cx)
        image[distance < radius] = rng.integers(60, 256, size=3, dtype=np.uint8)
        labels[distance < radius] = class_id
        labels[np.abs(distance - radius) < 1.0] = 255  # VOC marks object boundaries
    return image, labels


def write_voc(root: str, num_images: int, seed: int = 0, size: tuple = SIZE,
              overwrite: bool = False) -> None:
    """Write ``num_images`` scenes under ``root`` in VOC 2012's folder layout.

    Raises:
        UserInputError: Bad settings, or ``root`` is not a folder this tool may write.
    """
    check_whole_numbers(num_images, seed=seed)
    if seed < 0:
        raise UserInputError(f'--seed must be 0 or more; got {seed}.')
    settings = dict(tool=TOOL, num_images=int(num_images), seed=int(seed),
                    size=[int(side) for side in size])
    rng = np.random.default_rng(seed)
    write_dataset(root, settings, LAYOUT,
                  ((*draw_scene(rng, *size), '') for _ in range(num_images)), overwrite)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='output folder (a VOC2012-like root): new or empty')
    parser.add_argument('--num-images', type=int, default=4, help='at least 1 (default 4)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a dataset this tool wrote earlier into ROOT')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

from mmseg_clipseg.apis.cli import run_cli  # noqa: E402
from mmseg_clipseg.apis.synthetic_datasets import (DatasetLayout, check_whole_numbers,
                                                   write_dataset)
from mmseg_clipseg.utils.errors import UserInputError

LAYOUT = DatasetLayout(name='2007_{index:06d}', image='JPEGImages/{name}.jpg',
                       label='SegmentationClass/{name}.png',
                       list_file='ImageSets/Segmentation/val.txt')


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    write_voc(args.root, args.num_images, args.seed, overwrite=args.overwrite)
    print(f'wrote {args.num_images} images to {args.root}')


if __name__ == '__main__':
    sys.exit(run_cli(main))
