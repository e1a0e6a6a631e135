"""Check an ADEChallengeData2016 folder for the ADE20K-150 benchmark.

    python tools/dataset_converters/ade20k.py data/ade/ADEChallengeData2016

The official release (``ADEChallengeData2016.zip``) is already in the layout the configs
read; there is nothing to convert. This checks that every validation image has its label map
and that the labels are 0 (other, ignored) .. 150.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional


NUM_CLASSES = 150
VAL_IMAGES = 2000


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='the extracted ADEChallengeData2016 folder')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

from mmseg_clipseg.apis.cli import run_cli  # noqa: E402
from mmseg_clipseg.datasets.conversion import check_release, list_files, require_dir


def main(argv: Optional[List[str]] = None) -> None:
    root = parse_args(argv).root
    image_dir = require_dir(osp.join(root, 'images', 'validation'),
                            'images/validation in the extracted ADEChallengeData2016 folder')
    label_dir = require_dir(osp.join(root, 'annotations', 'validation'),
                            'annotations/validation in the ADEChallengeData2016 folder')
    images = list_files(image_dir, '.jpg')
    check_release(root, [osp.join(image_dir, name) for name in images],
                  [osp.join(label_dir, name[:-len('.jpg')] + '.png') for name in images],
                  range(NUM_CLASSES + 1), 'validation', VAL_IMAGES, 'ade150')


if __name__ == '__main__':
    sys.exit(run_cli(main))
