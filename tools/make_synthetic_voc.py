"""Write a small synthetic dataset in Pascal VOC 2012's layout, for offline smoke runs.

    python tools/make_synthetic_voc.py data/synthetic_voc --num-images 4

Images are random coloured shapes on a textured background; labels follow VOC's
conventions (``SegmentationClass/*.png``: 0 = background, 1..20 the classes, 255 = boundary),
so ``configs/clipseg_*_voc20.py`` evaluate it with ``--data-root``.
"""
import argparse
import os
import os.path as osp

import numpy as np
from PIL import Image


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


def write_voc(root: str, num_images: int, seed: int = 0,
              size: tuple = (360, 480)) -> None:
    """Write ``num_images`` scenes under ``root`` in VOC 2012's folder layout."""
    rng = np.random.default_rng(seed)
    for folder in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, folder), exist_ok=True)
    names = []
    for index in range(num_images):
        name = f'2007_{index:06d}'
        image, labels = draw_scene(rng, *size)
        Image.fromarray(image).save(osp.join(root, 'JPEGImages', f'{name}.jpg'), quality=95)
        Image.fromarray(labels).save(osp.join(root, 'SegmentationClass', f'{name}.png'))
        names.append(name)
    with open(osp.join(root, 'ImageSets/Segmentation/val.txt'), 'w') as handle:
        handle.write('\n'.join(names) + '\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='output folder (a VOC2012-like root)')
    parser.add_argument('--num-images', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    if args.num_images < 1:
        parser.error('--num-images must be at least 1')
    write_voc(args.root, args.num_images, args.seed)
    print(f'wrote {args.num_images} images to {args.root}')


if __name__ == '__main__':
    main()
