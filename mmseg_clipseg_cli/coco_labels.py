"""The command of both COCO converters (``tools/dataset_converters/coco_stuff.py`` and
``coco_object.py``): the same arguments and steps, each with its own label table."""
import argparse
from typing import List, Optional

from . import Command


def coco_labels_command(description: str, table: str, target_suffix: str) -> Command:
    """The command that remaps COCO-Stuff-164k's label maps of a split through a table.

    Args:
        description: What the tool does, for ``--help``.
        table: The name of the function of :mod:`mmseg_clipseg.datasets.label_tables` that
            gives the lookup table, e.g. ``'coco_object_table'``.
        target_suffix: The end of each written file's name, e.g. ``'_instanceTrainIds.png'``.
    """

    def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument('root', help='COCO-Stuff folder holding images/ and annotations/')
        parser.add_argument('--split', default='val2017', choices=['train2017', 'val2017'],
                            help='split to convert (default: val2017, the benchmark)')
        return parser.parse_args(argv)

    def convert(args: argparse.Namespace) -> None:
        from mmseg_clipseg.datasets import label_tables
        from mmseg_clipseg.datasets.conversion import convert_coco_labels
        convert_coco_labels(args.root, args.split, getattr(label_tables, table)(),
                            target_suffix)

    return Command(parse_args, convert)
