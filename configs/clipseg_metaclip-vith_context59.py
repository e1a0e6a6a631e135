_base_ = [
    './_base_/models/clipseg_metaclip-vith.py',
    './_base_/datasets/context59.py',
    './_base_/default_runtime.py',
]
model = dict(decode_head={{_base_.classification}})
