_base_ = [
    './_base_/models/clipseg_metaclip-vitb.py',
    './_base_/datasets/voc20.py',
    './_base_/default_runtime.py',
]
model = dict(decode_head={{_base_.classification}})
