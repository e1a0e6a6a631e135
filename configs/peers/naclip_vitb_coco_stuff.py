# NACLIP on COCO-Stuff-164k, as its configs/cfg_coco_stuff164k.py sets it; short side 336.
# The rest of the protocol is in _base_/naclip.py.
# (Its short side was 448 before NACLIP's commit defb7c9, as SCLIP's still is.)
_base_ = [
    './_base_/naclip.py',
    '../_base_/datasets/coco_stuff.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_336}}))
model = dict(decode_head=dict(class_names='peers/sclip/coco_stuff'))
