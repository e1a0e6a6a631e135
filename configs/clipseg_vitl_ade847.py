_base_ = [
    './_base_/models/clipseg_vitl.py',
    './_base_/datasets/ade847.py',
    './_base_/default_runtime.py',
]
model = dict(decode_head={{_base_.classification}})
