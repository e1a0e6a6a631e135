# ClearCLIP on COCO-Stuff-164k, as its configs/cfg_coco_stuff164k.py sets it; short side 448.
# The rest of the protocol is in _base_/clearclip.py.
# Names: ClearCLIP's configs/cls_coco_stuff.txt, verbatim.
_base_ = [
    './_base_/clearclip.py',
    '../_base_/datasets/coco_stuff.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_448}}))
model = dict(decode_head=dict(class_names='peers/clearclip/coco_stuff'))
