# ClearCLIP on COCO-Object, as its configs/cfg_coco_object.py sets it; short side 448.
# The rest of the protocol is in _base_/clearclip.py.
# Names: SCLIP's cls_coco_object.txt (ClearCLIP's own is not in the index).
# Class 0 is a text class named 'background' (PEERS.md; ClearCLIP's
# cls_coco_object.txt is not in the index, so this is unverified).
_base_ = [
    './_base_/clearclip.py',
    '../_base_/datasets/coco_object.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_448}}))
model = dict(
    decode_head=dict(class_names='peers/sclip/coco_object', background='text',
                     background_names=['background'], prob_thd=0.4),
)
