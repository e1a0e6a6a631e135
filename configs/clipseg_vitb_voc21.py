_base_ = [
    './_base_/models/clipseg_vitb.py',
    './_base_/datasets/voc21.py',
    './_base_/default_runtime.py',
]
# bg_threshold = prob_thd of SCLIP's and NACLIP's configs/cfg_voc21.py
model = dict(decode_head=dict(class_names='voc21', bg_threshold=0.1))
