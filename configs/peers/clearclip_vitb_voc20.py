# ClearCLIP on VOC20, as its configs/cfg_voc20.py sets it; short side 448.
# The rest of the protocol is in _base_/clearclip.py.
# Names: ClearCLIP's configs/cls_voc20.txt, verbatim.
# Unlike SCLIP's: class 15 is 'person' alone and class 20 'tvmonitor'.
_base_ = [
    './_base_/clearclip.py',
    '../_base_/datasets/voc20.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_448}}))
model = dict(decode_head=dict(class_names='peers/clearclip/voc20'))
