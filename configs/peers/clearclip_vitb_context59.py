# ClearCLIP on Context-59, as its configs/cfg_context59.py sets it; short side 448.
# The rest of the protocol is in _base_/clearclip.py.
# Names: ClearCLIP's configs/cls_context59.txt, verbatim.
_base_ = [
    './_base_/clearclip.py',
    '../_base_/datasets/context59.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_448}}))
model = dict(decode_head=dict(class_names='peers/clearclip/context59'))
