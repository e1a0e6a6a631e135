# SCLIP (Wang et al., ECCV 2024) under its own protocol, as its code sets it
# (github.com/wangf3014/SCLIP: clip_segmentor.py at d84d4ab, configs/ at 57fa9aa; PEERS.md).
# The segmentor's defaults, which every dataset keeps unless its configs/cfg_<dataset>.py
# says otherwise: logit_scale=40, prob_thd=0.0, area_thd=None, pamr_steps=0 (PAMR off),
# slide_crop=224, slide_stride=112. The names files are SCLIP's configs/cls_<dataset>.txt,
# verbatim in mmseg_clipseg/class_names/peers/sclip/ under this project's benchmark keys
# (cls_city_scapes -> cityscapes, cls_ade20k -> ade150, cls_coco_stuff -> coco_stuff).
# SCLIP's final block: q-q plus k-k attention (dense_mode='sclip'). Its ViT resizes the
# positional embeddings with a scale factor of (n + 0.1) / grid whenever the token count
# differs from 14x14 (pos_interpolation='naclip'); its 224x224 windows never need it.
# Swap `model.clip` to run SCLIP's protocol on another CLIP.
_base_ = ['../../_base_/models/clipseg_vitb.py', './pipelines.py']
model = dict(
    backbone=dict(dense_mode='sclip', pos_interpolation='naclip'),
    decode_head=dict(templates='openai_imagenet', logit_scale=40.0, background=None,
                     prob_thd=0.0, area_thd=None),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112), pamr=None),
)
