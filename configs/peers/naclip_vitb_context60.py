# NACLIP on Context-60, as its configs/cfg_context60.py sets it; short side 336.
# The rest of the protocol is in _base_/naclip.py.
# Class 0 is a text class named by line 1 of cls_context60.txt ('background').
_base_ = [
    './_base_/naclip.py',
    '../_base_/datasets/context60.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_336}}))
model = dict(
    decode_head=dict(class_names='peers/sclip/context60', background='text', prob_thd=0.1),
)
