"""Derive the COCO-Object benchmark's label maps from COCO-Stuff-164k's.

    python tools/dataset_converters/coco_object.py data/coco_stuff164k

Same input as ``coco_stuff.py``: the COCO 2017 images in ``images/val2017`` and the
official ``stuffthingmaps_trainval2017.zip`` extracted into ``annotations``. Writes
``<image id>_instanceTrainIds.png`` next to each map: the 80 COCO thing classes become 1..80
in id order, every stuff class 0 (background), unlabeled pixels stay 255 (ignored).
"""
import sys

from mmseg_clipseg.cli import run_cli
from mmseg_clipseg.datasets.conversion import coco_label_converter
from mmseg_clipseg.datasets.label_tables import coco_object_table

main = coco_label_converter(__doc__, coco_object_table, '_instanceTrainIds.png')

if __name__ == '__main__':
    sys.exit(run_cli(main))
