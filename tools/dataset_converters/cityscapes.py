"""Convert Cityscapes' fine label ids to the 19 train ids of the Cityscapes benchmark.

    python tools/dataset_converters/cityscapes.py data/cityscapes

Reads ``gtFine/val/<city>/*_gtFine_labelIds.png`` of the official ``gtFine_trainvaltest.zip``
(with ``leftImg8bit_trainvaltest.zip`` extracted beside it) and writes
``*_gtFine_labelTrainIds.png`` next to each: the 19 evaluated classes become 0..18 and every
other label 255 (ignored), the convention of cityscapesScripts and mmseg.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional


SOURCE_SUFFIX = '_gtFine_labelIds.png'
TARGET_SUFFIX = '_gtFine_labelTrainIds.png'


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='Cityscapes folder holding leftImg8bit/ and gtFine/')
    parser.add_argument('--split', default='val', choices=['train', 'val', 'test'],
                        help='split to convert (default: val, the benchmark)')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

from mmseg_clipseg.apis.cli import run_cli  # noqa: E402
from mmseg_clipseg.datasets.conversion import list_files, remap_beside_sources, require_dir
from mmseg_clipseg.datasets.label_tables import cityscapes_table


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    require_dir(osp.join(args.root, 'leftImg8bit', args.split),
                f'leftImg8bit/{args.split} (from leftImg8bit_trainvaltest.zip) in the '
                'Cityscapes folder')
    label_dir = require_dir(osp.join(args.root, 'gtFine', args.split),
                            f'gtFine/{args.split} (from gtFine_trainvaltest.zip) in the '
                            'Cityscapes folder')
    remap_beside_sources(label_dir, list_files(label_dir, SOURCE_SUFFIX), SOURCE_SUFFIX,
                         TARGET_SUFFIX, cityscapes_table())


if __name__ == '__main__':
    sys.exit(run_cli(main))
