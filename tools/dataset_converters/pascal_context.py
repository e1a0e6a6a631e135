"""Convert Pascal Context's full label maps for the Context-59, -60 and -459 benchmarks.

    python tools/dataset_converters/pascal_context.py data/VOCdevkit/VOC2010 \
        --split-file data/VOCdevkit/VOC2010/trainval_merged.json

Expects the Pascal VOC 2010 images (``VOCtrainval_03-May-2010.tar``) in ``JPEGImages`` and
Pascal Context's full annotation (``trainval.tar.gz``: ``trainval/<image id>.mat``, each with
a ``LabelMap`` of label ids 1..459 and 0 = unlabeled) extracted into the same folder. For the
validation images it writes:

- ``SegmentationClassContext/<id>.png`` (8-bit): the standard 59 classes as 1..59, the other
  classes and unlabeled pixels 0 (background). Context-60 reads it as is, Context-59 with
  ``reduce_zero_label`` (background ignored).
- ``SegmentationClassContext459/<id>.png`` (16-bit): label ids 1..459 as 0..458, unlabeled
  pixels 65535 (ignored).
- ``ImageSets/SegmentationContext/val.txt``: the image ids.

The standard validation split (5104 images) is the ``val`` phase of the Detail API's
``trainval_merged.json``; pass that file, or a text file of image ids, as ``--split-file``.
Without it, VOC 2010's ``ImageSets/Main/val.txt`` is used.
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional

import numpy as np
import scipy.io


CONTEXT_DIR = 'SegmentationClassContext'
CONTEXT459_DIR = 'SegmentationClassContext459'
SPLIT_FILE = osp.join('ImageSets', 'SegmentationContext', 'val.txt')


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='the VOC2010 folder (holds JPEGImages/); outputs go here')
    parser.add_argument('--mat-dir', help='folder of the full annotation .mat files '
                        '(default: ROOT/trainval)')
    parser.add_argument('--split-file', help="Detail API's trainval_merged.json or a text "
                        'file of validation image ids (default: ROOT/ImageSets/Main/val.txt)')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

from mmseg_clipseg.apis.cli import run_cli  # noqa: E402
from mmseg_clipseg.datasets.conversion import (apply_table, progress, read_split,
                                               require_dir, require_files, write_label_png,
                                               write_split)
from mmseg_clipseg.datasets.label_tables import context60_table, context459_table
from mmseg_clipseg.utils.errors import UserInputError


def validation_ids(split_file: str) -> List[str]:
    """Image ids of the validation split, from the Detail API json or a list of ids."""
    if not split_file.endswith('.json'):
        return read_split(split_file)
    require_files([split_file], 'split file')
    with open(split_file, encoding='utf-8') as handle:
        images = json.load(handle).get('images')
    if not isinstance(images, list) or not all(
            isinstance(image, dict) and 'file_name' in image for image in images):
        raise UserInputError(f'{split_file!r} has no "images" list with file names; pass the '
                             "Detail API's trainval_merged.json or a text file of image ids.")
    return sorted(osp.splitext(image['file_name'])[0] for image in images
                  if image.get('phase') == 'val')


def read_label_map(path: str) -> np.ndarray:
    """The ``LabelMap`` array (H, W) of a Pascal Context ``.mat`` file."""
    try:
        label_map = scipy.io.loadmat(path).get('LabelMap')
    except (OSError, ValueError) as error:
        raise UserInputError(f'Cannot read {path!r}: {error}') from error
    if label_map is None or label_map.ndim != 2:
        raise UserInputError(f'{path!r} has no 2-D LabelMap; is it a Pascal Context full '
                             'annotation (trainval.tar.gz)?')
    return label_map.astype(np.int64)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    root = require_dir(args.root, 'the VOC2010 folder of the extracted Pascal VOC 2010 tar')
    require_dir(osp.join(root, 'JPEGImages'), 'a JPEGImages folder in the VOC2010 folder')
    mat_dir = require_dir(args.mat_dir or osp.join(root, 'trainval'),
                          "the .mat files of Pascal Context's trainval.tar.gz")
    split_file = args.split_file or osp.join(root, 'ImageSets', 'Main', 'val.txt')
    if args.split_file is None:
        print(f'No --split-file: using {split_file}; the standard split is the val phase of '
              'the Detail API trainval_merged.json (5104 images).')
    ids = validation_ids(split_file)
    require_files([osp.join(root, 'JPEGImages', f'{i}.jpg') for i in ids], 'val images')
    require_files([osp.join(mat_dir, f'{i}.mat') for i in ids], 'val .mat label maps')
    to_context60, to_context459 = context60_table(), context459_table()
    for image_id in progress(ids):
        source = osp.join(mat_dir, f'{image_id}.mat')
        label_map = read_label_map(source)
        write_label_png(osp.join(root, CONTEXT_DIR, f'{image_id}.png'),
                        apply_table(label_map, to_context60, source))
        write_label_png(osp.join(root, CONTEXT459_DIR, f'{image_id}.png'),
                        apply_table(label_map, to_context459, source))
    write_split(osp.join(root, SPLIT_FILE), ids)
    print(f'\nwrote {len(ids)} label maps to {CONTEXT_DIR}/ and {CONTEXT459_DIR}/, and '
          f'{SPLIT_FILE}, under {root}')


if __name__ == '__main__':
    sys.exit(run_cli(main))
