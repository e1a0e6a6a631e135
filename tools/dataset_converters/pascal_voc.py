"""Check a Pascal VOC 2012 folder for the VOC20 and VOC21 benchmarks.

    python tools/dataset_converters/pascal_voc.py data/VOCdevkit/VOC2012

The official release (``VOCtrainval_11-May-2012.tar``) is already in the layout the configs
read; there is nothing to convert. This checks that every image of the validation split has
its label map and that the labels are VOC's (0 = background, 1..20, 255 = boundary).
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional


NUM_CLASSES = 20
VAL_IMAGES = 1449


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='the VOC2012 folder of the extracted VOCdevkit')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

from mmseg_clipseg.apis.cli import run_cli  # noqa: E402
from mmseg_clipseg.datasets.conversion import check_release, read_split, require_dir


def main(argv: Optional[List[str]] = None) -> None:
    root = parse_args(argv).root
    require_dir(root, 'the VOCdevkit/VOC2012 folder of the extracted Pascal VOC 2012 tar')
    for folder in ('JPEGImages', 'SegmentationClass'):
        require_dir(osp.join(root, folder), f'a {folder} folder in the VOC2012 folder')
    ids = read_split(osp.join(root, 'ImageSets', 'Segmentation', 'val.txt'))
    check_release(root, [osp.join(root, 'JPEGImages', f'{i}.jpg') for i in ids],
                  [osp.join(root, 'SegmentationClass', f'{i}.png') for i in ids],
                  [*range(NUM_CLASSES + 1), 255], 'val', VAL_IMAGES, 'voc20 and voc21')


if __name__ == '__main__':
    sys.exit(run_cli(main))
