"""Convert the full ADE20K release to the ADE20K-847 benchmark.

    python tools/dataset_converters/ade20k_full.py data/ADE20K_2021_17_01 \
        --out-dir data/ade/ADE20K_847

Reads the validation images of the official ``ADE20K_2021_17_01.zip``
(``images/ADE/validation/**/ADE_val_*.jpg``, each with its ``*_seg.png``, whose pixels encode
the object class as ``R // 10 * 256 + G``) and writes

- ``OUT/images/validation/ADE_val_*.jpg``, and
- ``OUT/annotations/validation/ADE_val_*.png``: 16-bit, the 847 classes as 0..846 and every
  other pixel (unlabeled or a rarer class) 65535, ignored.

As in the ADE20K-847 preparation of MaskFormer, which SAN, CAT-Seg and ODISE evaluate on,
images and labels whose short side exceeds 512 pixels are resized to a short side of 512
(bilinear for images, nearest for labels); ``--max-short-side 0`` keeps the full size.
"""
import argparse
import os
import os.path as osp
import shutil
import sys
from typing import List, Optional, Tuple

import cv2
import numpy as np
from PIL import Image


SEG_SUFFIX = '_seg.png'
JPEG_QUALITY = 95


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='the extracted ADE20K_2021_17_01 folder')
    parser.add_argument('--out-dir', required=True, help='output folder (the data root)')
    parser.add_argument('--max-short-side', type=int, default=512,
                        help='resize larger images to this short side; 0 keeps the size '
                        '(default: 512, as the published ADE20K-847 numbers)')
    args = parser.parse_args(argv)
    if args.max_short_side < 0:
        parser.error('--max-short-side must be 0 (no resizing) or positive')
    return args


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

from mmseg_clipseg.apis.cli import run_cli  # noqa: E402
from mmseg_clipseg.datasets.conversion import (list_files, progress, require_dir,
                                               require_files, write_label_png)
from mmseg_clipseg.datasets.label_tables import ade20k_full_class_index, ade847_table
from mmseg_clipseg.utils.errors import UserInputError


def target_size(height: int, width: int, max_short_side: int) -> Optional[Tuple[int, int]]:
    """(width, height) after resizing, or None if the image keeps its size."""
    short_side = min(height, width)
    if max_short_side == 0 or short_side <= max_short_side:
        return None
    scale = max_short_side / short_side
    return (max_short_side if width == short_side else round(width * scale),
            max_short_side if height == short_side else round(height * scale))


def read_seg(path: str) -> np.ndarray:
    """An ADE20K-full ``*_seg.png`` as an (H, W, 3) uint8 RGB array."""
    try:
        with Image.open(path) as image:
            return np.array(image.convert('RGB'))
    except OSError as error:
        raise UserInputError(f'Cannot read {path!r}: {error}') from error


def convert_image(image_path: str, seg_path: str, out_image: str, out_label: str,
                  max_short_side: int, table: np.ndarray) -> None:
    """Write one image and its 847-class label map, resized if it is too large."""
    labels = table[ade20k_full_class_index(read_seg(seg_path))]
    size = target_size(*labels.shape, max_short_side)
    with Image.open(image_path) as image:
        if image.size != labels.shape[::-1]:
            raise UserInputError(f'{image_path!r} and {seg_path!r} differ in size.')
        if size is not None:
            rgb = cv2.resize(np.array(image.convert('RGB')), size,
                             interpolation=cv2.INTER_LINEAR)
    if size is None:
        shutil.copyfile(image_path, out_image)
    else:
        Image.fromarray(rgb).save(out_image, quality=JPEG_QUALITY)
        labels = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
    write_label_png(out_label, labels)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    val_dir = require_dir(osp.join(args.root, 'images', 'ADE', 'validation'),
                          'images/ADE/validation in the extracted ADE20K_2021_17_01 folder')
    images = [name for name in list_files(val_dir, '.jpg')
              if osp.basename(name).startswith('ADE_val_')]
    if not images:
        raise UserInputError(f'{val_dir!r} holds no ADE_val_*.jpg images.')
    require_files([osp.join(val_dir, name[:-len('.jpg')] + SEG_SUFFIX) for name in images],
                  f'*{SEG_SUFFIX} class maps')
    out_images = osp.join(args.out_dir, 'images', 'validation')
    out_labels = osp.join(args.out_dir, 'annotations', 'validation')
    names = [osp.basename(name)[:-len('.jpg')] for name in images]
    if len(set(names)) != len(names):
        raise UserInputError(f'{val_dir!r} holds two images of the same name.')
    for folder in (out_images, out_labels):
        os.makedirs(folder, exist_ok=True)
    table = ade847_table()
    for name, stem in progress(list(zip(images, names))):
        source = osp.join(val_dir, name)
        convert_image(source, source[:-len('.jpg')] + SEG_SUFFIX,
                      osp.join(out_images, f'{stem}.jpg'), osp.join(out_labels, f'{stem}.png'),
                      args.max_short_side, table)
    print(f'\nwrote {len(images)} images and 16-bit label maps under {args.out_dir}')


if __name__ == '__main__':
    sys.exit(run_cli(main))
