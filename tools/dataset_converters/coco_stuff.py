"""Convert COCO-Stuff-164k label maps to the 171 train ids of the COCO-Stuff benchmark.

    python tools/dataset_converters/coco_stuff.py data/coco_stuff164k

Expects the COCO 2017 images in ``images/val2017`` and the official
``stuffthingmaps_trainval2017.zip`` extracted into ``annotations`` (``annotations/val2017/
<image id>.png``, COCO category id - 1 per pixel, 255 = unlabeled). Writes
``<image id>_labelTrainIds.png`` next to each map: the 80 things and 91 stuff classes become
0..170 in id order (mmseg's ``COCOStuffDataset`` classes), every other value 255.
"""
import sys

from mmseg_clipseg_cli.coco_labels import coco_labels_command

command = coco_labels_command(__doc__.split('\n\n')[0],
                              'coco_stuff_table', '_labelTrainIds.png')
main = command.main

if __name__ == '__main__':
    sys.exit(command.run())
