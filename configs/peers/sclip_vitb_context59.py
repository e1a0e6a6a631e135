# SCLIP on Context-59, as its configs/cfg_context59.py sets it; short side 336.
# The rest of the protocol is in _base_/sclip.py.
_base_ = [
    './_base_/sclip.py',
    '../_base_/datasets/context59.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_336}}))
model = dict(decode_head=dict(class_names='peers/sclip/context59'))
