_base_ = [
    './_base_/models/clipseg_metaclip-vith.py',
    './_base_/datasets/coco_object.py',
    './_base_/default_runtime.py',
]
# bg_threshold = prob_thd of SCLIP's and NACLIP's configs/cfg_coco_object.py
model = dict(decode_head=dict(class_names='coco_object', bg_threshold=0.1))
