"""Convert COCO-Stuff-164k label maps to the 171 train ids of the COCO-Stuff benchmark.

    python tools/dataset_converters/coco_stuff.py data/coco_stuff164k

Expects the COCO 2017 images in ``images/val2017`` and the official
``stuffthingmaps_trainval2017.zip`` extracted into ``annotations`` (``annotations/val2017/
<image id>.png``, COCO category id - 1 per pixel, 255 = unlabeled). Writes
``<image id>_labelTrainIds.png`` next to each map: the 80 things and 91 stuff classes become
0..170 in id order (mmseg's ``COCOStuffDataset`` classes), every other value 255.
"""
import sys

from mmseg_clipseg.cli import run_cli
from mmseg_clipseg.datasets.conversion import coco_label_converter
from mmseg_clipseg.datasets.label_tables import coco_stuff_table

main = coco_label_converter(__doc__, coco_stuff_table, '_labelTrainIds.png')

if __name__ == '__main__':
    sys.exit(run_cli(main))
