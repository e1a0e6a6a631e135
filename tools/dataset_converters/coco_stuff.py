"""Convert COCO-Stuff-164k label maps to the 171 train ids of the COCO-Stuff benchmark.

    python tools/dataset_converters/coco_stuff.py data/coco_stuff164k

Expects the COCO 2017 images in ``images/val2017`` and the official
``stuffthingmaps_trainval2017.zip`` extracted into ``annotations`` (``annotations/val2017/
<image id>.png``, COCO category id - 1 per pixel, 255 = unlabeled). Writes
``<image id>_labelTrainIds.png`` next to each map: the 80 things and 91 stuff classes become
0..170 in id order (mmseg's ``COCOStuffDataset`` classes), every other value 255.
"""
import argparse
import sys
from typing import List, Optional


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='COCO-Stuff folder holding images/ and annotations/')
    parser.add_argument('--split', default='val2017', choices=['train2017', 'val2017'],
                        help='split to convert (default: val2017, the benchmark)')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

from mmseg_clipseg.apis.cli import run_cli  # noqa: E402
from mmseg_clipseg.datasets.conversion import convert_coco_labels
from mmseg_clipseg.datasets.label_tables import coco_stuff_table


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    convert_coco_labels(args.root, args.split, coco_stuff_table(), '_labelTrainIds.png')


if __name__ == '__main__':
    sys.exit(run_cli(main))
