_base_ = [
    './_base_/models/clipseg_openclip-vith.py',
    './_base_/datasets/context459.py',
    './_base_/default_runtime.py',
]
model = dict(decode_head={{_base_.classification}})
