"""Derive the COCO-Object benchmark's label maps from COCO-Stuff-164k's.

    python tools/dataset_converters/coco_object.py data/coco_stuff164k

Same input as ``coco_stuff.py``: the COCO 2017 images in ``images/val2017`` and the
official ``stuffthingmaps_trainval2017.zip`` extracted into ``annotations``. Writes
``<image id>_instanceTrainIds.png`` next to each map: the 80 COCO thing classes become 1..80
in id order, every stuff class 0 (background), unlabeled pixels stay 255 (ignored).
"""
import sys

from mmseg_clipseg_cli.coco_labels import coco_labels_command

command = coco_labels_command(__doc__.split('\n\n')[0],
                              'coco_object_table', '_instanceTrainIds.png')
main = command.main

if __name__ == '__main__':
    sys.exit(command.run())
