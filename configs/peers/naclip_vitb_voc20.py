# NACLIP on VOC20, as its configs/cfg_voc20.py sets it; short side 336.
# The rest of the protocol is in _base_/naclip.py.
# Whole image (slide_crop=0): the pixels past the last full patch are dropped and
# the logits stretched over the image.
_base_ = [
    './_base_/naclip.py',
    '../_base_/datasets/voc20.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_336}}))
model = dict(
    decode_head=dict(class_names='peers/sclip/voc20'),
    backbone=dict(partial_patches='drop'),
    test_cfg=dict(mode='whole'),
)
