# SCLIP on COCO-Object, as its configs/cfg_coco_object.py sets it; short side 336.
# The rest of the protocol is in _base_/sclip.py.
# Class 0 is a text class named by line 1 of cls_coco_object.txt (26 stuff names).
_base_ = [
    './_base_/sclip.py',
    '../_base_/datasets/coco_object.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_336}}))
model = dict(
    decode_head=dict(class_names='peers/sclip/coco_object', background='text', logit_scale=50.0,
                     prob_thd=0.1),
)
