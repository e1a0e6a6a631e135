# ClearCLIP on ADE20K-150, as its configs/cfg_ade20k.py sets it; short side 448.
# The rest of the protocol is in _base_/clearclip.py.
# Names: ClearCLIP's configs/cls_ade20k.txt, verbatim.
_base_ = [
    './_base_/clearclip.py',
    '../_base_/datasets/ade150.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_448}}))
model = dict(decode_head=dict(class_names='peers/clearclip/ade150'))
