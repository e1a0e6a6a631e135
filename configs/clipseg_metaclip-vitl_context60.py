_base_ = [
    './_base_/models/clipseg_metaclip-vitl.py',
    './_base_/datasets/context60.py',
    './_base_/default_runtime.py',
]
# bg_threshold = prob_thd of SCLIP's and NACLIP's configs/cfg_context60.py
model = dict(decode_head=dict(class_names='context60', bg_threshold=0.1))
