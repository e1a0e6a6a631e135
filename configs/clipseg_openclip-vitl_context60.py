_base_ = [
    './_base_/models/clipseg_openclip-vitl.py',
    './_base_/datasets/context60.py',
    './_base_/default_runtime.py',
]
model = dict(decode_head={{_base_.classification}})
