_base_ = [
    './_base_/models/clipseg_openclip-vitb.py',
    './_base_/datasets/ade150.py',
    './_base_/default_runtime.py',
]
model = dict(decode_head={{_base_.classification}})
