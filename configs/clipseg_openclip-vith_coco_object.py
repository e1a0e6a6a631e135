_base_ = [
    './_base_/models/clipseg_openclip-vith.py',
    './_base_/datasets/coco_object.py',
    './_base_/default_runtime.py',
]
model = dict(decode_head={{_base_.classification}})
