# ClearCLIP on VOC21, as its configs/cfg_voc21.py sets it; short side 448.
# The rest of the protocol is in _base_/clearclip.py.
# Names: ClearCLIP's configs/cls_voc21.txt, verbatim.
# Class 0 is a text class named by its line 1 ('background').
_base_ = [
    './_base_/clearclip.py',
    '../_base_/datasets/voc21.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_448}}))
model = dict(
    decode_head=dict(class_names='peers/clearclip/voc21', background='text', prob_thd=0.5),
)
