# SCLIP on VOC21, as its configs/cfg_voc21.py sets it; short side 336.
# The rest of the protocol is in _base_/sclip.py.
# Class 0 is a text class named by line 1 of cls_voc21.txt (26 stuff names);
# area_thd: a foreground class covering less than 10% of the predicted
# foreground is suppressed to background.
_base_ = [
    './_base_/sclip.py',
    '../_base_/datasets/voc21.py',
    '../_base_/default_runtime.py',
]
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_336}}))
model = dict(
    decode_head=dict(class_names='peers/sclip/voc21', background='text', logit_scale=65.0,
                     prob_thd=0.1, area_thd=0.1),
)
