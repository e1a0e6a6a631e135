# ClearCLIP on Cityscapes, as its configs/cfg_city_scapes.py sets it; short side 448.
# The rest of the protocol is in _base_/clearclip.py.
# Names: ClearCLIP's configs/cls_city_scapes.txt, verbatim.
# Windows of 224 (slide_crop=224; the stride stays 224).
_base_ = [
    './_base_/clearclip.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_448}}))
model = dict(
    decode_head=dict(class_names='peers/clearclip/cityscapes'),
    test_cfg=dict(crop_size=(224, 224)),
)
