# ClearCLIP on Context-60, as its configs/cfg_context60.py sets it; short side 448.
# The rest of the protocol is in _base_/clearclip.py.
# Names: ClearCLIP's configs/cls_context60.txt, verbatim.
# Class 0 is a text class named by its line 1 ('background').
_base_ = [
    './_base_/clearclip.py',
    '../_base_/datasets/context60.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_448}}))
model = dict(
    decode_head=dict(class_names='peers/clearclip/context60', background='text',
                     prob_thd=0.15),
)
