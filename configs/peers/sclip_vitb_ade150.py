# SCLIP on ADE20K-150, as its configs/cfg_ade20k.py sets it; short side 336.
# The rest of the protocol is in _base_/sclip.py.
_base_ = [
    './_base_/sclip.py',
    '../_base_/datasets/ade150.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_336}}))
model = dict(decode_head=dict(class_names='peers/sclip/ade150'))
