"""Derive the COCO-Object benchmark's label maps from COCO-Stuff-164k's.

    python tools/dataset_converters/coco_object.py data/coco_stuff164k

Same input as ``coco_stuff.py``: the COCO 2017 images in ``images/val2017`` and the
official ``stuffthingmaps_trainval2017.zip`` extracted into ``annotations``. Writes
``<image id>_instanceTrainIds.png`` next to each map: the 80 COCO thing classes become 1..80
in id order, every stuff class 0 (background), unlabeled pixels stay 255 (ignored).
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
from mmseg_clipseg.datasets.label_tables import coco_object_table


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    convert_coco_labels(args.root, args.split, coco_object_table(), '_instanceTrainIds.png')


if __name__ == '__main__':
    sys.exit(run_cli(main))
