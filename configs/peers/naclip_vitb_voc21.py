# NACLIP on VOC21, as its configs/cfg_voc21.py sets it; short side 336.
# The rest of the protocol is in _base_/naclip.py.
# Class 0 is a text class named by line 1 of cls_voc21.txt (26 stuff names).
# Whole image (slide_crop=0): the pixels past the last full patch are dropped and
# the logits stretched over the image.
_base_ = [
    './_base_/naclip.py',
    '../_base_/datasets/voc21.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_336}}))
model = dict(
    decode_head=dict(class_names='peers/sclip/voc21', background='text', prob_thd=0.1),
    backbone=dict(partial_patches='drop'),
    test_cfg=dict(mode='whole'),
)
