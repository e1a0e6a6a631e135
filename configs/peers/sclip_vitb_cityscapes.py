# SCLIP on Cityscapes, as its configs/cfg_city_scapes.py sets it; short side 560.
# The rest of the protocol is in _base_/sclip.py.
_base_ = [
    './_base_/sclip.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_560}}))
model = dict(decode_head=dict(class_names='peers/sclip/cityscapes'))
