# ClearCLIP on COCO-Object, as its configs/cfg_coco_object.py sets it; short side 448.
# The rest of the protocol is in _base_/clearclip.py.
# Names: ClearCLIP's configs/cls_coco_object.txt, verbatim.
# Class 0 is a text class named by its line 1 ('background'); class 1 is 'person'
# alone (SCLIP's file has 26 stuff names and person synonyms there).
_base_ = [
    './_base_/clearclip.py',
    '../_base_/datasets/coco_object.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_448}}))
model = dict(
    decode_head=dict(class_names='peers/clearclip/coco_object', background='text',
                     prob_thd=0.4),
)
